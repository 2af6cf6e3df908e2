"""Reconcile: find the pairs of the Friend table that break the invariant, and repair them.

The invariant (docs/design.md): once queues and streams are drained, for every pair {a, b} the rows
(a,b) and (b,a) are both absent, Requested and Pending, or Friends and Friends. A pair breaks it
when a stream record was lost (redrive could not bring it back, or it expired) or the table was
written by hand.

The repair rule, decided from the two rows alone:

1. One row, ``Requested``: the request stands and its ``Pending`` mirror is missing; create it
   (what ``request_state`` would have done).
2. One row, ``Pending`` or ``Friends``: the other side is gone (the request was rejected or
   withdrawn, the friendship ended); delete it. A one-sided row cannot be completed without
   inventing the other player's decision.
3. Two ``Requested`` rows: a mutual request; both become ``Friends`` (as ``request_state``
   settles it).
4. Any other two rows: the newer row (``last_updated``; on a tie ``Friends`` before
   ``Requested`` before ``Pending``) is the pair's latest decision, and the older row becomes its
   mirror: Requested <-> Pending, Friends <-> Friends.

A pair whose newest row is younger than the settle time may still have a stream record on its
way: it is reported as in flight and left alone. Each repair is one transaction conditioned on
both rows still being exactly as scanned, so a pair that changed in between is skipped, never
overwritten: reconcile is safe on a live table and safe to run twice. Rows it writes are dated
now, and never before the row they mirror. None of its writes matches a stream filter that
would act on it, except a Pending -> Friends update (rule 4), whose ``accept_state`` reaction
finds the mirror already Friends and changes nothing.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError
from friend_models import FRIEND_ID, LAST_UPDATED, PLAYER_ID, STATE, State, now_millis

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

SETTLE_SECONDS = 300
"""Default age a pair's newest row must have before it counts as settled: records normally
arrive in well under a second, and a stream lagging longer than five minutes has its own alarm
(iterator age), which is the thing to fix first."""

VALID: frozenset[tuple[State | None, State | None]] = frozenset(
    {
        (None, None),
        (State.REQUESTED, State.PENDING),
        (State.PENDING, State.REQUESTED),
        (State.FRIENDS, State.FRIENDS),
    }
)
"""The states a pair's two rows may have once everything has propagated."""
MIRROR: Mapping[State, State] = {
    State.REQUESTED: State.PENDING,
    State.PENDING: State.REQUESTED,
    State.FRIENDS: State.FRIENDS,
}
PRECEDENCE: Mapping[State, int] = {State.FRIENDS: 2, State.REQUESTED: 1, State.PENDING: 0}
"""Tie-break between two rows written in the same millisecond: the further the exchange got."""


@dataclass(frozen=True)
class Row:
    player_id: str
    friend_id: str
    state: State
    last_updated: int

    def describe(self) -> str:
        return f"({self.player_id},{self.friend_id})={self.state.value}"


@dataclass(frozen=True)
class Pair:
    """Both rows of a pair {a, b} as scanned (``a`` < ``b``; ``None``: absent)."""

    a: str
    b: str
    ab: Row | None
    ba: Row | None

    @property
    def states(self) -> tuple[State | None, State | None]:
        return (self.ab.state if self.ab else None, self.ba.state if self.ba else None)

    @property
    def is_valid(self) -> bool:
        return self.states in VALID

    @property
    def newest(self) -> int:
        return max(row.last_updated for row in (self.ab, self.ba) if row)

    def describe(self) -> str:
        ab = self.ab.describe() if self.ab else f"({self.a},{self.b}) absent"
        ba = self.ba.describe() if self.ba else f"({self.b},{self.a}) absent"
        return f"{ab}, {ba}"


class Rule(StrEnum):
    MIRROR_MISSING = "a request without its Pending mirror: create it"
    OTHER_SIDE_GONE = "a one-sided Pending or Friends row: delete it"
    MUTUAL_REQUEST = "a mutual request: both rows Friends"
    NEWER_ROW_WINS = "the newer row stands: the older becomes its mirror"


@dataclass(frozen=True)
class Repair:
    """New states for both rows of ``pair`` (``None``: deleted), by ``rule``."""

    pair: Pair
    ab: State | None
    ba: State | None
    rule: Rule

    def describe(self) -> str:
        pair = self.pair
        changes = [
            f"({player},{friend}) {new.value if new else 'deleted'}"
            for player, friend, row, new in (
                (pair.a, pair.b, pair.ab, self.ab),
                (pair.b, pair.a, pair.ba, self.ba),
            )
            if (row.state if row else None) != new
        ]
        return f"{', '.join(changes)} ({self.rule.value})"


