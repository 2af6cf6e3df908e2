"""Process-tree control and the install lock: what stopping an emulator or integ-runner ends,
what it leaves alone, and concurrent installs into one state folder."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import psutil
import pytest
from friend_integ import processes
from friend_integ.emulators.base import Emulator

SLEEPER = [sys.executable, "-c", "import time; time.sleep(300)"]
OWN_SESSION_SLEEPER = [
    sys.executable,
    "-c",
    "import os, time; os.setsid(); time.sleep(300)",
]


def _wait_for_pids(path: Path, count: int) -> list[int]:
    while not path.exists() or len(path.read_text().split()) < count:
        time.sleep(0.05)
    return [int(pid) for pid in path.read_text().split()]


def _gone(pid: int, timeout: float = 5.0) -> bool:
    """Whether ``pid`` ends (or is a zombie) within ``timeout``: a signal lands a moment later."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """A process that no tree being stopped descends from."""
    process = subprocess.Popen(SLEEPER)
    yield process
    process.kill()
    process.wait()


def test_stop_tree_ends_the_leader_and_every_descendant_and_nothing_else(
    tmp_path: Path, bystander: subprocess.Popen[bytes]
) -> None:
    pids = tmp_path / "pids"
    # One child in the leader's group, one in a session of its own (as a Lambda runtime that
    # leads its own group), both left behind when the leader exits on SIGTERM.
    script = (
        f"{' '.join(SLEEPER[:2])} '{SLEEPER[2]}' & echo $! >> {pids}; "
        f"{' '.join(OWN_SESSION_SLEEPER[:2])} '{OWN_SESSION_SLEEPER[2]}' & echo $! >> {pids}; wait"
    )
    leader = subprocess.Popen(["sh", "-c", script], start_new_session=True)
    children = _wait_for_pids(pids, 2)

    processes.stop_tree(leader.pid, lambda: leader.poll() is None, grace_seconds=1.0)

    assert leader.poll() is not None
    assert all(_gone(pid, timeout=0) for pid in children), "stopped means gone, not signalled"
    assert bystander.poll() is None


def test_interrupted_integ_runner_is_stopped_with_its_children(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    process = subprocess.Popen(
        # A background job of a non-interactive shell ignores SIGINT, as a stubborn child of
        # integ-runner might: it must still go.
        ["sh", "-c", f"sleep 300 & echo $! > {pids}; wait"],
        start_new_session=True,
        text=True,
    )
    (child,) = _wait_for_pids(pids, 1)

    processes.stop_group(process, grace_seconds=1.0)

    assert process.poll() is not None
    assert not processes.group_alive(process.pid)
    assert _gone(child)


def test_command_line_of_a_live_process_and_of_none() -> None:
    process = subprocess.Popen(SLEEPER)
    try:
        # A process that is still being exec'ed shows an empty command line for a moment.
        deadline = time.monotonic() + 5
        while not processes.command_line(process.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert processes.command_line(process.pid) == " ".join(SLEEPER)
    finally:
        process.kill()
        process.wait()
    assert processes.command_line(process.pid) == ""


def test_resident_memory_counts_the_whole_tree(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    leader = subprocess.Popen(
        ["sh", "-c", f"{' '.join(SLEEPER[:2])} '{SLEEPER[2]}' & echo $! > {pids}; wait"],
        start_new_session=True,
    )
    try:
        (child,) = _wait_for_pids(pids, 1)
        each = [psutil.Process(pid).memory_info().rss for pid in (leader.pid, child)]
        assert processes.tree_resident_bytes(leader.pid) >= sum(each)
    finally:
        processes.stop_tree(leader.pid, lambda: leader.poll() is None, grace_seconds=1.0)
    assert processes.tree_resident_bytes(leader.pid) == 0


class _CountingEmulator(Emulator):
    """Installs by counting, slowly: two overlapping installs would both count."""

    key = "counting"
    title = "Counting"
    installs = 0

    def _install_inputs(self) -> Sequence[Path]:
        return []

    def _install_recipe(self) -> str:
        return "count"

    def _install(self) -> None:
        type(self).installs += 1
        time.sleep(0.3)
        self.venv_dir.mkdir(parents=True, exist_ok=True)

    def _settings(self) -> dict[str, str]:
        return {}

    def _command(self) -> list[str]:
        return []

    @property
    def _command_marker(self) -> str:
        return "counting"


def test_concurrent_installs_into_one_state_folder_build_it_once(tmp_path: Path) -> None:
    installers = [_CountingEmulator(port=port, state_dir=tmp_path) for port in (4601, 4602, 4603)]
    threads = [threading.Thread(target=installer.install) for installer in installers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert _CountingEmulator.installs == 1
    key = installers[0]._install_key()
    assert all(installer._installed_key() == key for installer in installers)
