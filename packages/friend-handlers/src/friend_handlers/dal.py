"""Access to the Friend table: every write is a compare-and-set of one row's state.

The whole friend graph moves by :class:`Change`: "if this row is in state X (or absent), make it
state Y (or delete it)". One change is a single conditional write; several changes are one
DynamoDB transaction, applied all or nothing. A condition that no longer holds is an answer
(``False``), not an error: duplicates and late messages are expected and change nothing.
"""

from dataclasses import dataclass
from typing import NamedTuple

from friend_models import FRIEND_ID, PLAYER_ID, Friend, State, now_millis, transact_write
from pynamodb.exceptions import DoesNotExist, PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition

CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailedException"
TRANSACTION_CANCELED = "TransactionCanceledException"


class Edge(NamedTuple):
    """The key of one row: ``player_id``'s view of ``friend_id``."""

    player_id: str
    friend_id: str

    def mirror(self) -> "Edge":
        """The other row of the same pair."""
        return Edge(self.friend_id, self.player_id)


@dataclass(frozen=True)
class Change:
    """Compare-and-set of one row. ``None`` means absent: as ``expected`` the row must not exist,
    as ``new`` the row is deleted. ``expected == new`` only checks the row (a guard)."""

    edge: Edge
    expected: State | None
    new: State | None
    not_after: int | None = None
    """If set, the row must also have been written no later than this (epoch milliseconds)."""
    not_before: int | None = None
    """If set, the written ``last_updated`` is at least this: a row derived from another row is
    never dated before it, whatever the clocks of two Lambda hosts say."""

    def written_at(self) -> int:
        now = now_millis()
        return now if self.not_before is None else max(now, self.not_before)

    @property
    def is_check(self) -> bool:
        return self.expected == self.new

    def condition(self) -> Condition:
        if self.expected is None:
            return Friend.player_id.does_not_exist()
        condition = Friend.state == self.expected
        if self.not_after is not None:
            condition &= Friend.last_updated <= self.not_after
        return condition


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


def row_of(edge: Edge) -> Friend | None:
    """The current row (strongly consistent read), ``None`` when absent; raises
    :class:`UnreadableRowError` when it does not fit the model."""
    try:
        return Friend.get(*edge, consistent_read=True)
    except DoesNotExist:
        return None
    except ValueError as error:
        raise UnreadableRowError(UnreadableRow(edge, str(error))) from error


def state_of(edge: Edge) -> State | None:
    """The current state of a row, ``None`` when absent."""
    row = row_of(edge)
    return None if row is None else row.state


def apply(*changes: Change) -> bool:
    """Apply all ``changes`` or none. ``False`` when a condition did not hold.

    Raises :class:`TransactionConflictError` when a transaction lost a race (retryable), and
    lets every other DynamoDB error through so that the caller's record fails and is retried.
    """
    if len(changes) == 1 and not changes[0].is_check:
        return _apply_one(changes[0])
    return _apply_together(changes)


def _apply_one(change: Change) -> bool:
    row = Friend(*change.edge)
    try:
        if change.new is None:
            row.delete(condition=change.condition())
        elif change.expected is None:
            row.state = change.new
            row.last_updated = change.written_at()
            row.save(condition=change.condition())
        else:
            row.update(
                actions=[
                    Friend.state.set(change.new),
                    Friend.last_updated.set(change.written_at()),
                ],
                condition=change.condition(),
            )
    except PynamoDBException as error:
        if error.cause_response_code == CONDITIONAL_CHECK_FAILED:
            return False
        raise
    return True


def _apply_together(changes: tuple[Change, ...]) -> bool:
    try:
        with transact_write() as transaction:
            for change in changes:
                row = Friend(*change.edge)
                if change.is_check:
                    transaction.condition_check(Friend, *change.edge, condition=change.condition())
                elif change.new is None:
                    transaction.delete(row, condition=change.condition())
                elif change.expected is None:
                    row.state = change.new
                    row.last_updated = change.written_at()
                    transaction.save(row, condition=change.condition())
                else:
                    transaction.update(
                        row,
                        actions=[
                            Friend.state.set(change.new),
                            Friend.last_updated.set(change.written_at()),
                        ],
                        condition=change.condition(),
                    )
    except TransactWriteError as error:
        if error.cause_response_code != TRANSACTION_CANCELED:
            raise
        codes = {reason.code for reason in error.cancellation_reasons if reason is not None}
        if "ConditionalCheckFailed" in codes:
            return False
        if "TransactionConflict" in codes:
            raise TransactionConflictError(str(error)) from error
        raise
    return True


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
