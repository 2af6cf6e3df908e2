"""Lambda event filter patterns, evaluated on stream records the way a mapping does.

A failed stream batch is described by its first and last sequence numbers; between them the
shard also holds records the mapping's filter left out. Redrive must hand the function exactly
the records it would have received, so it applies the mapping's own filter criteria again.

Only the part of the pattern syntax that exact matching needs is implemented: nested objects
and arrays of literal values (what ``friend_handlers.filters`` uses). No Python package offers
Lambda's matcher; moto's is a test dependency, not one for a command. Any other operator
(prefix, numeric, exists, anything-but, ...) raises :class:`UnsupportedPatternError` instead of
guessing, so a record is never redriven, or left out, on a misread pattern.
"""

import json
from collections.abc import Iterable, Mapping
from typing import Any


class UnsupportedPatternError(ValueError):
    """The pattern uses syntax this matcher does not evaluate."""


def _same(value: Any, literal: Any) -> bool:
    """Equal and of the same JSON type (``True`` is not ``1`` in a pattern)."""
    return type(value) is type(literal) and value == literal


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether ``event`` matches ``pattern``: every field of the pattern is present in the event,
    nested objects match recursively, and a leaf's value (or one of its values, if the event
    holds an array) is one of the pattern's literals."""
    for field, rule in pattern.items():
        if field not in event:
            return False
        value = event[field]
        if isinstance(rule, Mapping):
            if not isinstance(value, Mapping) or not matches(rule, value):
                return False
            continue
        if not isinstance(rule, list):
            raise UnsupportedPatternError(f"field {field!r}: a pattern leaf must be an array")
        if any(isinstance(literal, Mapping | list) for literal in rule):
            raise UnsupportedPatternError(f"field {field!r}: only literal values are supported")
        values = value if isinstance(value, list) else [value]
        if not any(_same(v, literal) for v in values for literal in rule):
            return False
    return True


def parse_filters(filter_criteria: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The patterns of a mapping's ``FilterCriteria`` (none: every record passes)."""
    filters: Iterable[Mapping[str, str]] = (filter_criteria or {}).get("Filters", [])
    return [json.loads(each["Pattern"]) for each in filters]


def passes(patterns: list[dict[str, Any]], event: Mapping[str, Any]) -> bool:
    """Whether a mapping with these filter patterns delivers ``event`` (any pattern matches)."""
    return not patterns or any(matches(pattern, event) for pattern in patterns)
