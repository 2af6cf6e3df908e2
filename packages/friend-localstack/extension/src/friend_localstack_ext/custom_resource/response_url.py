"""The ResponseURL side of CloudFormation custom resources, served on LocalStack's own gateway.

On AWS, CloudFormation hands a custom resource handler a presigned S3 URL and waits for the
handler to PUT its JSON response there. Here the URL points at a route of LocalStack's gateway
(``/_friend/cfn-response/<token>``): a handler running on this host reaches it the way it reaches
every other LocalStack API, and nothing has to be stored in S3 and polled back. Each outstanding
request owns one random token; the resource provider waits on that token's mailbox.

Like S3, the endpoint accepts whatever body it is given: checking that the body is a valid
custom resource response is the provider's job, so that an invalid response fails the resource
with a reason in the stack events rather than as an HTTP error the handler may never log.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field

from localstack import config
from localstack.http import Response
from localstack.services.edge import ROUTER
from werkzeug.wrappers import Request

LOG = logging.getLogger(__name__)

RESPONSE_PATH_PREFIX = "/_friend/cfn-response"
"""Path of the ResponseURL route on the gateway; the token follows as the last segment."""


@dataclass
class _Mailbox:
    """One outstanding request: the first body PUT to its URL, and a flag to wake the waiter."""

    expires_at: float
    arrived: threading.Event = field(default_factory=threading.Event)
    body: bytes | None = None
    received_at: float | None = None


class ResponseMailboxes:
    """Thread-safe registry of the ResponseURLs that are waiting for a handler's response.

    The gateway's worker threads deliver (``deliver``); the CloudFormation deployment thread
    waits (``wait``). Only the first response counts, as on AWS, where CloudFormation reads the
    response once: a handler that answers twice (e.g. a late timeout report after success) cannot
    change an outcome that was already taken.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mailboxes: dict[str, _Mailbox] = {}

    def open(self, lifetime: float) -> str:
        """Create a mailbox for ``lifetime`` seconds and return its unguessable token.

        Mailboxes whose lifetime is over are dropped here, so a deployment that was abandoned
        half-way (LocalStack's engine gave up, the stack was deleted) leaves nothing behind.
        """
        token = secrets.token_urlsafe(24)
        now = time.monotonic()
        with self._lock:
            for expired in [t for t, m in self._mailboxes.items() if m.expires_at < now]:
                del self._mailboxes[expired]
            self._mailboxes[token] = _Mailbox(expires_at=now + lifetime)
        return token

    def close(self, token: str) -> None:
        """Forget a mailbox (after its response was consumed or the wait gave up)."""
        with self._lock:
            self._mailboxes.pop(token, None)

    def deliver(self, token: str, body: bytes) -> bool:
        """Store a response body; returns False when no request with this token is outstanding."""
        with self._lock:
            mailbox = self._mailboxes.get(token)
            if mailbox is None:
                return False
            if mailbox.body is None:
                mailbox.body = body
                mailbox.received_at = time.monotonic()
                mailbox.arrived.set()
            return True

    def wait(self, token: str, timeout: float) -> bytes | None:
        """Block up to ``timeout`` seconds for the response body; None if none arrived (yet)."""
        with self._lock:
            mailbox = self._mailboxes.get(token)
        if mailbox is None or not mailbox.arrived.wait(timeout):
            return None
        return mailbox.body


MAILBOXES = ResponseMailboxes()

_route_lock = threading.Lock()
_route_registered = False


def _receive_response(request: Request, token: str) -> Response:
    """Gateway endpoint for ``PUT <ResponseURL>``: answers like S3 would, 200 on success."""
    body = request.get_data()
    if MAILBOXES.deliver(token, body):
        LOG.debug("Custom resource response received for token %s (%d bytes)", token, len(body))
        return Response(status=200)
    LOG.warning(
        "Custom resource response for an unknown or expired ResponseURL (token %s): %s",
        token,
        body[:500].decode("utf-8", "replace"),
    )
    return Response(
        response="<Error><Code>NoSuchUpload</Code><Message>The ResponseURL has expired or "
        "was never issued.</Message></Error>",
        status=404,
        mimetype="application/xml",
    )


def ensure_response_route() -> None:
    """Register the ResponseURL route on LocalStack's gateway router, once per process."""
    global _route_registered  # noqa: PLW0603 (one router per LocalStack process)
    with _route_lock:
        if _route_registered:
            return
        ROUTER.add(
            f"{RESPONSE_PATH_PREFIX}/<token>",
            endpoint=_receive_response,
            methods=["PUT"],
        )
        _route_registered = True


def response_url(token: str) -> str:
    """The ResponseURL a handler on this host PUTs to: plain HTTP on the gateway's port.

    The loopback address rather than ``LOCALSTACK_HOST``: handlers run as processes on this
    host, and hostnames such as ``localhost.localstack.cloud`` need DNS that may be absent.
    Node handlers from CDK ignore the port and speak TLS to 443; the Lambda executor's Node
    bootstrap sends those to the gateway port, which serves TLS and plain HTTP alike.
    """
    port = config.GATEWAY_LISTEN[0].port
    return f"http://127.0.0.1:{port}{RESPONSE_PATH_PREFIX}/{token}"
