"""What a deployment must agree on with this version of friend-handlers: the one place for the
names the stack wires (handlers and their entry points, stream filters, environment variables,
the handled-messages table's shape, metric dimensions, the page's files).

It imports nothing but friend-models and the filters, so the CDK app reads it at synth without
loading Powertools, pydantic or an AWS client. A release records :func:`describe` in its
metadata; the stack compares it with what it wires up and with the other pinned releases, and
refuses a mix that disagrees before anything deploys.
"""

from collections.abc import Mapping
from typing import Any

from friend_models import TABLE_CONTRACT_ID, TABLE_NAME_ENV

from friend_handlers.filters import HANDLERS, STREAM_FILTERS

ENTRY_POINTS: Mapping[str, str] = {
    name: f"friend_handlers.handlers.{name}.handler" for name in HANDLERS
}
"""Handler name -> the Lambda ``handler`` setting that runs it. A release records these, so a
stack can run an older release whose entry points lived elsewhere (see
:meth:`friend_infra.pins.Pinned.entry_point`)."""

STREAM_PROTOCOL = 3
"""What the rows mean to the functions that write the Friend table (docs/design.md, "Time and
order on the stream side"). 1: states only. 2: exchange ids tell exchanges apart. 3: a
Requested row is marked ``mirrored`` once the other player has its Pending row, and
``request_state`` acts only on an unmirrored request, so a replayed record cannot revive a
rejected request or an ended friendship."""
OLDEST_COMPATIBLE_PROTOCOL = 2
"""The oldest protocol whose functions may run beside this release's on one table."""
PROTOCOL_FUNCTIONS: tuple[str, ...] = ("front", *STREAM_FILTERS)
"""The functions that write the Friend table: their releases must agree on the protocol."""

DLQ_URL_ENV = "FRIEND_DLQ_URL"
"""front: the front queue's dead-letter queue, where invalid messages are parked."""
IDEMPOTENCY_TABLE_ENV = "FRIEND_IDEMPOTENCY_TABLE_NAME"
"""front: the table of handled messages (see :mod:`friend_handlers.redelivery`)."""
QUEUE_URL_ENV = "FRIEND_QUEUE_URL"
"""write: the front queue, where accepted actions go."""
PLAYER_CLAIM_ENV = "FRIEND_PLAYER_CLAIM"
"""write, optional: the token claim that must equal the acting ``player_id``."""

IDEMPOTENCY_KEY_ATTRIBUTE = "id"
"""Hash key (S) of the handled-messages table."""
IDEMPOTENCY_EXPIRY_ATTRIBUTE = "expiration"
"""Its TTL attribute."""
REMEMBER_SECONDS = 4 * 24 * 60 * 60
"""How long a handled message is remembered: the front queue's retention (SQS's default), so no
copy of a message outlives the record of its first delivery."""

VERSION_HEADER = "X-Friend-Handlers-Version"
"""read: response header with the friend-handlers version that answered. With functions pinned
to different releases, a client or a test can see which one the read API runs."""
PAGE_FILES: Mapping[str, tuple[str, str]] = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
}
"""page: API resource -> (file under ``friend_handlers/static/``, its content type). The stack
declares one GET route per resource, so no other path reaches the page function."""

FUNCTION_DIMENSION = "function_name"
"""Metric dimension naming the stream function that counted a transition. The four functions
share one service and some transition names (``Ignored``), so without it the dashboard could not
tell their counts apart; Powertools' own cold-start metric uses the same dimension name."""
INVALID_METRIC = "InvalidMessage"
"""Counted by front for each message it parks in the dead-letter queue."""

ENVIRONMENT: Mapping[str, tuple[str, ...]] = {
    "front": (TABLE_NAME_ENV, DLQ_URL_ENV, IDEMPOTENCY_TABLE_ENV),
    "read": (TABLE_NAME_ENV,),
    "write": (QUEUE_URL_ENV,),
    "page": (),
    **{handler: (TABLE_NAME_ENV,) for handler in STREAM_FILTERS},
}
"""Handler name -> the environment variables it needs the stack to set (optional ones, such as
PLAYER_CLAIM_ENV, are not needed)."""


def describe() -> dict[str, Any]:
    """The contract as plain JSON-ready data (a release's ``metadata.json`` holds it)."""
    return {
        "table_contract": TABLE_CONTRACT_ID,
        "handlers": list(HANDLERS),
        "entry_points": dict(ENTRY_POINTS),
        "stream_filters": {name: dict(pattern) for name, pattern in STREAM_FILTERS.items()},
        "environment": {name: list(names) for name, names in ENVIRONMENT.items()},
        "stream_protocol": {
            "version": STREAM_PROTOCOL,
            "oldest_compatible": OLDEST_COMPATIBLE_PROTOCOL,
            "functions": list(PROTOCOL_FUNCTIONS),
        },
    }


API_DOCUMENT_PATH = "/openapi.json"
"""write: the route that serves the API's OpenAPI document (:mod:`friend_handlers.openapi`)."""
