"""How a change of one row is mirrored on the other row of its pair (the stream side).

Each reaction gets the key of the row that changed (the *source*) and the exchange that change
belongs to (``exchange_id`` of the record's image), and writes the *mirror* row (same pair,
other player) in a transaction guarded by the source row's current state. The guards are what
make stream delivery safe: records arrive at least once, the four filtered mappings run
independently of each other, and a record may be handled long after its row changed again. A
reaction whose source row has moved on changes nothing.

Exchange ids and the ``mirrored`` mark (stream protocol 3) break the ties that states alone
cannot. A Request draws an exchange id; the Pending twin carries it and acceptance keeps it, so
"the mirror row answers this very request" is an equality of ids, and a mirror row of another
exchange (an older friendship, a newer request) is told apart without asking when anything was
written. ``mirrored`` on a Requested row says the other player has been shown it, so a replayed
record of it is told from a request still to show. No rule reads ``last_updated``: it comes
from the writing host's clock, and two hosts' clocks need not agree.

Together the reactions keep the invariant of docs/design.md: once queues and streams are drained,
the rows (a,b) and (b,a) are both absent, Requested and Pending, or Friends and Friends.
"""

from collections.abc import Callable
from enum import StrEnum

from friend_models import State

from friend_handlers.dal import Change, Edge, Status, apply, settle, status_of


class Transition(StrEnum):
    """What a reaction did to the mirror row; each value is also a metric name."""

    PENDING_CREATED = "PendingCreated"
    MUTUAL_REQUEST_SETTLED = "MutualRequestSettled"
    FRIENDS_REOPENED_AS_PENDING = "FriendsReopenedAsPending"
    REJECTED_REQUEST_REPLACED = "RejectedRequestReplaced"
    """A request the other player had rejected (rejection in flight) gave way to theirs."""
    REQUEST_ACCEPTED = "RequestAccepted"
    REQUEST_REJECTED = "RequestRejected"
    FRIENDSHIP_ENDED = "FriendshipEnded"
    ACCEPTANCE_WITHDRAWN = "AcceptanceWithdrawn"
    IGNORED = "Ignored"
    """The source row has moved on, or the mirror row already reflects it (a duplicate)."""


type Reaction = Callable[[Edge, str | None], Transition]
"""A reaction to a change of the source row that belongs to the given exchange."""


def on_requested(source: Edge, _exchange_id: str | None) -> Transition:
    """``source`` was inserted as Requested: give the other player a Pending row, once.

    Acts only on a source row that is Requested and not yet mirrored (stream protocol 3): every
    write that shows the request to the other player also marks the source row ``mirrored``, so
    a replayed or redriven record of a request already shown changes nothing, even after the
    other player rejected it (the Pending row is gone) or accepted and unfriended. Decided from
    both rows as they are now (a late record acts on the current request, which is what its
    mirror must reflect, so the record's own exchange is not needed), each write guarded by the
    source row still being that unmirrored request. By the mirror row's state:

    - absent: create it as Pending, of the request's exchange; mark the source mirrored.
    - Requested, not mirrored: both players asked before either saw the other's request; both
      rows become Friends in one transaction, of the source's exchange, so that either side's
      unfriend later names the same exchange.
    - Requested and mirrored: a request the source's owner has seen and rejected (the rejection
      has not reached it yet), not a mutual request. It becomes Pending of the source's
      exchange, as below; the late rejection then finds its source present and changes nothing.
    - Pending: already done (a duplicate record of a request mirrored by a release before
      protocol 3, which did not mark it).
    - Friends of the request's exchange: the other player accepted this very request and
      ``accept_state`` will settle the source row; nothing to do here.
    - Friends of another exchange: the requester unfriended and asked again before the unfriend
      reached the mirror row; the mirror becomes Pending of the new request (source marked
      mirrored), which the late unfriend then leaves alone.

    When a guard fails the rows changed in between: read again and decide again.
    """
    mirror = source.mirror()

    def attempt() -> Transition | None:
        requested = status_of(source)
        if requested is None or requested.state is not State.REQUESTED or requested.mirrored:
            return Transition.IGNORED
        shown = Change(source, requested, requested._replace(mirrored=True))
        pending = Status(State.PENDING, requested.exchange_id)
        current = status_of(mirror)
        if current is None:
            changes = (shown, Change(mirror, None, pending))
            transition = Transition.PENDING_CREATED
        elif current.state is State.REQUESTED and not current.mirrored:
            changes = (
                Change(source, requested, State.FRIENDS),
                Change(mirror, current, Status(State.FRIENDS, requested.exchange_id)),
            )
            transition = Transition.MUTUAL_REQUEST_SETTLED
        elif current.state is State.REQUESTED:
            changes = (shown, Change(mirror, current, pending))
            transition = Transition.REJECTED_REQUEST_REPLACED
        elif current.state is State.PENDING or current.exchange_id == requested.exchange_id:
            return Transition.IGNORED
        else:
            changes = (shown, Change(mirror, current, pending))
            transition = Transition.FRIENDS_REOPENED_AS_PENDING
        return transition if apply(*changes) else None

    return settle(attempt)


def on_accepted(source: Edge, exchange_id: str | None) -> Transition:
    """``source`` went from Pending to Friends: the requester's row of the same exchange becomes
    Friends too, while ``source`` still is. A newer request (another exchange) stays as it is."""
    accepted = Status(State.FRIENDS, exchange_id)
    return _mirror_once(
        Change(source, accepted, accepted),
        Change(source.mirror(), Status(State.REQUESTED, exchange_id), accepted),
        Transition.REQUEST_ACCEPTED,
    )


def on_pending_removed(source: Edge, exchange_id: str | None) -> Transition:
    """``source`` (Pending) was deleted, a rejection: delete the requester's Requested row of the
    same exchange, while ``source`` is still gone. A newer request stays."""
    rejected = Change(source.mirror(), Status(State.REQUESTED, exchange_id), None)
    return _mirror_once(Change(source, None, None), rejected, Transition.REQUEST_REJECTED)


def on_friends_removed(source: Edge, exchange_id: str | None) -> Transition:
    """``source`` (Friends) was deleted, an unfriend: delete the other player's row.

    That row is Friends, or still Requested when the unfriend came right after an acceptance
    that had not yet reached it (same exchange); either way the pair ends. A Requested row of
    another exchange is a newer request and stays.
    """
    mirror = source.mirror()

    def attempt() -> Transition | None:
        if status_of(source) is not None:
            return Transition.IGNORED
        current = status_of(mirror)
        if current is None or current.state is State.PENDING:
            return Transition.IGNORED
        if current.state is State.FRIENDS:
            transition = Transition.FRIENDSHIP_ENDED
        elif current.exchange_id == exchange_id:
            transition = Transition.ACCEPTANCE_WITHDRAWN
        else:
            return Transition.IGNORED
        still_gone = Change(source, None, None)
        return transition if apply(still_gone, Change(mirror, current, None)) else None

    return settle(attempt)


def _mirror_once(guard: Change, change: Change, transition: Transition) -> Transition:
    """Apply ``change`` while ``guard`` holds. A failed condition means the pair has moved on
    (or the change was already made), so there is nothing to decide again."""
    return settle(lambda: transition if apply(guard, change) else Transition.IGNORED)
