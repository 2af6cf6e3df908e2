"""The queue message as API Gateway's request model, generated from :class:`.message.FriendMessage`.

API Gateway validates a request body against a JSON Schema of draft 4; pydantic writes draft
2020-12. The adaptation is mechanical: references are inlined (an API Gateway model can refer to
other models by URL, not to definitions of its own), ``const`` becomes a one-value ``enum``, and
the draft is declared. Any keyword that draft 4 would read differently or not at all is refused
here, so a change of the model that needs more than this fails the synthesis instead of being
validated differently at the door.

What the schema states: a JSON object with the three fields, each id a string of 1 to
:data:`~.player_id.MAX_LENGTH` characters other than ``.`` and ``..`` (a ``pattern``), the
action one of its four names; other fields are
allowed (the model ignores them). What draft 4 cannot state, and the write function checks with
the model itself: the characters of an id (printable in the runtime's Unicode version, NFC, no
space at either end) and ``player_id != friend_id``. The tests prove both halves: the schema
never refuses a message the model accepts, and what it lets through is refused by the model
for those reasons only.
"""

from collections.abc import Mapping
from typing import Any

from friend_handlers.logic.message import FriendMessage

DRAFT_4 = "http://json-schema.org/draft-04/schema#"

_SCHEMA_VALUED = frozenset({"items", "additionalItems", "additionalProperties", "not"})
"""Draft 4 keywords whose value is a schema (or, for ``items``, a list of schemas)."""
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf"})
_SCHEMA_MAPS = frozenset({"properties", "patternProperties"})
"""Draft 4 keywords whose value maps names (not keywords) to schemas."""
_PLAIN = frozenset(
    {
        "title",
        "description",
        "default",
        "type",
        "enum",
        "format",
        "required",
        "multipleOf",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minProperties",
        "maxProperties",
    }
)
"""Draft 4 keywords whose value is data, the same in 2020-12."""


class UnsupportedSchemaError(ValueError):
    """The model's JSON Schema uses something draft 4 cannot say the same way."""


def request_model_schema() -> dict[str, Any]:
    """The JSON Schema (draft 4) of a request body that carries one :class:`FriendMessage`."""
    generated = FriendMessage.model_json_schema(mode="validation")
    definitions = generated.pop("$defs", {})
    return {"$schema": DRAFT_4, **_draft_4(generated, definitions, ())}


def _draft_4(
    schema: Mapping[str, Any], definitions: Mapping[str, Any], expanding: tuple[str, ...]
) -> dict[str, Any]:
    if "$ref" in schema:
        name = str(schema["$ref"]).removeprefix("#/$defs/")
        if name not in definitions or name in expanding:
            raise UnsupportedSchemaError(f"reference {schema['$ref']!r} cannot be inlined")
        siblings = {key: value for key, value in schema.items() if key != "$ref"}
        return _draft_4({**definitions[name], **siblings}, definitions, (*expanding, name))

    def sub(value: Mapping[str, Any]) -> dict[str, Any]:
        return _draft_4(value, definitions, expanding)

    adapted: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "const":
            adapted["enum"] = [value]
        elif key in _PLAIN:
            adapted[key] = value
        elif key in _SCHEMA_MAPS:
            adapted[key] = {name: sub(each) for name, each in value.items()}
        elif key in _SCHEMA_LISTS or (key == "items" and isinstance(value, list)):
            adapted[key] = [sub(each) for each in value]
        elif key in _SCHEMA_VALUED:
            adapted[key] = sub(value) if isinstance(value, Mapping) else value
        else:
            raise UnsupportedSchemaError(f"keyword {key!r} has no draft 4 equivalent here")
    return adapted
