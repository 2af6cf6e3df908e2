"""The public Lambda Runtime API, served to one function process on a loopback port.

AWS runtimes (and our bootstraps) talk to ``AWS_LAMBDA_RUNTIME_API`` with four calls: a long
poll for the next event, the response or the error of an invocation, and an init error. Serving
exactly that API, instead of a private protocol, keeps the bootstraps thin and means a real
runtime interface client would work unchanged. One server per execution environment keeps
environments independent: the server only ever has one function process as its client.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import queue
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

LOG = logging.getLogger(__name__)

_PREFIX = "/2018-06-01/runtime"
_POLL_SECONDS = 0.5


@dataclasses.dataclass
class PendingInvocation:
    """An event handed to the function through ``/invocation/next``."""

    request_id: str
    payload: bytes
    invoked_function_arn: str
    trace_id: str
    deadline_ms: int = 0


class RuntimeApiListener(Protocol):
    """What the server reports to the executor."""

    def on_ready(self) -> None:
        """The function asked for its first event: init is over."""

    def on_invocation_started(self, invocation: PendingInvocation) -> None:
        """The event was handed to the function (the invocation clock starts)."""

    def on_result(self, request_id: str, body: bytes, is_error: bool) -> None:
        """The function posted the response or the error of an invocation."""

    def on_init_error(self, body: bytes) -> None:
        """The function failed to initialise (import error, missing handler, ...)."""


class RuntimeApiServer:
    """A threaded HTTP server on 127.0.0.1 with an ephemeral port, bound at construction."""

    def __init__(self, listener: RuntimeApiListener) -> None:
        self._listener = listener
        self._events: queue.Queue[PendingInvocation] = queue.Queue()
        self._closed = threading.Event()
        self._ready_reported = False
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        """``host:port`` as the runtime expects it in ``AWS_LAMBDA_RUNTIME_API``."""
        host, port = self._httpd.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": _POLL_SECONDS},
            name=f"lambda-runtime-api-{self.address}",
            daemon=True,
        )
        self._thread.start()

    def reset(self) -> None:
        """Forget the init state and queued events (the function process is being replaced)."""
        self._ready_reported = False
        while not self._events.empty():
            self._events.get_nowait()

    def submit(self, invocation: PendingInvocation) -> None:
        self._events.put(invocation)

    def close(self) -> None:
        self._closed.set()
        if self._thread is not None:
            self._httpd.shutdown()
        self._httpd.server_close()

    def _next_event(self) -> PendingInvocation | None:
        if not self._ready_reported:
            self._ready_reported = True
            self._listener.on_ready()
        while not self._closed.is_set():
            try:
                return self._events.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
        return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm
            # and the client's delayed ACK add ~40 ms to every call.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                LOG.debug("runtime api %s: " + format, server.address, *args)

            def _reply(
                self, status: HTTPStatus, body: bytes = b"", headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def do_GET(self) -> None:
                if self.path != f"{_PREFIX}/invocation/next":
                    self._reply(HTTPStatus.NOT_FOUND)
                    return
                invocation = server._next_event()
                if invocation is None:
                    self._reply(HTTPStatus.GONE)
                    return
                server._listener.on_invocation_started(invocation)
                self._reply(
                    HTTPStatus.OK,
                    invocation.payload,
                    {
                        "Content-Type": "application/json",
                        "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                        "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                        "Lambda-Runtime-Invoked-Function-Arn": invocation.invoked_function_arn,
                        "Lambda-Runtime-Trace-Id": invocation.trace_id,
                    },
                )

            def do_POST(self) -> None:
                body = self._body()
                path = self.path.removeprefix(_PREFIX)
                if path == "/init/error":
                    server._listener.on_init_error(body or _unknown_error())
                    self._reply(HTTPStatus.ACCEPTED)
                    return
                parts = path.strip("/").split("/")
                if (
                    len(parts) == 3
                    and parts[0] == "invocation"
                    and parts[2] in ("response", "error")
                ):
                    server._listener.on_result(parts[1], body, is_error=parts[2] == "error")
                    self._reply(HTTPStatus.ACCEPTED)
                    return
                self._reply(HTTPStatus.NOT_FOUND)

        return Handler


def _unknown_error() -> bytes:
    return json.dumps(
        {"errorType": "Runtime.Unknown", "errorMessage": "Unknown init error"}
    ).encode()
