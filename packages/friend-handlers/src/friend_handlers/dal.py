"""Access to the Friend table: every write is a compare-and-set of one row.

The whole friend graph moves by :class:`Change`: "if this row is in state X (of exchange E,
mirrored or not), or absent, make it state Y (of exchange F), or delete it". One change is a
single conditional write; several changes are one DynamoDB transaction, applied all or nothing.
A :class:`Mark` (an item of another table, written only if absent) can join the transaction, so
that a decision and the record of having made it are one write. A condition that no longer
holds is an answer (``False``), not an error: duplicates and late messages are expected and
change nothing. A write that collided with a transaction on the same row is retried in place
(:func:`settle`). Every call first checks that the invocation has time for it
(:mod:`.deadline`).
"""

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from friend_models import FRIEND_ID, PLAYER_ID, Friend, State, now_millis, transact_write
from pynamodb.exceptions import DoesNotExist, PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from friend_handlers import deadline

CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailedException"
CONDITION_FAILED_REASON = "ConditionalCheckFailed"
"""A transaction item's cancellation reason when its own condition did not hold."""
TRANSACTION_CANCELED = "TransactionCanceledException"
TRANSACTION_CONFLICT = "TransactionConflictException"
"""A single-row write that met a transaction in progress on the same row. botocore does not
retry it (only TransactionInProgressException), so :func:`settle` does."""

MAX_ATTEMPTS = 5
"""Attempts before a contended write gives up and fails its record (its source retries it)."""
BACKOFF_SECONDS = 0.02
"""Base of the jittered exponential backoff after a transaction conflict: a DynamoDB transaction
holds its rows for milliseconds, so five attempts span a few hundred at most."""

clock: Callable[[], int] = now_millis
"""Where ``last_updated`` comes from: this host's clock, in epoch milliseconds. The stamp is
information for readers; no rule reads it, because two Lambda hosts' clocks need not agree. A
module-level seam so that tests can run each invocation on a clock of its own."""


class Edge(NamedTuple):
    """The key of one row: ``player_id``'s view of ``friend_id``."""

    player_id: str
    friend_id: str

    def mirror(self) -> "Edge":
        """The other row of the same pair."""
        return Edge(self.friend_id, self.player_id)


class Status(NamedTuple):
    """What the rules read of a row: its state, the exchange it belongs to (``None`` for a row
    written before exchange ids existed) and whether a Requested row has been mirrored (stream
    protocol 3, ``friend_models.MIRRORED``).

    ``mirrored`` as read is ``True`` or ``False``. As an expectation, ``None`` accepts either
    (the rules of protocol 2, which never read it); as a new status, anything but ``True``
    leaves the row without the mark.
    """

    state: State
    exchange_id: str | None
    mirrored: bool | None = None


def new_exchange_id() -> str:
    """A fresh exchange id, drawn when a player sends a Request. Random, so hosts need not agree
    on anything to draw distinct ones."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Change:
    """Compare-and-set of one row.

    ``expected``: ``None`` the row must be absent; a :class:`State` the row must be in it, of any
    exchange; a :class:`Status` the row must be in that state of that exchange.
    ``new``: ``None`` the row is deleted; a :class:`State` the row takes it and keeps its
    exchange; a :class:`Status` the row takes both. ``expected == new`` only checks the row (a
    guard).
    """

    edge: Edge
    expected: Status | State | None
    new: Status | State | None

    @property
    def is_check(self) -> bool:
        return self.expected == self.new

    def condition(self) -> Condition:
        expected = self.expected
        if expected is None:
            return Friend.player_id.does_not_exist()
        if isinstance(expected, State):
            return Friend.state == expected
        same_exchange = (
            Friend.exchange_id.does_not_exist()
            if expected.exchange_id is None
            else Friend.exchange_id == expected.exchange_id
        )
        condition: Condition = (Friend.state == expected.state) & same_exchange
        if expected.mirrored is True:
            condition &= Friend.mirrored == True  # noqa: E712 - a DynamoDB condition
        elif expected.mirrored is False:
            condition &= Friend.mirrored.does_not_exist() | (Friend.mirrored == False)  # noqa: E712
        return condition

    def new_row(self) -> Friend:
        """The row a change from absent writes."""
        new = self.new
        assert new is not None, "a change from absent to absent is a check"
        if isinstance(new, State):
            new = Status(new, None)
        return Friend(
            *self.edge,
            state=new.state,
            exchange_id=new.exchange_id,
            mirrored=True if new.mirrored else None,
            last_updated=clock(),
        )

    def update_actions(self) -> list[Action]:
        """What an update of an existing row sets. Marking a request as mirrored keeps its
        ``last_updated``: the request itself did not change."""
        new, expected = self.new, self.expected
        assert new is not None, "a deletion is not an update"
        if isinstance(new, State):
            return [Friend.state.set(new), Friend.last_updated.set(clock())]
        mirrored = Friend.mirrored.set(True) if new.mirrored else Friend.mirrored.remove()
        if isinstance(expected, Status) and expected[:2] == new[:2]:
            return [mirrored]
        exchange = (
            Friend.exchange_id.remove()
            if new.exchange_id is None
            else Friend.exchange_id.set(new.exchange_id)
        )
        return [Friend.state.set(new.state), exchange, mirrored, Friend.last_updated.set(clock())]


class Mark(NamedTuple):
    """An item of another table written in the same transaction as some changes, only while
    ``condition`` holds (e.g. "no item with this key yet"): the record that a decision was
    made, which a second attempt at the same decision finds."""

    item: Model
    condition: Condition


class AlreadyMarkedError(Exception):
    """The mark's condition did not hold: the decision it records was made before."""


