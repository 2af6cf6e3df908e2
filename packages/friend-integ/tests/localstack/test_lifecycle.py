"""The embedded LocalStack's lifecycle: loopback only, refuses a taken port, stops only its own."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from friend_integ.localstack import EmbeddedLocalStack, PortInUseError, health

from ..conftest import free_port, state_dir_for_tests

_TCP_LISTEN = "0A"


def _listening_addresses(pid: int, port: int) -> set[str]:
    """Local addresses of ``pid``'s listening TCP sockets on ``port``, read from /proc.

    Goes through the process's own socket inodes, so an unrelated listener cannot be mistaken
    for LocalStack's.
    """
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if fields[3] == _TCP_LISTEN and int(port_hex, 16) == port and fields[9] in inodes:
                found.add(address)
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to collect the exit status is not)."""
    state = subprocess.run(
        ["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True, check=False
    ).stdout.strip()
    return bool(state) and not state.startswith("Z")


def _pid(localstack: EmbeddedLocalStack) -> int:
    pid: int = json.loads(localstack.pid_file.read_text())["pid"]
    return pid


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc")
def test_gateway_listens_on_loopback_only(localstack: EmbeddedLocalStack) -> None:
    # 0100007F is 127.0.0.1 in /proc's little-endian hex; 0.0.0.0 would be 00000000.
    assert _listening_addresses(_pid(localstack), localstack.port) == {"0100007F"}


def test_health_answers_for_localstack_and_none_elsewhere(localstack: EmbeddedLocalStack) -> None:
    answer = health(localstack.endpoint)
    assert answer is not None
    assert answer["services"]["sqs"] in {"available", "running"}
    assert health(f"http://127.0.0.1:{free_port()}", timeout=0.5) is None


def test_start_again_reuses_the_running_process(localstack: EmbeddedLocalStack) -> None:
    pid = _pid(localstack)
    again = EmbeddedLocalStack(port=localstack.port, state_dir=localstack.state_dir)
    again.start(timeout=5)
    assert _pid(localstack) == pid
    assert again.is_running()


def test_refuses_a_port_where_another_localstack_answers(
    localstack: EmbeddedLocalStack, tmp_path: Path
) -> None:
    other = EmbeddedLocalStack(port=localstack.port, state_dir=tmp_path)
    with pytest.raises(PortInUseError, match="already answers"):
        other.start(timeout=5)
    assert not (tmp_path / "venv").exists()


def test_refuses_a_port_taken_by_something_else(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port {port} .* in use"):
            EmbeddedLocalStack(port=port, state_dir=tmp_path).start(timeout=5)


def test_stop_ignores_a_pid_file_that_is_not_ours(tmp_path: Path) -> None:
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        localstack = EmbeddedLocalStack(port=free_port(), state_dir=tmp_path)
        localstack.pid_file.parent.mkdir(parents=True, exist_ok=True)
        localstack.pid_file.write_text(json.dumps({"pid": bystander.pid}))
        assert not localstack.is_running()
        localstack.stop()
        assert bystander.poll() is None
        assert not localstack.pid_file.exists()
    finally:
        bystander.send_signal(signal.SIGKILL)
        bystander.wait()


def test_second_instance_starts_and_stops_without_touching_the_first(
    localstack: EmbeddedLocalStack,
) -> None:
    second = EmbeddedLocalStack(port=free_port(), state_dir=state_dir_for_tests())
    second.start(timeout=60)
    try:
        pid = _pid(second)
        assert health(second.endpoint) is not None
        assert second.memory_rss_bytes() > 0
        # Its own HOME: the plugin index LocalStack caches lands in the state folder.
        assert list((second.run_dir / "home" / ".cache" / "plux").glob("*.entry_points.txt"))
    finally:
        # As the CLI does: a new object that knows the process only from the pid file.
        EmbeddedLocalStack(port=second.port, state_dir=second.state_dir).stop()
    assert not second.is_running()
    assert not second.pid_file.exists()
    assert not second.run_dir.exists()
    assert not _alive(pid)
    assert health(second.endpoint, timeout=0.5) is None
    assert "Ready." in second.log_file.read_text()
    second.stop()  # idempotent
    assert health(localstack.endpoint) is not None
