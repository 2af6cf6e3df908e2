"""The filter matcher agrees with a real implementation of Lambda's pattern syntax (moto's, as
friend-handlers' routing tests use it) on every kind of record the Friend table produces."""

import itertools
import json
from typing import Any

import pytest
from friend_handlers.filters import STREAM_FILTERS
from friend_models import State
from friend_ops.patterns import UnsupportedPatternError, matches, parse_filters, passes
from moto.events.models import EventPattern

IMAGES: list[dict[str, Any] | None] = [None, *({"state": {"S": s.value}} for s in State)]


def _records() -> list[dict[str, Any]]:
    """Every event name with every combination of old and new state (or no image)."""
    records = []
    for name, old, new in itertools.product(("INSERT", "MODIFY", "REMOVE"), IMAGES, IMAGES):
        change: dict[str, Any] = {"Keys": {"player_id": {"S": "a"}, "friend_id": {"S": "b"}}}
        if old is not None:
            change["OldImage"] = old
        if new is not None:
            change["NewImage"] = new
        records.append({"eventName": name, "eventSource": "aws:dynamodb", "dynamodb": change})
    return records


@pytest.mark.parametrize("handler", STREAM_FILTERS)
def test_matches_like_lambdas_pattern_syntax(handler: str) -> None:
    pattern = STREAM_FILTERS[handler]
    reference = EventPattern.load(json.dumps(pattern))
    records = _records()
    matched = [record for record in records if matches(pattern, record)]
    assert matched  # each filter selects some records and not others
    assert len(matched) < len(records)
    for record in records:
        assert matches(pattern, record) == reference.matches_event(record), record


def test_each_record_reaches_at_most_one_stream_function() -> None:
    for record in _records():
        assert sum(matches(pattern, record) for pattern in STREAM_FILTERS.values()) <= 1


def test_literal_types_must_agree_and_arrays_match_any_element() -> None:
    assert not matches({"n": [1]}, {"n": True})
    assert not matches({"n": ["1"]}, {"n": 1})
    assert matches({"n": [1]}, {"n": 1})
    assert matches({"tags": ["x"]}, {"tags": ["y", "x"]})
    assert not matches({"a": {"b": ["x"]}}, {"a": "x"})


@pytest.mark.parametrize(
    "pattern",
    [
        {"eventName": [{"prefix": "IN"}]},
        {"dynamodb": {"NewImage": {"state": {"S": [{"anything-but": ["Friends"]}]}}}},
        {"eventName": "INSERT"},
    ],
    ids=["prefix", "anything-but", "leaf-not-an-array"],
)
def test_unsupported_syntax_is_refused_not_guessed(pattern: dict[str, Any]) -> None:
    record = {"eventName": "INSERT", "dynamodb": {"NewImage": {"state": {"S": "Friends"}}}}
    with pytest.raises(UnsupportedPatternError):
        matches(pattern, record)


def test_a_mapping_without_filters_delivers_everything() -> None:
    assert parse_filters(None) == []
    assert passes([], {"eventName": "REMOVE"})
    criteria = {"Filters": [{"Pattern": json.dumps(p)} for p in STREAM_FILTERS.values()]}
    assert parse_filters(criteria) == list(STREAM_FILTERS.values())
