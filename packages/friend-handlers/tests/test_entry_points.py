"""The entry-point contract the stack relies on: ``friend_handlers.handlers.<name>.handler``."""

import importlib
import json

from friend_handlers.contract import ENTRY_POINTS
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
        module_name, _, function = ENTRY_POINTS[name].rpartition(".")
        assert module_name == f"friend_handlers.handlers.{name}"
        assert callable(getattr(importlib.import_module(module_name), function)), name


def test_the_contract_names_what_a_deployment_must_wire() -> None:
    from friend_handlers.contract import (  # noqa: PLC0415
        DLQ_URL_ENV,
        IDEMPOTENCY_TABLE_ENV,
        QUEUE_URL_ENV,
        describe,
    )
    from friend_models import TABLE_CONTRACT_ID, TABLE_NAME_ENV  # noqa: PLC0415

    contract = describe()
    assert json.loads(json.dumps(contract)) == contract  # plain data: it goes into metadata.json
    assert contract["table_contract"] == TABLE_CONTRACT_ID
    assert contract["handlers"] == list(HANDLERS)
    assert contract["entry_points"] == ENTRY_POINTS
    assert contract["stream_filters"] == json.loads(json.dumps(STREAM_FILTERS))
    environment = contract["environment"]
    assert set(environment) == set(HANDLERS)
    assert environment["front"] == [TABLE_NAME_ENV, DLQ_URL_ENV, IDEMPOTENCY_TABLE_ENV]
    assert environment["write"] == [QUEUE_URL_ENV]  # it only queues: no table
    assert environment["page"] == []
    assert all(environment[name] == [TABLE_NAME_ENV] for name in ("read", *STREAM_FILTERS))


def test_the_contract_records_the_stream_protocol_of_the_table_writers() -> None:
    from friend_handlers.contract import describe  # noqa: PLC0415

    assert describe()["stream_protocol"] == {
        "version": 3,
        "oldest_compatible": 2,
        "functions": ["front", "request_state", "accept_state", "reject_state", "unfriend_state"],
    }
