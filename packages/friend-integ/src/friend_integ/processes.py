"""Process-tree control for the emulators this package starts, and nothing else.

An emulator runs in a session of its own and starts Lambda runtimes, some of which lead process
groups of their own. Stopping it must end all of those and never an unrelated process that
reused a pid, so every descendant is identified by pid *and* start time before it is signalled.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path


def ps(*args: str) -> list[str]:
    """Non-empty output lines of ``ps`` with ``args``."""
    result = subprocess.run(  # noqa: S603 - fixed argument list, no shell
        ["ps", *args],  # noqa: S607 - ps from PATH, as on every POSIX system
        capture_output=True,
        text=True,
        check=False,
    )
    return [line for line in result.stdout.splitlines() if line.strip()]


def command_line(pid: int) -> str:
    """The full command line of ``pid`` ('' when it is gone); -ww: ps cuts at 80 columns."""
    return " ".join(ps("-ww", "-o", "command=", "-p", str(pid)))


def descendants(root: int) -> dict[int, str]:
    """Live descendants of ``root`` with their start times (``ps``'s ``lstart``)."""
    children: dict[int, list[int]] = {}
    started: dict[int, str] = {}
    for line in ps("-A", "-o", "pid=,ppid=,lstart="):
        pid, ppid, start = line.split(maxsplit=2)
        children.setdefault(int(ppid), []).append(int(pid))
        started[int(pid)] = start
    found: dict[int, str] = {}
    pending = [root]
    while pending:
        for child in children.get(pending.pop(), []):
            found[child] = started[child]
            pending.append(child)
    return found


def start_time(pid: int) -> str | None:
    lines = ps("-o", "lstart=", "-p", str(pid))
    return lines[0].strip() if lines else None


def resident_bytes(pids: list[int]) -> int:
    """Summed resident memory of ``pids`` (those still alive)."""
    if not pids:
        return 0
    lines = ps("-o", "rss=", "-p", ",".join(map(str, pids)))
    return sum(int(line.strip() or 0) for line in lines) * 1024


def stop_tree(leader: int, is_alive: Callable[[], bool], grace_seconds: float) -> None:
    """End ``leader`` (a session leader) and every process that descends from it.

    SIGTERM to the leader first (its shutdown hooks stop what it started), then SIGKILL to its
    process group and to each descendant still alive after it exited or after the grace period.
    Descendants that lead groups of their own are killed as groups, so their children go too.
    """
    family = descendants(leader)
    with contextlib.suppress(ProcessLookupError):
        os.kill(leader, signal.SIGTERM)
    if not _wait(is_alive, grace_seconds):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(leader, signal.SIGKILL)
        _wait(is_alive, grace_seconds)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, signal.SIGKILL)
    for pid, started in family.items():
        if start_time(pid) != started:
            continue  # already gone, or the pid now belongs to someone else
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def group_alive(pgid: int) -> bool:
    """Whether any live (not zombie) process is left in the process group `pgid`."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command name: state, ppid, pgrp.
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def stop_group(process: subprocess.Popen[str], grace_seconds: float) -> None:
    """Stop the process group that `process` leads: it, its workers and their children.

    SIGINT first (what Ctrl-C would have sent), then SIGTERM, then SIGKILL, each until the group
    is empty or a grace period ends; a child that ignores one signal gets the next.
    """
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace_seconds
        while time.monotonic() < deadline:
            process.poll()
            if not group_alive(process.pid):
                break
            time.sleep(0.1)
        if not group_alive(process.pid):
            break
    process.wait()


def _wait(is_alive: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while is_alive():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Serialise work on one folder across processes (two test sessions may share it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
