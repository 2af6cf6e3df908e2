"""Each embedded emulator's lifecycle: loopback only, refuses a taken port, stops only its own."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import psutil
import pytest
from friend_integ.emulators import EMULATORS, Emulator, PortInUseError, create, health
from friend_integ.test_support.emulators import client_factory, free_port

pytestmark = pytest.mark.emulator

_TCP_LISTEN = "0A"


def _listening_addresses(pid: int, port: int) -> set[str]:
    """Local addresses of ``pid``'s listening TCP sockets on ``port``, read from /proc.

    Goes through the process's own socket inodes, so an unrelated listener cannot be mistaken
    for the emulator's.
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
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _pid(emulator: Emulator) -> int:
    pid: int = json.loads(emulator.pid_file.read_text())["pid"]
    return pid


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc")
def test_gateway_listens_on_loopback_only(emulator: Emulator) -> None:
    # 0100007F is 127.0.0.1 in /proc's little-endian hex; 0.0.0.0 would be 00000000.
    assert _listening_addresses(_pid(emulator), emulator.port) == {"0100007F"}


def test_health_answers_for_the_emulator_and_none_elsewhere(emulator: Emulator) -> None:
    answer = health(emulator.endpoint)
    assert answer is not None
    assert answer["services"]["sqs"] in {"available", "running"}
    assert health(f"http://127.0.0.1:{free_port()}", timeout=0.5) is None
    assert emulator.version()


def test_start_again_reuses_the_running_process(emulator: Emulator) -> None:
    pid = _pid(emulator)
    again = create(emulator.key, port=emulator.port, state_dir=emulator.state_dir)
    again.start(timeout=5)
    assert _pid(emulator) == pid
    assert again.is_running()


def test_refuses_a_port_where_another_emulator_answers(emulator: Emulator, tmp_path: Path) -> None:
    for key in EMULATORS:
        other = create(key, port=emulator.port, state_dir=tmp_path / key)
        with pytest.raises(PortInUseError, match="already answers"):
            other.start(timeout=5)
        assert not (tmp_path / key / "venv").exists()


@pytest.mark.parametrize("key", sorted(EMULATORS))
def test_refuses_a_port_taken_by_something_else(key: str, tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port {port} .* in use"):
            create(key, port=port, state_dir=tmp_path).start(timeout=5)


@pytest.mark.parametrize("key", sorted(EMULATORS))
def test_stop_ignores_a_pid_file_that_is_not_ours(key: str, tmp_path: Path) -> None:
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        emulator = create(key, port=free_port(), state_dir=tmp_path)
        emulator.pid_file.parent.mkdir(parents=True, exist_ok=True)
        emulator.pid_file.write_text(json.dumps({"pid": bystander.pid}))
        assert not emulator.is_running()
        emulator.stop()
        assert bystander.poll() is None
        assert not emulator.pid_file.exists()
    finally:
        bystander.send_signal(signal.SIGKILL)
        bystander.wait()


_DETACHING_HANDLER = """
import subprocess


def handler(event, context):
    # A process in a session of its own: no signal to the function's process group reaches it.
    stray = subprocess.Popen(["sleep", "600"], start_new_session=True)
    return {"pid": stray.pid}
"""


def _start_stray_process(emulator: Emulator) -> int:
    """Have a Lambda function on ``emulator`` leave a detached process behind; its pid."""
    lambda_ = client_factory(emulator.endpoint)("lambda")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("detach.py", _DETACHING_HANDLER)
    lambda_.create_function(
        FunctionName="detach",
        Runtime="python3.13",
        Handler="detach.handler",
        Role="arn:aws:iam::000000000000:role/detach",
        Code={"ZipFile": archive.getvalue()},
    )
    lambda_.get_waiter("function_active_v2").wait(FunctionName="detach")
    answer = json.loads(lambda_.invoke(FunctionName="detach")["Payload"].read())
    pid: int = answer["pid"]
    return pid


_READY_IN_LOG = {"localstack": "Ready.", "ministack": "Ready"}


def test_second_instance_starts_and_stops_without_touching_the_first(emulator: Emulator) -> None:
    second = create(emulator.key, port=free_port())
    second.start(timeout=60)
    try:
        pid = _pid(second)
        assert health(second.endpoint) is not None
        if second.key == "localstack":
            # Its own HOME: the plugin index LocalStack caches lands in the state folder.
            assert list((second.run_dir / "home" / ".cache" / "plux").glob("*.entry_points.txt"))
        stray = _start_stray_process(second)
        assert _alive(stray)
        assert second.memory_rss_bytes() > 0
    finally:
        # As the CLI does: a new object that knows the process only from the pid file.
        create(second.key, port=second.port, state_dir=second.state_dir).stop()
    assert not second.is_running()
    assert not second.pid_file.exists()
    assert not second.run_dir.exists()
    assert not _alive(pid)
    assert not _alive(stray)
    assert health(second.endpoint, timeout=0.5) is None
    assert _READY_IN_LOG[second.key] in second.log_file.read_text()
    second.stop()  # idempotent
    assert health(emulator.endpoint) is not None
