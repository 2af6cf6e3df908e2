"""The request model API Gateway checks at the door, against the message model it comes from.

Bodies are generated as JSON text, valid messages and near misses alike, and judged twice: by a
JSON Schema draft 4 validator (the ``jsonschema`` library, which LocalStack's API Gateway uses)
with the generated schema, and by the message model as the front function and the write function
parse them.
"""

import json
from typing import Any

import pytest
from friend_handlers.logic.message import FriendAction, FriendMessage
from friend_handlers.logic.message_schema import (
    DRAFT_4,
    UnsupportedSchemaError,
    _draft_4,
    request_model_schema,
)
from friend_handlers.logic.player_id import MAX_LENGTH
from hypothesis import example, given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator
from pydantic import BaseModel, ValidationError

from .test_player_id import _valid_ids

SCHEMA = request_model_schema()
DOOR = Draft4Validator(SCHEMA)

STATED_ONLY_BY_THE_MODEL = {"self_request", "value_error"}
"""Why the model may refuse a body the schema lets through: ``player_id == friend_id``, and the
character rules of a player id (``check_player_id`` raises ``ValueError``). Nothing else."""

ids = st.one_of(
    st.sampled_from(["ana", "ben", "Zo\u00eb \u00dcnal", "isFriend", "a" * MAX_LENGTH]),
    st.text(max_size=MAX_LENGTH + 2),
    st.text(min_size=MAX_LENGTH - 1, max_size=MAX_LENGTH + 1),
    st.sampled_from([" ana", "ana ", "e\u0301", "a\u200b", "a\n", "\u00e9" * (MAX_LENGTH + 1)]),
    st.sampled_from([".", "..", "...", ".a", "a."]),
)
actions = st.sampled_from([*FriendAction]) | st.sampled_from(["request", "Poke", "", "Friends"])
other = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)
messages = st.fixed_dictionaries(
    {"player_id": ids | other, "friend_id": ids | other, "friend_action": actions | other},
    optional={"extra": other | ids, "note": st.text(max_size=5)},
)
"""Objects with the message's fields (some missing, some of the wrong type) and extra fields."""
valid_ids = st.one_of(
    _valid_ids(),
    st.builds(
        lambda character, length: character * length,
        st.sampled_from(["b", "\u00e9", "\N{GRINNING FACE}"]),
        st.integers(1, MAX_LENGTH),
    ),
)
"""Ids in the grammar, with the longest ones often (in characters, not bytes)."""
valid = st.fixed_dictionaries(
    {
        "player_id": _valid_ids(),
        "friend_id": _valid_ids(),
        "friend_action": st.sampled_from([*FriendAction]),
    },
    optional={"extra": other | ids, "note": st.text(max_size=5)},
)
"""Messages the model accepts (but for the rare equal pair), with and without extra fields."""
pairs = ids.flatmap(
    lambda player: st.fixed_dictionaries(
        {"player_id": st.just(player), "friend_id": st.just(player), "friend_action": actions}
    )
)
"""A player acting on themselves."""
bodies = st.one_of(
    valid.map(json.dumps),
    valid.map(lambda message: json.dumps(message, ensure_ascii=False)),
    messages.map(json.dumps),
    messages.map(lambda message: json.dumps(message, ensure_ascii=False)),
    pairs.map(json.dumps),
    st.dictionaries(st.text(max_size=12), other | ids, max_size=4).map(json.dumps),
    other.map(json.dumps),
    st.text(max_size=30),
)


def door_accepts(body: str) -> bool:
    """API Gateway's request validation: parse the JSON, check it against the model's schema."""
    try:
        document = json.loads(body)
    except ValueError:
        return False
    return DOOR.is_valid(document)


def model_refusals(body: str) -> set[str] | None:
    """The kinds of error the message model finds in ``body``; ``None`` when it accepts it."""
    try:
        FriendMessage.model_validate_json(body)
    except ValidationError as error:
        return {problem["type"] for problem in error.errors()}
    return None


@settings(max_examples=600)
@given(bodies)
@example(json.dumps({"player_id": "ana", "friend_id": "ben", "friend_action": "Request"}))
@example(json.dumps({"player_id": "ana", "friend_id": "ana", "friend_action": "Request"}))
@example(
    json.dumps({"player_id": "\u00e9" * MAX_LENGTH, "friend_id": "b", "friend_action": "Reject"})
)
@example(
    json.dumps(
        {
            "player_id": "a",
            "friend_id": "\N{GRINNING FACE}" * MAX_LENGTH,
            "friend_action": "Unfriend",
        }
    )
)
@example(
    json.dumps({"player_id": "a" * (MAX_LENGTH + 1), "friend_id": "b", "friend_action": "Accept"})
)
@example(json.dumps({"player_id": "", "friend_id": "b", "friend_action": "Accept"}))
@example(json.dumps({"player_id": ".", "friend_id": "b", "friend_action": "Accept"}))
@example(json.dumps({"player_id": "a", "friend_id": "..", "friend_action": "Accept"}))
@example(json.dumps({"player_id": "...", "friend_id": ".a", "friend_action": "Accept"}))
@example(json.dumps({"player_id": 1, "friend_id": "b", "friend_action": "Accept"}))
@example(json.dumps({"player_id": "a", "friend_id": "b"}))
def test_the_schema_refuses_only_what_the_model_refuses_and_leaves_it_little(body: str) -> None:
    refusals = model_refusals(body)
    if refusals is None:
        assert door_accepts(body), "the door would refuse a valid message"
    elif door_accepts(body):
        assert refusals <= STATED_ONLY_BY_THE_MODEL, f"the schema could have refused {refusals}"


def test_the_schema_is_draft_4_with_nothing_to_resolve() -> None:
    Draft4Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == DRAFT_4
    text = json.dumps(SCHEMA)
    assert "$ref" not in text
    assert "$defs" not in text
    assert SCHEMA["required"] == ["player_id", "friend_id", "friend_action"]
    assert SCHEMA["properties"]["friend_action"]["enum"] == [
        action.value for action in FriendAction
    ]


def test_the_schema_follows_the_model() -> None:
    """Nothing is written twice: the schema is the model's, so a field the model gains appears."""

    class Grown(FriendMessage):
        reason: str

    generated = Grown.model_json_schema(mode="validation")
    adapted = _draft_4(generated, generated.pop("$defs", {}), ())
    assert adapted["properties"]["reason"] == {"title": "Reason", "type": "string"}
    assert "reason" in adapted["required"]


def test_a_keyword_draft_4_reads_differently_is_refused() -> None:
    class Bounded(BaseModel):
        count: int

    generated: dict[str, Any] = Bounded.model_json_schema()
    generated["properties"]["count"]["exclusiveMinimum"] = 0  # a number in 2020-12, a flag in 4
    with pytest.raises(UnsupportedSchemaError, match="exclusiveMinimum"):
        _draft_4(generated, {}, ())


def test_the_door_refuses_the_dot_segments() -> None:
    for dots in (".", ".."):
        assert not door_accepts(
            json.dumps({"player_id": dots, "friend_id": "b", "friend_action": "Accept"})
        )
    assert door_accepts(
        json.dumps({"player_id": "...", "friend_id": "b", "friend_action": "Accept"})
    )


def test_a_constant_becomes_a_one_value_enum() -> None:
    assert _draft_4({"const": "Request"}, {}, ()) == {"enum": ["Request"]}
