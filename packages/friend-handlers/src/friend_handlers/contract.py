"""What a deployment must agree on with this version of friend-handlers.

A release records :func:`describe` in its metadata; the stack compares it with what it wires up
(the table, the stream filters it puts on each mapping, the variables it sets on each function)
and with the other pinned releases, and refuses a mix that disagrees before anything deploys.
"""

from collections.abc import Mapping
from typing import Any

from friend_models import TABLE_CONTRACT_ID, TABLE_NAME_ENV

from friend_handlers.dead_letter import DLQ_URL_ENV
from friend_handlers.filters import HANDLERS, STREAM_FILTERS

ENVIRONMENT: Mapping[str, tuple[str, ...]] = {
    handler: (TABLE_NAME_ENV, DLQ_URL_ENV) if handler == "front" else (TABLE_NAME_ENV,)
    for handler in HANDLERS
}
"""Handler name -> the environment variables it needs the stack to set."""


def describe() -> dict[str, Any]:
    """The contract as plain JSON-ready data (a release's ``metadata.json`` holds it)."""
    return {
        "table_contract": TABLE_CONTRACT_ID,
        "handlers": list(HANDLERS),
        "stream_filters": {name: dict(pattern) for name, pattern in STREAM_FILTERS.items()},
        "environment": {name: list(names) for name, names in ENVIRONMENT.items()},
    }
