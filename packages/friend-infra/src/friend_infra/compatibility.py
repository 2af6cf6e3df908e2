"""Compatibility: whether the pinned releases may be deployed together by this stack.

Before anything is bundled the stack holds every pinned release against what it wires (the
table, the stream filters, each function's environment), and so against each other, and refuses
a mix that does not match, naming every disagreement: a wrong mix fails at synth, not in
production.

Matching names is not enough for the functions that write the Friend table: the rows they leave
mean something to the others (which exchange a row belongs to, what a reaction may still do). A
release records that meaning as its stream protocol, and the table writers of one mix must speak
protocols that each of them accepts (:func:`protocol_disagreement`). That the accepted mixes
really complete every exchange, and the refused ones do not, is what the release-mix test runs.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from friend_infra.pins import MODELS_PACKAGE, Pinned
from friend_infra.releases import ReleaseError
from friend_infra.workspace import WORKSPACE_LABEL


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


@dataclass(frozen=True)
class StreamProtocol:
    """What the rows written by one release's table writers mean (``stream_protocol`` of
    ``friend_handlers.contract.describe()``)."""

    version: int
    oldest_compatible: int
    """The oldest protocol whose functions may run beside this release's on one table."""
    functions: tuple[str, ...]
    """This release's functions that write the Friend table."""


LEGACY_TABLE_WRITERS = ("front", "request_state", "accept_state", "reject_state", "unfriend_state")
"""The table writers of the releases that record no protocol."""
LEGACY_PROTOCOLS: Mapping[str, StreamProtocol] = {
    "0.1.0": StreamProtocol(1, 1, LEGACY_TABLE_WRITERS),
    "0.2.0": StreamProtocol(2, 2, LEGACY_TABLE_WRITERS),
}
"""Releases cut before the protocol was recorded, described once. 0.1.0's rules write rows
without an exchange id and tell exchanges apart by comparing ``last_updated`` times; 0.2.0's
give every exchange an id and decide by it, reading no clock."""


def stream_protocol(pinned: Pinned) -> StreamProtocol | None:
    """The protocol ``pinned`` records; for code that records none, the legacy description of
    its version (a working tree without one, by the version it carries); None when neither
    exists. A recorded protocol always wins over the legacy table."""
    recorded = pinned.contract.get("stream_protocol")
    if recorded is None:
        return LEGACY_PROTOCOLS.get(pinned.version.removesuffix(WORKSPACE_LABEL))
    return StreamProtocol(
        version=int(recorded["version"]),
        oldest_compatible=int(recorded["oldest_compatible"]),
        functions=tuple(recorded["functions"]),
    )


def protocol_disagreement(pins: Mapping[str, Pinned]) -> list[str]:
    """Why the table writers of the mix cannot share the Friend table (empty: they can).

    A function takes part when its own release counts it among its table writers (a release
    that records no protocol: when it is one of :data:`LEGACY_TABLE_WRITERS`). The mix is
    accepted iff the oldest protocol spoken is at least the newest of the oldest ones accepted:
    every writer then understands every other writer's rows.
    """
    reasons: list[str] = []
    protocols: dict[str, tuple[Pinned, StreamProtocol]] = {}
    for function, pinned in sorted(pins.items()):
        protocol = stream_protocol(pinned)
        if protocol is not None and function in protocol.functions:
            protocols[function] = (pinned, protocol)
        elif protocol is None and function in LEGACY_TABLE_WRITERS:
            reasons.append(
                f"{function} is pinned to {pinned.label}, which records no stream protocol "
                "and is none of the releases cut before protocols were recorded "
                f"({', '.join(LEGACY_PROTOCOLS)}): what its rows mean is unknown"
            )
    if not protocols:
        return reasons
    spoken = min(protocol.version for _, protocol in protocols.values())
    needed = max(protocol.oldest_compatible for _, protocol in protocols.values())
    if spoken < needed:
        too_old = {f: each for f, each in protocols.items() if each[1].version < needed}
        demanding = {f: each for f, each in protocols.items() if each[1].oldest_compatible > spoken}
        reasons.append(
            "the functions that write the Friend table disagree on its stream protocol: "
            f"{_by_release(too_old)} write rows of protocol {spoken}, but "
            f"{_by_release(demanding)} accept rows of protocol {needed} or newer only; pin the "
            f"table writers ({', '.join(sorted(protocols))}) to releases of one protocol family"
        )
    return reasons


def _by_release(functions: Mapping[str, tuple[Pinned, StreamProtocol]]) -> str:
    """``request_state, front on friend-handlers 0.1.0 (protocol 1, oldest compatible 1)``,
    one group per release."""
    grouped: dict[str, list[str]] = {}
    for function, (pinned, protocol) in sorted(functions.items()):
        label = (
            f"{pinned.label} (protocol {protocol.version}, "
            f"oldest compatible {protocol.oldest_compatible})"
        )
        grouped.setdefault(label, []).append(function)
    return "; ".join(f"{', '.join(names)} on {label}" for label, names in grouped.items())


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value))


def incompatibilities(pins: Mapping[str, Pinned], wiring: Wiring) -> list[str]:
    """Every reason the pinned mix cannot be deployed by this stack (empty: it can).

    Each release is held against the stack, which makes them agree with each other too: the
    same table contract, the same stream filter patterns (a front that writes rows and the
    stream functions whose filters select them must mean the same states), and for its own
    function the handler and every environment variable it needs. The table writers must
    also agree on the stream protocol (:func:`protocol_disagreement`).
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
    return reasons + protocol_disagreement(pins)


def check_compatible(pins: Mapping[str, Pinned], wiring: Wiring) -> None:
    """Raise :class:`IncompatibleReleasesError` listing every incompatibility, if any."""
    reasons = incompatibilities(pins, wiring)
    if reasons:
        raise IncompatibleReleasesError(
            "the pinned releases cannot be deployed together:\n  - " + "\n  - ".join(reasons)
        )
