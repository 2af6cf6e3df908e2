"""Stream filter patterns, next to the handlers they feed.

Each pattern is Lambda event-filtering syntax (EventBridge pattern syntax) applied to one
DynamoDB stream record. Infrastructure turns them into ``FilterCriteria``; tests evaluate them
with a real pattern matcher, so the routing is defined once.
"""

from collections.abc import Mapping
from typing import Any

from friend_models import STATE, State

type Pattern = Mapping[str, Any]


def _state(value: State) -> dict[str, dict[str, list[str]]]:
    return {STATE: {"S": [value.value]}}


STREAM_FILTERS: Mapping[str, Pattern] = {
    "request_state": {
        "eventName": ["INSERT"],
        "dynamodb": {"NewImage": _state(State.REQUESTED)},
    },
    "accept_state": {
        "eventName": ["MODIFY"],
        "dynamodb": {"OldImage": _state(State.PENDING), "NewImage": _state(State.FRIENDS)},
    },
    "reject_state": {
        "eventName": ["REMOVE"],
        "dynamodb": {"OldImage": _state(State.PENDING)},
    },
    "unfriend_state": {
        "eventName": ["REMOVE"],
        "dynamodb": {"OldImage": _state(State.FRIENDS)},
    },
}
"""Stream handler module name -> the one filter pattern of its event source mapping."""

HANDLERS: tuple[str, ...] = ("front", "read", "write", "page", *STREAM_FILTERS)
"""Every function, by name; its entry point is ``friend_handlers.contract.ENTRY_POINTS[name]``."""
