"""Reconcile: find the pairs of the Friend table that break the invariant, and finish them.

The invariant (docs/design.md): once queues and streams are drained, for every pair {a, b} the rows
(a,b) and (b,a) are both absent, Requested and Pending of one exchange, or Friends and Friends. A
pair breaks it when a stream record was lost (redrive could not bring it back, or it expired) or
the table was written by hand.

Every repair is exactly what a stream rule would have done for the record that was lost, decided
from both rows' ``state``, ``exchange_id`` and ``mirrored`` (stream protocol 3); it finishes an
exchange a player already decided and never invents a decision. No rule reads ``last_updated``:
two hosts' clocks need not agree, and a deletion leaves no date behind.

======================================================  ==========================================
rows as scanned                                         repair (the stream rule it finishes)
======================================================  ==========================================
lone Requested, mirrored                                delete it: the other player rejected
                                                        (``reject_state``)
lone Friends                                            delete it: the other player unfriended
                                                        (``unfriend_state``)
Requested + Friends of one exchange                     Requested becomes Friends: the other
                                                        player accepted (``accept_state``)
Requested + Requested, neither mirrored                 both Friends, of the first row's exchange:
                                                        a mutual request (``request_state``)
Requested, not mirrored + Friends of another exchange   Friends becomes Pending of the request;
                                                        the request is mirrored (``request_state``)
Requested, not mirrored + Requested, mirrored           the mirrored (rejected) one becomes Pending
                                                        of the new request, which is mirrored
                                                        (``request_state``)
======================================================  ==========================================

Left alone and reported, with the reason (:class:`Reason`): a pair whose newest row is younger
than the settle time (a record may still be on its way: in flight); a pair with a row that does
not fit the model (unknown state, a missing or mistyped attribute); and every pair the rows
alone cannot decide: a lone unmirrored Requested row (``request_state`` has not run, or its
record was lost, or an older release showed it and it was rejected), Requested and Pending of
different exchanges, and the combinations no stream rule leads to (a lone Pending row, Pending
beside Pending or Friends, two mirrored requests, a mirrored request beside Friends of another
exchange).

Each repair is one transaction conditioned on both rows being exactly as scanned (state,
exchange, mirrored, last updated; absent rows still absent), so a pair that changed in between is
skipped, never overwritten. Because a repair is what the late record's rule does, a late record
that arrives after the repair finds its work done and changes nothing: reconcile is safe on a
live table, in any order with redrive, and twice. None of its writes is a change a stream
function acts on, except deleting a lone Friends row, whose ``unfriend_state`` finds the other
row already gone.
"""

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError
from friend_models import (
    EXCHANGE_ID,
    FRIEND_ID,
    LAST_UPDATED,
    MIRRORED,
    PLAYER_ID,
    STATE,
    State,
    now_millis,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

SETTLE_SECONDS = 300
"""Default age a pair's newest row must have before it counts as settled: records normally
arrive in well under a second, and a stream lagging longer than five minutes has its own alarm
(iterator age), which is the thing to fix first."""

R, P, F = State.REQUESTED, State.PENDING, State.FRIENDS


@dataclass(frozen=True)
class Row:
    """One row as scanned; ``mirrored`` is ``None`` when the attribute is absent."""

    player_id: str
    friend_id: str
    state: State
    last_updated: int
    exchange_id: str | None = None
    mirrored: bool | None = None

    @property
    def is_mirrored(self) -> bool:
        return self.mirrored is True

    def item(self) -> dict[str, Any]:
        """The row as DynamoDB holds it: the optional attributes only where they are set."""
        item: dict[str, Any] = {
            PLAYER_ID: {"S": self.player_id},
            FRIEND_ID: {"S": self.friend_id},
            STATE: {"S": self.state.value},
            LAST_UPDATED: {"N": str(self.last_updated)},
        }
        if self.exchange_id is not None:
            item[EXCHANGE_ID] = {"S": self.exchange_id}
        if self.mirrored is not None:
            item[MIRRORED] = {"BOOL": self.mirrored}
        return item

    def same_exchange(self, other: "Row") -> bool:
        """Rows of one exchange (rows without an id, from before ids existed, are all one)."""
        return self.exchange_id == other.exchange_id

    def describe(self) -> str:
        tags = [tag for tag in (self.exchange_id, "mirrored" if self.is_mirrored else None) if tag]
        shown = f"[{', '.join(tags)}]" if tags else ""
        return f"({self.player_id},{self.friend_id})={self.state.value}{shown}"


@dataclass(frozen=True)
class UnreadableRow:
    """A row that does not fit the model: reported, never decided on."""

    player_id: str
    friend_id: str
    problem: str

    def describe(self) -> str:
        return f"({self.player_id},{self.friend_id}) unreadable: {self.problem}"


type Scanned = Row | UnreadableRow


@dataclass(frozen=True)
class Pair:
    """Both rows of a pair {a, b} as scanned (``a`` < ``b``; ``None``: absent)."""

    a: str
    b: str
    ab: Scanned | None
    ba: Scanned | None

    @property
    def rows(self) -> list[Row]:
        return [row for row in (self.ab, self.ba) if isinstance(row, Row)]

    @property
    def unreadable(self) -> list[UnreadableRow]:
        return [row for row in (self.ab, self.ba) if isinstance(row, UnreadableRow)]

    @property
    def is_valid(self) -> bool:
        """The invariant holds: Requested and Pending of one exchange, or Friends and Friends."""
        if not isinstance(self.ab, Row) or not isinstance(self.ba, Row):
            return False
        states = {self.ab.state, self.ba.state}
        return states == {F} or (states == {R, P} and self.ab.same_exchange(self.ba))

    @property
    def newest(self) -> int:
        return max((row.last_updated for row in self.rows), default=0)

    def describe(self) -> str:
        return ", ".join(
            row.describe() if row else f"({player},{friend}) absent"
            for player, friend, row in ((self.a, self.b, self.ab), (self.b, self.a, self.ba))
        )


class Rule(StrEnum):
    """A repair: what the stream rule named would have done for the record that was lost."""

    REJECTION = "a rejected request: delete it (reject_state)"
    UNFRIEND = "an unfriend: delete the other Friends row (unfriend_state)"
    ACCEPTANCE = "an accepted request: the requester's row Friends (accept_state)"
    MUTUAL_REQUEST = "a mutual request: both rows Friends (request_state)"
    REQUEST_AFTER_UNFRIEND = "a new request beside an old friendship: Pending (request_state)"
    REQUEST_AFTER_REJECTION = "a new request beside a rejected one: Pending (request_state)"


class Reason(StrEnum):
    """Why a broken pair was left alone."""

    IN_FLIGHT = "changed within the settle time: a stream record may still be on its way"
    UNREADABLE = "a row does not fit the model"
    REQUEST_NOT_SHOWN = (
        "a request never shown to the other player: its request_state record may be late or "
        "lost (redrive it), or an older release showed it and it was rejected"
    )
    EXCHANGES_DIFFER = "Requested and Pending of different exchanges"
    NO_RULE = "no stream rule leads here (written by hand or by an older tool)"


@dataclass(frozen=True)
class Repair:
    """The rows of ``pair`` after the repair (``None``: deleted), by ``rule``."""

    pair: Pair
    ab: Row | None
    ba: Row | None
    rule: Rule

    def describe(self) -> str:
        changes = [
            new.describe() if new else f"({player},{friend}) deleted"
            for player, friend, scanned, new in (
                (self.pair.a, self.pair.b, self.pair.ab, self.ab),
                (self.pair.b, self.pair.a, self.pair.ba, self.ba),
            )
            if scanned != new
        ]
        return f"{', '.join(changes)} ({self.rule.value})"


@dataclass(frozen=True)
class LeftAlone:
    pair: Pair
    reason: Reason


def decide(pair: Pair, now: int) -> Repair | Reason:
    """The repair of a broken, settled, readable pair, or why the rows cannot decide it
    (see the module docstring). Written rows are dated ``now``; a row that is only mirrored
    keeps its date, as ``request_state`` leaves it."""
    ab, ba = pair.ab, pair.ba
    assert not pair.unreadable and not pair.is_valid
    if ab is None or ba is None:
        (lone,) = pair.rows
        return _lone(pair, lone)
    assert isinstance(ab, Row) and isinstance(ba, Row)
    for first, second in ((ab, ba), (ba, ab)):
        decided = _two(first, second, now)
        if decided is not None:
            rows = dict(zip((first, second), decided[:2], strict=True))
            return Repair(pair, rows[ab], rows[ba], decided[2])
    if {ab.state, ba.state} == {R, P}:
        return Reason.EXCHANGES_DIFFER
    return Reason.NO_RULE


def _lone(pair: Pair, row: Row) -> Repair | Reason:
    if row.state is R and row.is_mirrored:
        return Repair(pair, None, None, Rule.REJECTION)
    if row.state is F:
        return Repair(pair, None, None, Rule.UNFRIEND)
    return Reason.REQUEST_NOT_SHOWN if row.state is R else Reason.NO_RULE


def _two(first: Row, second: Row, now: int) -> tuple[Row, Row, Rule] | None:
    """The repair when ``first`` is the row that decides it (a request), else ``None``."""
    if first.state is not R:
        return None
    if second.state is F and first.same_exchange(second):
        return _written(first, F, first.exchange_id, now), second, Rule.ACCEPTANCE
    if second.state is R and not second.is_mirrored and not first.is_mirrored:
        if first.player_id > second.player_id:
            return None  # one mutual request, decided from the pair's first row
        exchange_id = first.exchange_id
        both = _written(first, F, exchange_id, now), _written(second, F, exchange_id, now)
        return *both, Rule.MUTUAL_REQUEST
    rule = None if first.is_mirrored else REQUEST_BESIDE.get(second.state)
    if rule is None:
        return None
    return replace(first, mirrored=True), _written(second, P, first.exchange_id, now), rule


REQUEST_BESIDE: Mapping[State, Rule] = {
    F: Rule.REQUEST_AFTER_UNFRIEND,
    R: Rule.REQUEST_AFTER_REJECTION,
}
"""An unmirrored request beside Friends of another exchange, or beside a mirrored request: the
other row becomes Pending of the request, as ``request_state`` does."""


def _written(row: Row, state: State, exchange_id: str | None, now: int) -> Row:
    """``row`` as a repair writes it: the new state of that exchange, dated now."""
    return Row(row.player_id, row.friend_id, state, now, exchange_id)


def pairs(rows: Iterable[Scanned]) -> Iterator[Pair]:
    """Every pair that has at least one row."""
    table = {(row.player_id, row.friend_id): row for row in rows}
    for a, b in sorted({tuple(sorted(key)) for key in table}):
        yield Pair(a, b, table.get((a, b)), table.get((b, a)))


@dataclass(frozen=True)
class Findings:
    """What a scan found: every pair with a row, the repairs, what is left alone and why."""

    rows: int
    pairs: int
    repairs: list[Repair]
    left_alone: list[LeftAlone]

    @property
    def unreadable(self) -> list[UnreadableRow]:
        return [row for each in self.left_alone for row in each.pair.unreadable]

    def reasons(self) -> Counter[Reason]:
        return Counter(each.reason for each in self.left_alone)

    def rules(self) -> Counter[Rule]:
        return Counter(repair.rule for repair in self.repairs)


def check(rows: list[Scanned], *, settle_seconds: float, now: int | None = None) -> Findings:
    """The repairs ``rows`` need, and the broken pairs left alone (changed within
    ``settle_seconds``, unreadable, or undecidable)."""
    now = now_millis() if now is None else now
    settled_before = now - int(settle_seconds * 1000)
    every = list(pairs(rows))
    repairs: list[Repair] = []
    left_alone: list[LeftAlone] = []
    for pair in every:
        if pair.unreadable:
            left_alone.append(LeftAlone(pair, Reason.UNREADABLE))
        elif pair.is_valid:
            continue
        elif pair.newest > settled_before:
            left_alone.append(LeftAlone(pair, Reason.IN_FLIGHT))
        else:
            decided = decide(pair, now)
            if isinstance(decided, Repair):
                repairs.append(decided)
            else:
                left_alone.append(LeftAlone(pair, decided))
    return Findings(len(rows), len(every), repairs, left_alone)


class Outcome(StrEnum):
    REPAIRED = "repaired"
    CHANGED = "changed since the scan (skipped)"


@dataclass(frozen=True)
class Table:
    """The Friend table through the DynamoDB API."""

    client: "DynamoDBClient"
    name: str

    def approximate_rows(self) -> int:
        """DynamoDB's item count (refreshed about every six hours): a progress bar's total."""
        return self.client.describe_table(TableName=self.name)["Table"].get("ItemCount", 0)

    def scan(self, progress: Callable[[int], object] = lambda _: None) -> list[Scanned]:
        """Every row, read consistently; ``progress`` is told how many each page brought."""
        rows: list[Scanned] = []
        pages = self.client.get_paginator("scan").paginate(TableName=self.name, ConsistentRead=True)
        for page in pages:
            rows.extend(read_row(item) for item in page["Items"])
            progress(len(page["Items"]))
        return rows

    def apply(self, repair: Repair) -> Outcome:
        """Write ``repair`` if both rows are still exactly as scanned."""
        pair = repair.pair
        items = [
            self._item(player, friend, scanned, new)
            for player, friend, scanned, new in (
                (pair.a, pair.b, pair.ab, repair.ab),
                (pair.b, pair.a, pair.ba, repair.ba),
            )
        ]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                return Outcome.CHANGED
            raise
        return Outcome.REPAIRED

    def _item(
        self, player: str, friend: str, scanned: Scanned | None, new: Row | None
    ) -> "TransactWriteItemTypeDef":
        """One row's part of the repair, conditioned on the row being exactly as scanned."""
        assert not isinstance(scanned, UnreadableRow), "an unreadable pair is never repaired"
        key = {PLAYER_ID: {"S": player}, FRIEND_ID: {"S": friend}}
        guard = {"TableName": self.name, **_exactly(scanned)}
        if scanned == new:
            part = {"ConditionCheck": {"Key": key, **guard}}
        elif new is None:
            part = {"Delete": {"Key": key, **guard}}
        else:
            part = {"Put": {"Item": new.item(), **guard}}
        return cast("TransactWriteItemTypeDef", part)


def _exactly(scanned: Row | None) -> dict[str, Any]:
    """A condition that holds only while the row is exactly ``scanned`` (or still absent)."""
    if scanned is None:
        return {
            "ConditionExpression": "attribute_not_exists(#player)",
            "ExpressionAttributeNames": {"#player": PLAYER_ID},
        }
    names = {
        "#state": STATE,
        "#updated": LAST_UPDATED,
        "#exchange": EXCHANGE_ID,
        "#shown": MIRRORED,
    }
    values: dict[str, Any] = {
        ":state": {"S": scanned.state.value},
        ":updated": {"N": str(scanned.last_updated)},
    }
    terms = ["#state = :state", "#updated = :updated"]
    if scanned.exchange_id is None:
        terms.append("attribute_not_exists(#exchange)")
    else:
        terms.append("#exchange = :exchange")
        values[":exchange"] = {"S": scanned.exchange_id}
    if scanned.mirrored is None:
        terms.append("attribute_not_exists(#shown)")
    else:
        terms.append("#shown = :shown")
        values[":shown"] = {"BOOL": scanned.mirrored}
    return {
        "ConditionExpression": " AND ".join(terms),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def read_row(item: Mapping[str, Any]) -> Scanned:
    """The row an item holds, or why it does not fit the model."""
    player, friend = item[PLAYER_ID]["S"], item[FRIEND_ID]["S"]
    problems = []
    state = item.get(STATE, {}).get("S")
    if state not in set(State):
        problems.append(f"{STATE} {_shown(item.get(STATE))} is not one of {', '.join(State)}")
    updated = item.get(LAST_UPDATED, {}).get("N")
    if updated is None or not updated.lstrip("-").isdigit():
        problems.append(f"{LAST_UPDATED} {_shown(item.get(LAST_UPDATED))} is not an integer")
    if EXCHANGE_ID in item and "S" not in item[EXCHANGE_ID]:
        problems.append(f"{EXCHANGE_ID} {_shown(item[EXCHANGE_ID])} is not a string")
    if MIRRORED in item and "BOOL" not in item[MIRRORED]:
        problems.append(f"{MIRRORED} {_shown(item[MIRRORED])} is not a boolean")
    if problems:
        return UnreadableRow(player, friend, "; ".join(problems))
    return Row(
        player,
        friend,
        State(state),
        int(updated),
        item.get(EXCHANGE_ID, {}).get("S"),
        item.get(MIRRORED, {}).get("BOOL"),
    )


def _shown(value: Mapping[str, Any] | None) -> str:
    return "missing" if value is None else repr(next(iter(value.values()), None))
