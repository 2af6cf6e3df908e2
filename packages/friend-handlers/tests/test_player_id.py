"""The player id grammar, as properties over generated text, and the queue's model agreeing."""

import json
import re
import unicodedata

import pytest
from friend_handlers.logic.message import FriendMessage, InvalidMessageError, parse_message
from friend_handlers.logic.player_id import (
    DOT_SEGMENTS,
    MAX_LENGTH,
    NOT_A_DOT_SEGMENT,
    check_player_id,
)
from hypothesis import assume, given
from hypothesis import strategies as st

REFUSED_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")
"""Other (control, format, surrogate, private use, unassigned) and line/paragraph separators."""

visible = st.characters(
    exclude_categories=(*REFUSED_CATEGORIES, "Zs"),
)
"""Characters a person can read: letters, marks, digits, punctuation, symbols (emoji)."""
refused = st.characters(categories=REFUSED_CATEGORIES) | st.characters(
    categories=("Zs",), exclude_characters=" "
)
"""Characters no id may hold: invisible, control, unassigned, or a space other than U+0020."""


def _valid_ids() -> st.SearchStrategy[str]:
    """Readable NFC text with inner spaces, of every allowed length."""
    inner = st.text(st.one_of(visible, st.just(" ")), max_size=MAX_LENGTH - 2)
    return (
        st.tuples(visible, inner, visible)
        .map(lambda parts: unicodedata.normalize("NFC", "".join(parts)))
        .filter(lambda text: 1 <= len(text) <= MAX_LENGTH and text not in DOT_SEGMENTS)
    ) | visible.map(lambda character: unicodedata.normalize("NFC", character)).filter(
        lambda text: len(text) == 1 and text != "."
    )


def _is_valid(text: str) -> bool:
    try:
        check_player_id(text)
    except ValueError:
        return False
    return True


@given(_valid_ids())
def test_readable_nfc_text_is_an_id_as_it_is(text: str) -> None:
    assert check_player_id(text) == text


@given(_valid_ids(), st.data())
def test_one_refused_character_anywhere_refuses_the_id(text: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(text)))
    bad = data.draw(refused)
    candidate = text[:position] + bad + text[position:]
    assume(len(candidate) <= MAX_LENGTH)
    with pytest.raises(ValueError, match=f"U\\+{ord(bad):04X}"):
        check_player_id(candidate)


@given(_valid_ids())
def test_a_decomposed_spelling_is_refused(text: str) -> None:
    decomposed = unicodedata.normalize("NFD", text)
    assume(decomposed != text)
    assert not _is_valid(decomposed)


@given(st.integers(1, 2 * MAX_LENGTH))
def test_length_is_counted_in_characters_not_bytes(length: int) -> None:
    text = "\N{GRINNING FACE}" * length  # four bytes of UTF-8 each
    assert _is_valid(text) == (length <= MAX_LENGTH)


@given(st.text(st.just(" "), min_size=1, max_size=MAX_LENGTH), _valid_ids())
def test_spaces_at_either_end_or_only_spaces_are_refused(spaces: str, text: str) -> None:
    assert not _is_valid(spaces)
    assert not _is_valid(spaces + text)
    assert not _is_valid(text + spaces)


def test_the_empty_id_is_refused() -> None:
    assert not _is_valid("")


@given(st.integers(1, MAX_LENGTH))
def test_only_the_dot_segments_are_refused_among_dots(length: int) -> None:
    """``.`` and ``..`` are what URL resolution removes from a path, even percent-encoded."""
    assert _is_valid("." * length) == (length > 2)


@given(st.text(max_size=MAX_LENGTH) | st.text(".", max_size=4))
def test_the_schema_pattern_states_the_dot_rule(text: str) -> None:
    assert (re.search(NOT_A_DOT_SEGMENT, text) is not None) == (
        text not in DOT_SEGMENTS and text != ""
    )


@given(st.text(max_size=MAX_LENGTH + 2), st.text(max_size=MAX_LENGTH + 2))
def test_the_queue_message_accepts_exactly_the_grammar(player: str, friend: str) -> None:
    assume(player != friend)
    body = json.dumps({"player_id": player, "friend_id": friend, "friend_action": "Request"})
    try:
        message: FriendMessage | None = parse_message(body)
    except InvalidMessageError as invalid:
        assert invalid.reason.value == "InvalidFields"
        message = None
    assert (message is not None) == (_is_valid(player) and _is_valid(friend))


def test_an_invisible_difference_is_not_a_different_player() -> None:
    """``a`` and ``a`` followed by a zero-width space look the same: the second is no id at all,
    so the pair can never pass the self-request check as two players."""
    body = json.dumps({"player_id": "a", "friend_id": "a\u200b", "friend_action": "Request"})
    with pytest.raises(InvalidMessageError) as raised:
        parse_message(body)
    assert raised.value.reason.value == "InvalidFields"
    assert "U+200B" in raised.value.detail


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "a player id must have 1 to 128 characters, not 0"),
        ("a" * 129, "a player id must have 1 to 128 characters, not 129"),
        (
            "ann\u200bbob",
            "a player id must have only printable characters, not U+200B (category Cf)",
        ),
        (
            "Zoe\u0308",
            "a player id must be in Unicode normalization form NFC (composed characters)",
        ),
        (" ann", "a player id must not start or end with a space"),
        ("ann ", "a player id must not start or end with a space"),
        ("..", "a player id must not be '..': URLs cannot carry it"),
    ],
    ids=["empty", "too long", "invisible", "not NFC", "leading space", "trailing space", "dots"],
)
def test_each_rule_refuses_with_a_message_that_names_it(text: str, message: str) -> None:
    """The message reaches the client (a 400's body, the dead-letter reason): it names the rule
    and the offending character."""
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        check_player_id(text)
