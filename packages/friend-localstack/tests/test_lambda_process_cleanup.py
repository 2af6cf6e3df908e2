"""No function process outlives the LocalStack that started it, not even when it is SIGKILLed.

LocalStack cannot be killed in the middle of the shared test session, so a small stand-in plays
its part: it serves the executor's Runtime API (the real module, loaded from the extension's
sources) to the real bootstraps, exactly as the executor starts them, and gets SIGKILLed once a
handler has started a child process. Both the function process and its child must be gone
soon after, whether the handler was idle or stuck in synchronous code.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .lambda_support import FIXTURES, process_alive, wait_until_gone

pytestmark = pytest.mark.emulator

EXECUTOR = (
    Path(__file__).parents[1] / "extension" / "src" / "friend_localstack_ext" / "lambda_executor"
)

STAND_IN = """
import importlib.util, os, subprocess, sys, time

spec = importlib.util.spec_from_file_location("runtime_api", sys.argv[1] + "/runtime_api.py")
runtime_api = importlib.util.module_from_spec(spec)
sys.modules["runtime_api"] = runtime_api
spec.loader.exec_module(runtime_api)
language, task_root, event = sys.argv[2], sys.argv[3], sys.argv[4]


class Listener:
    def on_ready(self): pass
    def on_invocation_started(self, invocation): pass
    def on_result(self, request_id, body, is_error): pass
    def on_init_error(self, body): print("init error", body, flush=True)


server = runtime_api.RuntimeApiServer(Listener())
server.start()
bootstrap = sys.argv[1] + "/bootstrap/"
if language == "python":
    command = [sys.executable, "-S", "-u", bootstrap + "python_bootstrap.py"]
else:
    command = ["node", bootstrap + "node_bootstrap.cjs"]
subprocess.Popen(
    command,
    cwd=task_root,
    start_new_session=True,
    env={
        "PATH": os.environ["PATH"],
        "AWS_LAMBDA_RUNTIME_API": server.address,
        "_HANDLER": "handler.handler" if language == "python" else "index.handler",
        "LAMBDA_TASK_ROOT": task_root,
        "PYTHONPATH": task_root,
        "_FRIEND_LAMBDA_PARENT_PID": str(os.getpid()),
        "_FRIEND_LAMBDA_LOG_MARKER": "|",
    },
)
server.submit(
    runtime_api.PendingInvocation(
        "request-1", event.encode(), "arn:aws:lambda:us-east-1:000000000000:function:spawn", ""
    )
)
time.sleep(600)
"""


@pytest.mark.parametrize("busy", [False, True], ids=["idle", "busy"])
@pytest.mark.parametrize("language", ["python", "node"])
def test_function_and_its_children_die_with_localstack(
    tmp_path: Path, language: str, busy: bool
) -> None:
    pid_file = tmp_path / "pids.json"
    event = json.dumps({"pid_file": str(pid_file), "busy": busy})
    stand_in = subprocess.Popen(
        [sys.executable, "-c", STAND_IN, str(EXECUTOR), language, str(FIXTURES / "spawn"), event]
    )
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the handler never ran"
            assert stand_in.poll() is None
            time.sleep(0.05)
        recorded = json.loads(pid_file.read_text())
        pids = [recorded["function"], recorded["child"]]
        time.sleep(0.3)  # a busy handler is now inside its endless loop
        assert all(process_alive(pid) for pid in pids)

        stand_in.send_signal(signal.SIGKILL)
        stand_in.wait()

        assert wait_until_gone(pids, timeout=5) == []
    finally:
        stand_in.kill()
        stand_in.wait()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
