"""Python runtime bootstrap: the part of the Lambda Python runtime inside the function process.

It is started by the subprocess executor with the function's interpreter (``python -S -u``: no
site-packages of the host interpreter, unbuffered output) and speaks the public Lambda Runtime
API (``AWS_LAMBDA_RUNTIME_API``) like AWS's own runtime interface client: it imports the handler
once (init), then loops over ``/invocation/next``, calls the handler and posts its result or
error. Standard library only, for Python 3.12 and newer.

Two details are specific to the executor:

- After each invocation it writes a marker (a per-environment secret, never seen by the
  function) to its stdout so that the executor can cut the captured output into per-invocation
  logs exactly, even though stdout and stderr are read asynchronously.
- A watchdog thread kills the whole process group when the LocalStack process that started it
  is gone, so that no function process (nor anything it spawned) outlives LocalStack.
"""

from __future__ import annotations

import decimal
import http.client
import importlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
from typing import Any

_API_PREFIX = "/2018-06-01/runtime"


class _RuntimeApi:
    """Minimal client of the Lambda Runtime API over one keep-alive connection."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self._connection = http.client.HTTPConnection(host, int(port))
        self._connection.connect()
        self._connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[http.client.HTTPResponse, bytes]:
        self._connection.request(method, _API_PREFIX + path, body=body, headers=headers or {})
        response = self._connection.getresponse()
        return response, response.read()

    def next(self) -> tuple[dict[str, str], bytes]:
        response, body = self._request("GET", "/invocation/next")
        return {key.lower(): value for key, value in response.getheaders()}, body

    def post(self, path: str, body: bytes, error_type: str | None = None) -> None:
        headers = {"Content-Type": "application/json"}
        if error_type:
            headers["Lambda-Runtime-Function-Error-Type"] = error_type
        self._request("POST", path, body=body, headers=headers)


class LambdaContext:
    """The ``context`` argument of a Python handler, with the attributes of AWS's runtime."""

    def __init__(self, request_id: str, deadline_ms: int, invoked_function_arn: str) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)


class _RequestIdFilter(logging.Filter):
    """Adds the current request id to log records, as AWS's runtime logging handler does."""

    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


class _LambdaLogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes one line per record (newlines become carriage returns), like the real runtime."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", "\r")


def _error_body(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorMessage": str(error),
        "errorType": error_type or type(error).__name__,
        "requestId": "",
        "stackTrace": traceback.format_list(
            [
                frame
                for frame in traceback.extract_tb(error.__traceback__)
                if frame.filename != __file__
            ]
        ),
    }


def _log_error(body: dict[str, Any]) -> None:
    trace = "".join(body["stackTrace"])
    message = f"[ERROR] {body['errorType']}: {body['errorMessage']}"
    if trace:
        message += "\rTraceback (most recent call last):\r" + trace.replace("\n", "\r")
    print(message, file=sys.stderr, flush=True)


def _json_default(value: object) -> object:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _watch_parent(parent_pid: int) -> None:
    """Kill this process group once LocalStack (our parent) has gone away."""
    while os.getppid() == parent_pid:
        time.sleep(0.2)
    os.killpg(os.getpgrp(), signal.SIGKILL)


def _load_handler(handler: str) -> Any:
    """Import the handler like AWS: ``path/to/module.function``; errors become init errors."""
    module_name, _, function_name = handler.rpartition(".")
    if not module_name:
        raise _InitError(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{handler}': not enough values to unpack (expected 2, got 1)",
        )
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as error:
        raise _InitError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {error}"
        ) from error
    except ImportError as error:
        raise _InitError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}"
        ) from error
    function = getattr(module, function_name, None)
    if function is None:
        raise _InitError(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        )
    return function


class _InitError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def main() -> None:
    # sys.path[0] is this file's folder: the function must not see it.
    sys.path.pop(0)
    marker = os.environ.pop("_FRIEND_LAMBDA_LOG_MARKER", "")
    parent_pid = int(os.environ.pop("_FRIEND_LAMBDA_PARENT_PID", "0"))
    if parent_pid:
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()

    request_filter = _RequestIdFilter()
    log_handler = _LambdaLogHandler(sys.stdout)
    log_handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    log_handler.formatter.converter = time.gmtime  # type: ignore[union-attr]
    log_handler.addFilter(request_filter)
    logging.getLogger().addHandler(log_handler)

    api = _RuntimeApi(os.environ["AWS_LAMBDA_RUNTIME_API"])
    os.chdir(os.environ["LAMBDA_TASK_ROOT"])
    try:
        handler = _load_handler(os.environ["_HANDLER"])
    except _InitError as error:
        body = _error_body(error, error.error_type)
        _log_error(body)
        api.post("/init/error", json.dumps(body).encode(), error.error_type)
        sys.exit(1)
    except Exception as error:
        body = _error_body(error)
        _log_error(body)
        api.post("/init/error", json.dumps(body).encode(), "Runtime.Unknown")
        sys.exit(1)
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(1, f"{marker}init{marker}".encode())

    while True:
        headers, payload = api.next()
        request_id = headers["lambda-runtime-aws-request-id"]
        request_filter.request_id = request_id
        trace_id = headers.get("lambda-runtime-trace-id")
        if trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = trace_id
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        context = LambdaContext(
            request_id,
            int(headers.get("lambda-runtime-deadline-ms", "0")),
            headers.get("lambda-runtime-invoked-function-arn", ""),
        )
        path, body_bytes, error_type = _invoke(handler, payload, context)
        sys.stdout.flush()
        sys.stderr.flush()
        os.write(1, f"{marker}{request_id}{marker}".encode())
        api.post(f"/invocation/{request_id}/{path}", body_bytes, error_type)


def _invoke(handler: Any, payload: bytes, context: LambdaContext) -> tuple[str, bytes, str | None]:
    """Run one invocation; returns the Runtime API path to post to, the body and the error type."""
    try:
        event = json.loads(payload) if payload else {}
    except ValueError as error:
        body = _error_body(error, "Runtime.UnmarshalError")
        body["errorMessage"] = f"Unable to unmarshal input: {error}"
        _log_error(body)
        return "error", json.dumps(body).encode(), "Runtime.UnmarshalError"
    try:
        result = handler(event, context)
    except Exception as error:
        body = _error_body(error)
        _log_error(body)
        return "error", json.dumps(body).encode(), f"Unhandled.{body['errorType']}"
    try:
        return "response", json.dumps(result, default=_json_default).encode(), None
    except (TypeError, ValueError) as error:
        body = _error_body(error, "Runtime.MarshalError")
        body["errorMessage"] = f"Unable to marshal response: {error}"
        body["stackTrace"] = []
        _log_error(body)
        return "error", json.dumps(body).encode(), "Runtime.MarshalError"


if __name__ == "__main__":
    try:
        main()
    except (OSError, http.client.HTTPException):
        # The Runtime API is gone, so is the LocalStack that served it: take down anything the
        # function started too (the process group), not just this process.
        os.killpg(os.getpgrp(), signal.SIGKILL)
