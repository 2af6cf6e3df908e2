"""Which strings name a player: the one grammar of player ids, for the queue and the read API.

An id is a key of the Friend table, travels in URLs, logs and metrics, and two ids are compared
for equality (a self-request is refused that way). Two ids that look alike must therefore be the
same string, and an id must be something a person can read back. A valid id:

- has 1 to :data:`MAX_LENGTH` characters, counted on the decoded text (code points; never the
  bytes of its UTF-8 form or of its percent-encoded form in a URL);
- is printable in every character (:meth:`str.isprintable`): no control characters (tab, line
  feed, NUL...), no format characters (zero-width space and joiners, word joiner, byte order
  mark, bidirectional marks), no line or paragraph separators, no space other than U+0020, no
  surrogates, private-use or unassigned code points (unassigned in the Unicode version of the
  running Python: a code point assigned later is refused until the runtime knows it, since its
  normalization is not yet stable);
- is in Unicode normalization form NFC, so "é" has one spelling (U+00E9) and never also "e"
  followed by U+0301;
- neither starts nor ends with a space (which also refuses an id of spaces only);
- is not ``.`` or ``..``: URL resolution (browsers, Node's ``URL``, most HTTP clients) removes
  those path segments, even percent-encoded (``%2E``), so no request of the read API could ever
  name such a player.

Invalid ids are refused, never repaired: silently normalizing or trimming would make the
service store and answer under a different id than the one the client sent.
"""

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

MAX_LENGTH = 128
"""Longest accepted id, in characters. Far more than any game's player ids, and it keeps keys
(at most 512 bytes of UTF-8, well within DynamoDB's key limits), logs and metrics bounded."""
DOT_SEGMENTS = frozenset({".", ".."})
"""The ids a URL cannot carry as a path segment."""
NOT_A_DOT_SEGMENT = r"[^.]|\.\.\."
"""The same rule as a JSON Schema ``pattern`` (which matches anywhere in the string): a
character other than a dot, or three dots. Only ``.`` and ``..`` have neither."""


def check_player_id(value: str) -> str:
    """``value`` when it is a valid player id, else :class:`ValueError` saying which rule it
    breaks (the message is shown to the client, so it names the offending character)."""
    if not 1 <= len(value) <= MAX_LENGTH:
        raise ValueError(f"a player id must have 1 to {MAX_LENGTH} characters, not {len(value)}")
    for character in value:
        if not character.isprintable():
            category = unicodedata.category(character)
            raise ValueError(
                f"a player id must have only printable characters, not U+{ord(character):04X} "
                f"(category {category})"
            )
    if not unicodedata.is_normalized("NFC", value):
        raise ValueError(
            "a player id must be in Unicode normalization form NFC (composed characters)"
        )
    if value.startswith(" ") or value.endswith(" "):
        raise ValueError("a player id must not start or end with a space")
    if value in DOT_SEGMENTS:
        raise ValueError(f"a player id must not be {value!r}: URLs cannot carry it")
    return value


type PlayerId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_LENGTH),
    Field(json_schema_extra={"pattern": NOT_A_DOT_SEGMENT}),
    AfterValidator(check_player_id),
]
"""A player id in a pydantic model or a Powertools parameter, checked by :func:`check_player_id`.

The length bounds are also pydantic constraints, and the dot segments a pattern, so that they
appear in the JSON Schema of every model with a player id: API Gateway checks them at the door
(:mod:`.message_schema`); the pattern is in the schema only, so the model's own refusal is
:func:`check_player_id`'s clearer message. The rest
of the grammar has no JSON Schema draft 4 form (NFC, printable in the runtime's Unicode version)
and is checked by :func:`check_player_id` alone."""
