"""How a change of one row is mirrored on the other row of its pair (the stream side).

Each reaction gets the key of the row that changed (the *source*) and writes the *mirror* row
(same pair, other player) in a transaction guarded by the source row's current state. The guard
is what makes stream delivery safe: records arrive at least once, the four filtered mappings run
independently of each other, and a record may be handled long after its row changed again. A
reaction whose source row has moved on changes nothing.

Together the reactions keep the invariant of design.md: once queues and streams are drained,
the rows (a,b) and (b,a) are both absent, Requested and Pending, or Friends and Friends.
"""

import random
import time
from collections.abc import Callable
from enum import StrEnum

from friend_models import State

from friend_handlers.dal import Change, Edge, TransactionConflictError, apply, state_of

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
    IGNORED = "Ignored"
    """The source row has moved on, or the mirror row already reflects it (a duplicate)."""


class ContendedError(RuntimeError):
    """The rows kept changing under a reaction; the record fails and the stream retries it."""


def on_requested(source: Edge) -> Transition:
    """``source`` was inserted as Requested: give the other player a Pending row.

    Decided from the mirror row's current state, each decision guarded by the source row
    still being Requested:

    - absent: create it as Pending.
    - Requested: both players asked; both rows become Friends in one transaction.
    - Pending: already done (a duplicate record).
    - Friends: the requester unfriended and asked again before the unfriend reached the mirror
      row; the mirror becomes Pending, which the late unfriend then leaves alone.

    When a guard fails the rows changed in between: read again and decide again.
    """
    mirror = source.mirror()

    def attempt() -> Transition | None:
        if state_of(source) is not State.REQUESTED:
            return Transition.IGNORED
        guard = Change(source, State.REQUESTED, State.REQUESTED)
        match state_of(mirror):
            case None:
                changes = (guard, Change(mirror, None, State.PENDING))
                transition = Transition.PENDING_CREATED
            case State.REQUESTED:
                changes = (
                    Change(source, State.REQUESTED, State.FRIENDS),
                    Change(mirror, State.REQUESTED, State.FRIENDS),
                )
                transition = Transition.MUTUAL_REQUEST_SETTLED
            case State.PENDING:
                return Transition.IGNORED
            case State.FRIENDS:
                changes = (guard, Change(mirror, State.FRIENDS, State.PENDING))
                transition = Transition.FRIENDS_REOPENED_AS_PENDING
        return transition if apply(*changes) else None

    return _settle(attempt)


def on_accepted(source: Edge) -> Transition:
    """``source`` went from Pending to Friends: the requester's row becomes Friends too."""
    return _mirror_once(
        Change(source, State.FRIENDS, State.FRIENDS),
        Change(source.mirror(), State.REQUESTED, State.FRIENDS),
        Transition.REQUEST_ACCEPTED,
    )


def on_pending_removed(source: Edge) -> Transition:
    """``source`` (Pending) was deleted, a rejection: delete the requester's Requested row."""
    return _mirror_once(
        Change(source, None, None),
        Change(source.mirror(), State.REQUESTED, None),
        Transition.REQUEST_REJECTED,
    )


def on_friends_removed(source: Edge) -> Transition:
    """``source`` (Friends) was deleted, an unfriend: delete the other Friends row."""
    return _mirror_once(
        Change(source, None, None),
        Change(source.mirror(), State.FRIENDS, None),
        Transition.FRIENDSHIP_ENDED,
    )


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