class TransactionConflictError(Exception):
    """Another transaction touched the same rows at the same time; trying again may succeed."""


class UnreadableRow(NamedTuple):
    """A row that does not fit the model, e.g. a ``state`` this code does not know (written by
    a newer version or by hand). Readers of the API leave it out instead of failing."""

    edge: Edge
    problem: str


class UnreadableRowError(ValueError):
    """The row exists but does not fit the model (see :class:`UnreadableRow`)."""

    def __init__(self, row: UnreadableRow) -> None:
        super().__init__(f"row {row.edge} is unreadable: {row.problem}")
        self.row = row


class ContendedError(RuntimeError):
    """The rows kept changing under a decision; the record fails and its source retries it."""


def row_of(edge: Edge) -> Friend | None:
    """The current row (strongly consistent read), ``None`` when absent; raises
    :class:`UnreadableRowError` when it does not fit the model."""
    deadline.check()
    try:
        return Friend.get(*edge, consistent_read=True)
    except DoesNotExist:
        return None
    except ValueError as error:
        raise UnreadableRowError(UnreadableRow(edge, str(error))) from error


def status_of(edge: Edge) -> Status | None:
    """The current state and exchange of a row, ``None`` when absent."""
    row = row_of(edge)
    return None if row is None else Status(row.state, row.exchange_id, bool(row.mirrored))


def state_of(edge: Edge) -> State | None:
    """The current state of a row, ``None`` when absent."""
    status = status_of(edge)
    return None if status is None else status.state


def apply(*changes: Change, mark: Mark | None = None) -> bool:
    """Apply all ``changes`` and write ``mark``, or nothing. ``False`` when a change's condition
    did not hold; :class:`AlreadyMarkedError` when the mark's did not (whatever the changes'
    did: the decision was made before). With no changes, only the mark is written.

    Raises :class:`TransactionConflictError` when a write lost a race with a transaction
    (retryable), and lets every other DynamoDB error through so that the caller's record fails
    and is retried.
    """
    assert changes or mark is not None, "nothing to apply"
    deadline.check()
    if mark is None and len(changes) == 1 and not changes[0].is_check:
        return _apply_one(changes[0])
    return _apply_together(changes, mark)


def settle[T](attempt: Callable[[], T | None]) -> T:
    """Run ``attempt`` until it reaches a decision: ``None`` asks to decide again (the rows
    changed between reading and writing), a transaction conflict to back off and try again.
    Bounded, so a record never spins in one invocation: :class:`ContendedError` after
    :data:`MAX_ATTEMPTS`, and no attempt starts when the invocation has no time left for it
    (:class:`friend_handlers.deadline.OutOfTimeError`)."""
    for attempt_number in range(MAX_ATTEMPTS):
        deadline.check()
        try:
            decision = attempt()
        except TransactionConflictError:
            # Jitter spreads contending writers apart; not security-relevant.
            time.sleep(random.uniform(0, BACKOFF_SECONDS * 2**attempt_number))  # noqa: S311
            continue
        if decision is not None:
            return decision
    raise ContendedError(f"rows kept changing after {MAX_ATTEMPTS} attempts")


