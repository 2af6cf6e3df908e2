"""The function process: a bootstrap of ours in a process group of its own, its output captured.

A function may start processes of its own; AWS ends them all when it resets a sandbox. So the
process leads a new session, and killing it kills its whole group (on a timeout, when the
execution environment stops, at LocalStack's exit). Its stdout and stderr go into one pipe, read
by an :class:`OutputCapture`; the marker the bootstrap writes after each invocation carries a
random token, handed to the bootstrap only, never to the function. The parent's pid lets the
bootstrap's watchdog end the group should LocalStack die without cleaning up.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import secrets
import signal
import subprocess
import threading
import weakref
from collections.abc import Callable
from pathlib import Path

from .output import OutputCapture

_LIVE: weakref.WeakSet[FunctionProcess] = weakref.WeakSet()
"""The started function processes still referenced: a running one always is (by its executor
until it is killed, by the thread that waits for its exit)."""


def _kill_all_live() -> None:
    """Safety net at interpreter exit: no function process outlives LocalStack."""
    for process in list(_LIVE):
        process.kill()


atexit.register(_kill_all_live)


class FunctionProcess:
    """One started function process; its output stays readable after it is gone."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        """Start ``command`` with ``env`` in the function's task root (``LAMBDA_TASK_ROOT``)."""
        token = f"\x1f{secrets.token_hex(8)}\x1f"
        read_fd, write_fd = os.pipe()
        bootstrap_env = {
            **env,
            "_FRIEND_LAMBDA_LOG_MARKER": token,
            "_FRIEND_LAMBDA_PARENT_PID": str(os.getpid()),
        }
        try:
            self._popen = subprocess.Popen(  # noqa: S603
                command,
                stdin=subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                env=bootstrap_env,
                cwd=env["LAMBDA_TASK_ROOT"],
                start_new_session=True,
            )
        finally:
            os.close(write_fd)
        self.output = OutputCapture(read_fd, token)
        _LIVE.add(self)

    def watch(self, on_exit: Callable[[FunctionProcess, str], None], name: str) -> None:
        """Call ``on_exit`` with the exit status (:func:`exit_status`) once the process ends.

        The waiting thread is a daemon: Python joins its other threads before it runs its exit
        handlers, so a watcher that was not one would keep LocalStack from exiting while the
        process runs, and from killing it at exit.
        """

        def wait() -> None:
            on_exit(self, exit_status(self._popen.wait()))

        threading.Thread(target=wait, name=name, daemon=True).start()

    def kill(self) -> None:
        """Kill the process and everything it started (its process group), and reap it."""
        if self._popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._popen.pid, signal.SIGKILL)
            self._popen.wait()

    def max_memory_mb(self) -> int:
        """The process's peak resident memory (``VmHWM``) in MB, as REPORT's Max Memory Used.

        0 when the kernel no longer knows the process.
        """
        try:
            status = Path(f"/proc/{self._popen.pid}/status").read_text()
        except OSError:
            return 0
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return math.ceil(int(line.split()[1]) / 1024)
        return 0


def exit_status(returncode: int) -> str:
    """The exit as Lambda words it in ``Runtime exited with error: ...`` (Go's wording)."""
    if returncode < 0:
        return f"signal: {signal.Signals(-returncode).name.removeprefix('SIG').lower()}"
    return f"exit status {returncode}"
