"""What the Lambda service, not the function, says about an invocation, worded as AWS words it.

On AWS the runtime frames a function's output in CloudWatch Logs with START, END and REPORT
lines, and reports the two ways a sandbox ends an invocation on the function's behalf: a timeout
(``Sandbox.Timedout``) and a runtime that exited (``Runtime.ExitError``), each with a line in the
logs and an error as the invocation's result. LocalStack forwards the logs to CloudWatch Logs
and the error to the caller, so tools and tests that read them see what they would see on AWS.
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from localstack.services.lambda_.invocation.lambda_models import FunctionVersion


@dataclasses.dataclass(frozen=True)
class SandboxError:
    """An invocation ended by the sandbox: the error it returns and what it adds to the logs."""

    body: bytes
    log_lines: str


def timed_out(request_id: str, timeout: int) -> SandboxError:
    """The invocation ran out of its function's timeout (in seconds)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return SandboxError(
        body=json.dumps(
            {
                "errorType": "Sandbox.Timedout",
                "errorMessage": (
                    f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
                ),
            }
        ).encode(),
        log_lines=f"{stamp} {request_id} Task timed out after {timeout:.2f} seconds\n",
    )


def runtime_exited(request_id: str, status: str) -> SandboxError:
    """The function process ended during the invocation (``status`` as ``exit_status`` words it)."""
    message = f"RequestId: {request_id} Error: Runtime exited with error: {status}"
    return SandboxError(
        body=json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message}).encode(),
        log_lines=f"{message}\nRuntime.ExitError\n",
    )


def runtime_exited_during_init(status: str) -> bytes:
    """The error of a function process that ended before it asked for its first event."""
    return json.dumps(
        {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"Runtime exited with error: {status}",
        }
    ).encode()


def invocation_logs(
    function_version: FunctionVersion,
    request_id: str,
    output: str,
    *,
    duration_ms: float,
    max_memory_mb: int,
    init_duration_ms: float | None,
) -> str:
    """The log lines of one invocation: the function's ``output`` framed like AWS frames it.

    ``init_duration_ms`` is given for the first invocation of a fresh function process only,
    as AWS reports the Init Duration of a cold start.
    """
    version = function_version.id.qualifier
    if output and not output.endswith("\n"):
        output += "\n"
    report = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {math.ceil(duration_ms)} ms\t"
        f"Memory Size: {function_version.config.memory_size} MB\t"
        f"Max Memory Used: {max_memory_mb} MB\t"
    )
    if init_duration_ms is not None:
        report += f"Init Duration: {init_duration_ms:.2f} ms\t"
    return (
        f"START RequestId: {request_id} Version: {version}\n"
        f"{output}"
        f"END RequestId: {request_id}\n"
        f"{report}\n"
    )
