"""Compatibility: whether the pinned releases may be deployed together by this stack.

Before anything is bundled the stack holds every pinned release against what it wires (the
table, the stream filters, each function's environment), and so against each other, and refuses
a mix that does not match, naming every disagreement: a wrong mix fails at synth, not in
production.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from friend_infra.pins import MODELS_PACKAGE, Pinned
from friend_infra.releases import ReleaseError


class IncompatibleReleasesError(ReleaseError):
    """The pinned releases disagree with the stack or with each other."""


@dataclass(frozen=True)
class Wiring:
    """What the stack wires up, to be matched by every release it deploys."""

    table_contract: str
    """The identifier of the table the stack builds (from the workspace's friend-models)."""
    stream_filters: Mapping[str, Any]
    """Stream handler -> the filter pattern the stack puts on its mapping."""
    environment: Mapping[str, frozenset[str]]
    """Function -> the environment variable names the stack sets on it."""


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value))


def incompatibilities(pins: Mapping[str, Pinned], wiring: Wiring) -> list[str]:
    """Every reason the pinned mix cannot be deployed by this stack (empty: it can).

    Each release is held against the stack, which makes them agree with each other too: the
    same table contract, the same stream filter patterns (a front that writes rows and the
    stream functions whose filters select them must mean the same states), and for its own
    function the handler and every environment variable it needs.
    """
    reasons: list[str] = []
    filters = _plain(wiring.stream_filters)
    functions_of: dict[str, list[str]] = {}
    for function, pinned in sorted(pins.items()):
        functions_of.setdefault(pinned.label, []).append(function)
    for pinned in {p.label: p for p in pins.values()}.values():
        contract = pinned.contract
        who = f"{pinned.with_models}, pinned by {', '.join(functions_of[pinned.label])},"
        if contract.get("table_contract") != wiring.table_contract:
            reasons.append(
                f"{who} expects table contract {contract.get('table_contract')}, but the stack "
                f"builds the table as {wiring.table_contract}: its {MODELS_PACKAGE} defines "
                "another table"
            )
        theirs = _plain(contract.get("stream_filters") or {})
        if theirs != filters:
            changed = sorted(
                n for n in set(filters) | set(theirs) if filters.get(n) != theirs.get(n)
            )
            reasons.append(
                f"{who} has other stream filter patterns than the stack wires "
                f"(differ: {', '.join(changed)})"
            )
    for function, pinned in sorted(pins.items()):
        contract = pinned.contract
        if function not in contract.get("handlers", ()):
            reasons.append(f"{function} is pinned to {pinned.label}, which has no such handler")
            continue
        needed = set(contract.get("environment", {}).get(function, ()))
        missing = needed - wiring.environment.get(function, frozenset())
        if missing:
            reasons.append(
                f"{function} on {pinned.label} needs environment {sorted(missing)}, "
                "which the stack does not set"
            )
    return reasons


def check_compatible(pins: Mapping[str, Pinned], wiring: Wiring) -> None:
    """Raise :class:`IncompatibleReleasesError` listing every incompatibility, if any."""
    reasons = incompatibilities(pins, wiring)
    if reasons:
        raise IncompatibleReleasesError(
            "the pinned releases cannot be deployed together:\n  - " + "\n  - ".join(reasons)
        )
