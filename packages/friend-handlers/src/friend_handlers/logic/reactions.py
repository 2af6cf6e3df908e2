"""How a change of one row is mirrored on the other row of its pair (the stream side).

Each reaction gets the key of the row that changed (the *source*) and the time of that change
(``last_updated`` of the record's image), and writes the *mirror* row (same pair, other player)
in a transaction guarded by the source row's current state. The guards are what make stream
delivery safe: records arrive at least once, the four filtered mappings run independently of
each other, and a record may be handled long after its row changed again. A reaction whose
source row has moved on changes nothing.

Times break the ties that states alone cannot: a mirror row written *after* the change a record
reports belongs to a newer exchange between the two players and is left alone. Rows written
here are never dated before the row they answer (``Change.not_before``), so that comparison
does not depend on two Lambda hosts' clocks agreeing.

Together the reactions keep the invariant of design.md: once queues and streams are drained,
the rows (a,b) and (b,a) are both absent, Requested and Pending, or Friends and Friends.
"""

import random
import time
from collections.abc import Callable
from enum import StrEnum

from friend_models import State

from friend_handlers.dal import Change, Edge, TransactionConflictError, apply, row_of, state_of

MAX_ATTEMPTS = 5
"""Attempts before a contended reaction gives up and fails its record (the stream retries it)."""
BACKOFF_SECONDS = 0.02
"""Base of the jittered exponential backoff after a transaction conflict."""


class Transition(StrEnum):
    """What a reaction did to the mirror row; each value is also a metric name."""

    PENDING_CREATED = "PendingCreated"
    MUTUAL_REQUEST_SETTLED = "MutualRequestSettled"
    FRIENDS_REOPENED_AS_PENDING = "FriendsReopenedAsPending"
    REQUEST_ACCEPTED = "RequestAccepted"
    REQUEST_REJECTED = "RequestRejected"
    FRIENDSHIP_ENDED = "FriendshipEnded"
    ACCEPTANCE_WITHDRAWN = "AcceptanceWithdrawn"
    IGNORED = "Ignored"
    """The source row has moved on, or the mirror row already reflects it (a duplicate)."""


type Reaction = Callable[[Edge, int], Transition]


class ContendedError(RuntimeError):
    """The rows kept changing under a reaction; the record fails and the stream retries it."""


def on_requested(source: Edge, changed_at: int) -> Transition:
    """``source`` was inserted as Requested: give the other player a Pending row.

    Decided from both rows as they are now (a late record acts on the current request, which is
    what its mirror must reflect), each write guarded by the source row still being Requested.
    By the mirror row's state:

    - absent: create it as Pending.
    - Requested: both players asked; both rows become Friends in one transaction.
    - Pending: already done (a duplicate record).
    - Friends, written after the request: the other player accepted this very request and
      ``accept_state`` will settle the source row; nothing to do here.
    - Friends, written before the request: the requester unfriended and asked again before the
      unfriend reached the mirror row; the mirror becomes Pending, which the late unfriend then
      leaves alone.

    When a guard fails the rows changed in between: read again and decide again.
    """
    mirror = source.mirror()

    def attempt() -> Transition | None:
        requested = row_of(source)
        if requested is None or requested.state is not State.REQUESTED:
            return Transition.IGNORED
        guard = Change(source, State.REQUESTED, State.REQUESTED)
        asked_at = int(requested.last_updated)
        current = row_of(mirror)
        if current is None:
            changes = (guard, Change(mirror, None, State.PENDING, not_before=asked_at))
            transition = Transition.PENDING_CREATED
        elif current.state is State.REQUESTED:
            settled_at = max(asked_at, int(current.last_updated))
            changes = (
                Change(source, State.REQUESTED, State.FRIENDS, not_before=settled_at),
                Change(mirror, State.REQUESTED, State.FRIENDS, not_before=settled_at),
            )
            transition = Transition.MUTUAL_REQUEST_SETTLED
        elif current.state is State.PENDING or current.last_updated > requested.last_updated:
            return Transition.IGNORED
        else:
            changes = (
                guard,
                Change(
                    mirror, State.FRIENDS, State.PENDING, not_after=asked_at, not_before=asked_at
                ),
            )
            transition = Transition.FRIENDS_REOPENED_AS_PENDING
        return transition if apply(*changes) else None

    return _settle(attempt)


def on_accepted(source: Edge, changed_at: int) -> Transition:
    """``source`` went from Pending to Friends: the requester's row becomes Friends too, unless
    it is a newer request than the one accepted."""
    accepted = Change(
        source.mirror(),
        State.REQUESTED,
        State.FRIENDS,
        not_after=changed_at,
        not_before=changed_at,
    )
    return _mirror_once(
        Change(source, State.FRIENDS, State.FRIENDS), accepted, Transition.REQUEST_ACCEPTED
    )


def on_pending_removed(source: Edge, changed_at: int) -> Transition:
    """``source`` (Pending) was deleted, a rejection: delete the requester's Requested row,
    unless it is a newer request than the one rejected."""
    rejected = Change(source.mirror(), State.REQUESTED, None, not_after=changed_at)
    return _mirror_once(Change(source, None, None), rejected, Transition.REQUEST_REJECTED)


def on_friends_removed(source: Edge, changed_at: int) -> Transition:
    """``source`` (Friends) was deleted, an unfriend: delete the other player's row.

    That row is Friends, or still Requested when the unfriend came right after an acceptance
    that had not yet reached it; either way the pair ends. A Requested row written after the
    removed Friends row is a newer request and stays.
    """
    mirror = source.mirror()

    def attempt() -> Transition | None:
        if state_of(source) is not None:
            return Transition.IGNORED
        current = row_of(mirror)
        if current is None or current.state is State.PENDING:
            return Transition.IGNORED
        if current.state is State.FRIENDS:
            transition = Transition.FRIENDSHIP_ENDED
        elif current.last_updated <= changed_at:
            transition = Transition.ACCEPTANCE_WITHDRAWN
        else:
            return Transition.IGNORED
        change = Change(mirror, current.state, None, not_after=int(current.last_updated))
        return transition if apply(Change(source, None, None), change) else None

    return _settle(attempt)


def _mirror_once(guard: Change, change: Change, transition: Transition) -> Transition:
    """Apply ``change`` while ``guard`` holds. A failed condition means the pair has moved on
    (or the change was already made), so there is nothing to decide again."""
    return _settle(lambda: transition if apply(guard, change) else Transition.IGNORED)


def _settle(attempt: Callable[[], Transition | None]) -> Transition:
    """Run ``attempt`` until it reaches a decision: ``None`` asks to decide again, a transaction
    conflict to back off and try again. Bounded, so a record never spins in one invocation."""
    for attempt_number in range(MAX_ATTEMPTS):
        try:
            transition = attempt()
        except TransactionConflictError:
            # Jitter spreads the two sides of a mutual request apart; not security-relevant.
            time.sleep(random.uniform(0, BACKOFF_SECONDS * 2**attempt_number))  # noqa: S311
            continue
        if transition is not None:
            return transition
    raise ContendedError(f"rows kept changing after {MAX_ATTEMPTS} attempts")
