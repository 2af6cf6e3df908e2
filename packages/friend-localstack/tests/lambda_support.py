"""Helpers shared by the Lambda tests: fixture functions zipped from disk, created and invoked."""

from __future__ import annotations

import base64
import io
import json
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

FIXTURES = Path(__file__).parent / "fixtures" / "lambda"
ROLE = "arn:aws:iam::000000000000:role/lambda-test"
# Function creation installs the runtime SDKs once per LocalStack environment (npm: ~20 s).
ACTIVE_TIMEOUT_SECONDS = 180.0


def zipped(fixture: str) -> bytes:
    """The fixture folder as a deployment package (files at the root, as Lambda expects)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((FIXTURES / fixture).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(FIXTURES / fixture).as_posix())
    return buffer.getvalue()


class Invocation:
    """A synchronous invoke's outcome: the decoded payload, the function error and the log tail."""

    def __init__(self, response: dict[str, Any], seconds: float) -> None:
        self.payload: Any = json.loads(response["Payload"].read() or b"null")
        self.function_error: str | None = response.get("FunctionError")
        self.log_tail = base64.b64decode(response.get("LogResult", "")).decode()
        self.seconds = seconds


class Functions:
    """Creates fixture functions on LocalStack, waits until active, deletes them at the end."""

    def __init__(self, lambda_client: Any) -> None:
        self.client = lambda_client
        self.created: list[str] = []

    def create(
        self,
        fixture: str,
        runtime: str,
        handler: str,
        *,
        timeout: int = 30,
        environment: dict[str, str] | None = None,
        wait: bool = True,
    ) -> str:
        name = f"{fixture.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
        self.client.create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=ROLE,
            Handler=handler,
            Code={"ZipFile": zipped(fixture)},
            Timeout=timeout,
            Environment={"Variables": environment or {}},
        )
        self.created.append(name)
        if wait:
            state = self.wait_settled(name)
            assert state["State"] == "Active", state
        return name

    def wait_settled(self, name: str) -> dict[str, Any]:
        """The configuration once the function left the Pending state."""
        deadline = time.monotonic() + ACTIVE_TIMEOUT_SECONDS
        while True:
            configuration: dict[str, Any] = self.client.get_function_configuration(
                FunctionName=name
            )
            if configuration["State"] != "Pending" or time.monotonic() > deadline:
                return configuration
            time.sleep(0.1)

    def invoke(self, name: str, event: dict[str, Any] | None = None) -> Invocation:
        started = time.perf_counter()
        response = self.client.invoke(
            FunctionName=name, Payload=json.dumps(event or {}).encode(), LogType="Tail"
        )
        return Invocation(response, time.perf_counter() - started)

    def delete_all(self) -> None:
        for name in self.created:
            try:
                self.client.delete_function(FunctionName=name)
            except ClientError:
                # LocalStack cannot delete a function whose creation failed (no version
                # manager was kept for it); anything else is a real error.
                state = self.client.get_function_configuration(FunctionName=name)["State"]
                if state != "Failed":
                    raise
        self.created.clear()


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def wait_until_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    """The pids still alive after ``timeout``."""
    deadline = time.monotonic() + timeout
    while (alive := [pid for pid in pids if process_alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def receive_all(sqs: Any, queue_url: str, count: int, timeout: float) -> list[dict[str, Any]]:
    """Messages (deleted once read) until ``count`` arrived or ``timeout`` passed."""
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        page = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in page.get("Messages", []):
            received.append(message)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return received
