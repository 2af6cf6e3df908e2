"""Process-tree control for the processes this package starts, and nothing else.

An emulator runs in a session of its own and starts Lambda runtimes, some of which lead process
groups of their own; integ-runner runs as a process group with workers. Stopping either must
end all of those and never an unrelated process that reused a pid: psutil's ``Process`` is a
pid *and* its start time, and refuses to signal a pid that now belongs to another process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable

import psutil


def command_line(pid: int) -> str:
    """The full command line of ``pid`` ('' when it is gone or not ours to read)."""
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return ""


def _tree(root: int) -> list[psutil.Process]:
    """``root`` and its live descendants (empty when ``root`` is gone)."""
    try:
        process = psutil.Process(root)
        return [process, *process.children(recursive=True)]
    except psutil.Error:
        return []


def tree_resident_bytes(root: int) -> int:
    """Summed resident memory of ``root`` and its descendants (0 when it is gone)."""
    total = 0
    for process in _tree(root):
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return total


def stop_tree(leader: int, is_alive: Callable[[], bool], grace_seconds: float) -> None:
    """End ``leader`` (a session leader) and every process that descends from it.

    SIGTERM to the leader first (its shutdown hooks stop what it started), then SIGKILL to its
    process group and to each descendant still alive after it exited or after the grace period.
    Descendants that lead groups of their own are killed as groups, so their children go too.
    Returns once they are gone (a SIGKILL lands a moment after it is sent, later on a busy
    machine), or after another grace period.
    """
    family = _tree(leader)[1:]
    with contextlib.suppress(ProcessLookupError):
        os.kill(leader, signal.SIGTERM)
    if not _wait(is_alive, grace_seconds):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(leader, signal.SIGKILL)
        _wait(is_alive, grace_seconds)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, signal.SIGKILL)
    for process in family:
        # is_running compares the start time too: False once the pid is someone else's.
        with contextlib.suppress(psutil.Error, ProcessLookupError, PermissionError):
            if process.is_running() and os.getpgid(process.pid) == process.pid:
                os.killpg(process.pid, signal.SIGKILL)
            process.kill()
    _wait(lambda: any(_alive(process) for process in family), grace_seconds)


def _alive(process: psutil.Process) -> bool:
    """Running: not gone, not someone else's by now, not a zombie waiting to be collected."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def group_alive(pgid: int) -> bool:
    """Whether any live (not zombie) process is left in the process group ``pgid``."""
    for process in psutil.process_iter(["status"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if process.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(process.pid) == pgid:
                return True
    return False


def stop_group(process: subprocess.Popen[str], grace_seconds: float) -> None:
    """Stop the process group that ``process`` leads: it, its workers and their children.

    SIGINT first (what Ctrl-C would have sent), then SIGTERM, then SIGKILL, each until the group
    is empty or a grace period ends; a child that ignores one signal gets the next.
    """
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        if _wait(lambda: process.poll() is None or group_alive(process.pid), grace_seconds):
            break
    process.wait()


def _wait(is_alive: Callable[[], bool], timeout: float) -> bool:
    """Whether ``is_alive()`` turned false within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while is_alive():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