def repair_for(pair: Pair) -> Repair:
    """The repair of a broken pair (see the module docstring for the rule)."""
    ab, ba = pair.ab, pair.ba
    if ab is None or ba is None:
        (row,) = [r for r in (ab, ba) if r is not None]
        if row.state is State.REQUESTED:
            mirrored = MIRROR[row.state]
            rule = Rule.MIRROR_MISSING
            return Repair(pair, ab.state if ab else mirrored, ba.state if ba else mirrored, rule)
        return Repair(pair, None, None, Rule.OTHER_SIDE_GONE)
    if ab.state is State.REQUESTED and ba.state is State.REQUESTED:
        return Repair(pair, State.FRIENDS, State.FRIENDS, Rule.MUTUAL_REQUEST)
    ab_newer = (ab.last_updated, PRECEDENCE[ab.state], ab.player_id) > (
        ba.last_updated,
        PRECEDENCE[ba.state],
        ba.player_id,
    )
    if ab_newer:
        return Repair(pair, ab.state, MIRROR[ab.state], Rule.NEWER_ROW_WINS)
    return Repair(pair, MIRROR[ba.state], ba.state, Rule.NEWER_ROW_WINS)


def pairs(rows: Iterable[Row]) -> Iterator[Pair]:
    """Every pair that has at least one row."""
    table = {(row.player_id, row.friend_id): row for row in rows}
    for a, b in sorted({tuple(sorted(key)) for key in table}):
        yield Pair(a, b, table.get((a, b)), table.get((b, a)))


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

    def scan(self, progress: Callable[[int], object] = lambda _: None) -> list[Row]:
        """Every row, read consistently; ``progress`` is told how many each page brought."""
        rows: list[Row] = []
        pages = self.client.get_paginator("scan").paginate(TableName=self.name, ConsistentRead=True)
        for page in pages:
            rows.extend(_row(item) for item in page["Items"])
            progress(len(page["Items"]))
        return rows

    def apply(self, repair: Repair) -> Outcome:
        """Write ``repair`` if both rows are still as scanned."""
        pair, now = repair.pair, now_millis()
        written_at = max(now, pair.newest)  # never dated before the row it mirrors
        items = [
            self._item(player, friend, scanned, new, written_at)
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
        self, player: str, friend: str, scanned: Row | None, new: State | None, written_at: int
    ) -> "TransactWriteItemTypeDef":
        """One row's part of the repair, conditioned on the row being exactly as scanned."""
        key = {PLAYER_ID: {"S": player}, FRIEND_ID: {"S": friend}}
        guard: dict[str, Any] = {"TableName": self.name}
        if scanned is None:
            guard["ConditionExpression"] = "attribute_not_exists(#player)"
            guard["ExpressionAttributeNames"] = {"#player": PLAYER_ID}
        else:
            guard["ConditionExpression"] = "#state = :state AND #updated = :updated"
            guard["ExpressionAttributeNames"] = {"#state": STATE, "#updated": LAST_UPDATED}
            guard["ExpressionAttributeValues"] = {
                ":state": {"S": scanned.state.value},
                ":updated": {"N": str(scanned.last_updated)},
            }
        if (scanned.state if scanned else None) == new:
            part = {"ConditionCheck": {"Key": key, **guard}}
        elif new is None:
            part = {"Delete": {"Key": key, **guard}}
        else:
            item = {**key, STATE: {"S": new.value}, LAST_UPDATED: {"N": str(written_at)}}
            part = {"Put": {"Item": item, **guard}}
        return cast("TransactWriteItemTypeDef", part)


def _row(item: Mapping[str, Any]) -> Row:
    return Row(
        player_id=item[PLAYER_ID]["S"],
        friend_id=item[FRIEND_ID]["S"],
        state=State(item[STATE]["S"]),
        last_updated=int(item[LAST_UPDATED]["N"]),
    )


@dataclass(frozen=True)
class Findings:
    """What a scan found: every pair with a row, and which are broken or still in flight."""

    rows: int
    pairs: int
    broken: list[Pair]
    in_flight: list[Pair]


def check(rows: list[Row], *, settle_seconds: float, now: int | None = None) -> Findings:
    """The broken pairs of ``rows``, apart from those changed within ``settle_seconds``."""
    settled_before = (now if now is not None else now_millis()) - int(settle_seconds * 1000)
    every = list(pairs(rows))
    invalid = [pair for pair in every if not pair.is_valid]
    return Findings(
        rows=len(rows),
        pairs=len(every),
        broken=[pair for pair in invalid if pair.newest <= settled_before],
        in_flight=[pair for pair in invalid if pair.newest > settled_before],
    )
