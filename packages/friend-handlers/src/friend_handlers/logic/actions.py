"""The transitions a player asks for through the front queue (docs/design.md, "Transitions").

Each action is one compare-and-set on the sender's own row, written together with the record of
the message that asked for it (:mod:`friend_handlers.redelivery`); the other player's row follows
through the table's stream (:mod:`.reactions`). A duplicate or late action finds its row in
another state and changes nothing. A Request opens an exchange: it draws the exchange id that the
other player's Pending row and both Friends rows will carry.
"""

from collections.abc import Callable, Mapping
from enum import StrEnum

from friend_models import State

from friend_handlers import dal
from friend_handlers.logic.message import FriendAction, FriendMessage


class Outcome(StrEnum):
    APPLIED = "Applied"
    IGNORED = "Ignored"
    """The row was not in the state the action needs (duplicate, late, or out of order)."""


TRANSITIONS: Mapping[FriendAction, tuple[State | None, State | None]] = {
    FriendAction.REQUEST: (None, State.REQUESTED),
    FriendAction.ACCEPT: (State.PENDING, State.FRIENDS),
    FriendAction.REJECT: (State.PENDING, None),
    FriendAction.UNFRIEND: (State.FRIENDS, None),
}
"""Action -> (state the sender's row must have, state it gets); ``None`` means no row."""


def apply_action(message: FriendMessage, record: Callable[[Outcome], dal.Mark]) -> Outcome:
    """Apply ``message`` to the sender's row if its rule allows it, and write ``record(outcome)``
    (the record that the message was handled) with it: in the same transaction when it applies,
    on its own when it is ignored. Raises :class:`friend_handlers.dal.AlreadyMarkedError` when
    the record is there already (a copy of a message handled before), having changed nothing.

    A write that collides with a stream transaction on the same row is retried in place, a few
    times with jittered backoff (:func:`friend_handlers.dal.settle`), rather than failing the
    record and waiting out the queue's visibility timeout.
    """
    expected, new = TRANSITIONS[message.friend_action]
    edge = dal.Edge(message.player_id, message.friend_id)
    target = dal.Status(new, dal.new_exchange_id()) if new is State.REQUESTED else new
    change = dal.Change(edge, expected, target)

    def attempt() -> Outcome:
        if dal.apply(change, mark=record(Outcome.APPLIED)):
            return Outcome.APPLIED
        dal.apply(mark=record(Outcome.IGNORED))
        return Outcome.IGNORED

    return dal.settle(attempt)
