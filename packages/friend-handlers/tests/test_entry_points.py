"""The entry-point contract the stack relies on: ``friend_handlers.<name>.handler``."""

import importlib

from friend_handlers.filters import HANDLERS, STREAM_FILTERS


def test_every_named_entry_point_exposes_a_handler() -> None:
    assert set(HANDLERS) == {"front", "read", "write", "page", *STREAM_FILTERS}
    assert set(STREAM_FILTERS) == {
        "request_state",
        "accept_state",
        "reject_state",
        "unfriend_state",
    }
    for name in HANDLERS:
        module = importlib.import_module(f"friend_handlers.{name}")
        assert callable(module.handler), name