def _apply_one(change: Change) -> bool:
    try:
        if change.new is None:
            Friend(*change.edge).delete(condition=change.condition())
        elif change.expected is None:
            change.new_row().save(condition=change.condition())
        else:
            Friend(*change.edge).update(
                actions=change.update_actions(), condition=change.condition()
            )
    except PynamoDBException as error:
        if error.cause_response_code == CONDITIONAL_CHECK_FAILED:
            return False
        if error.cause_response_code == TRANSACTION_CONFLICT:
            raise TransactionConflictError(str(error)) from error
        raise
    return True


def _apply_together(changes: tuple[Change, ...], mark: Mark | None) -> bool:
    try:
        with transact_write() as transaction:
            if mark is not None:
                transaction.save(mark.item, condition=mark.condition)
            for change in changes:
                if change.is_check:
                    transaction.condition_check(Friend, *change.edge, condition=change.condition())
                elif change.new is None:
                    transaction.delete(Friend(*change.edge), condition=change.condition())
                elif change.expected is None:
                    transaction.save(change.new_row(), condition=change.condition())
                else:
                    transaction.update(
                        Friend(*change.edge),
                        actions=change.update_actions(),
                        condition=change.condition(),
                    )
    except TransactWriteError as error:
        if error.cause_response_code != TRANSACTION_CANCELED:
            raise
        reasons = [None if reason is None else reason.code for reason in error.cancellation_reasons]
        if mark is not None and reasons[_position_of_mark(changes)] == CONDITION_FAILED_REASON:
            raise AlreadyMarkedError(str(error)) from error
        codes = set(reasons)
        if CONDITION_FAILED_REASON in codes:
            return False
        if "TransactionConflict" in codes:
            raise TransactionConflictError(str(error)) from error
        raise
    return True


def _position_of_mark(changes: tuple[Change, ...]) -> int:
    """Where the mark is among a transaction's items, hence among its cancellation reasons.
    PynamoDB sends the items grouped: condition checks, deletions, puts (the mark is the first,
    as it is saved first), updates."""
    return sum(change.is_check or change.new is None for change in changes)


class RowsPage(NamedTuple):
    """One page of a player's rows, and where the next page starts."""

    rows: list[Friend]
    after: str | None
    """The ``friend_id`` to continue after; ``None`` once every row has been read."""
    unreadable: list[UnreadableRow]
    """Rows read but left out because they do not fit the model."""


def rows_of(
    player_id: str,
    *,
    limit: int,
    read_at_most: int,
    after_friend_id: str | None,
    state: State | None,
) -> RowsPage:
    """Rows of ``player_id`` in ``friend_id`` order after ``after_friend_id``, with exactly one
    DynamoDB Query, so the work of a call is bounded whatever the filter matches.

    The Query reads at most ``read_at_most`` rows (DynamoDB's ``Limit``, counted before the
    state filter, which DynamoDB applies after reading); of those that match, the first
    ``limit`` are returned. The page may thus be short or empty while ``after`` is not
    ``None``: rows remain to be read, not necessarily rows that match. Rows that do not fit
    the model are left out and reported in :attr:`RowsPage.unreadable`.
    """
    deadline.check()
    start = (
        None
        if after_friend_id is None
        else {PLAYER_ID: {"S": player_id}, FRIEND_ID: {"S": after_friend_id}}
    )
    query = Friend.query(
        player_id,
        page_size=read_at_most,
        last_evaluated_key=start,
        filter_condition=None if state is None else Friend.state == state,
    )
    page = next(query.page_iter)
    rows: list[Friend] = []
    unreadable: list[UnreadableRow] = []
    for item in page.get("Items", []):
        if len(rows) == limit:  # more rows were read than asked for: continue after the last
            return RowsPage(rows, rows[-1].friend_id, unreadable)
        try:
            rows.append(Friend.from_raw_data(item))
        except ValueError as error:
            edge = Edge(item[PLAYER_ID]["S"], item[FRIEND_ID]["S"])
            unreadable.append(UnreadableRow(edge, str(error)))
    last_key = page.get("LastEvaluatedKey")
    after = None if last_key is None else str(last_key[FRIEND_ID]["S"])
    return RowsPage(rows, after, unreadable)
