"""The rules under an adversarial schedule: a hypothesis state machine drives the real handlers.

Three players send actions (random ones, and ones their rows allow, which move pairs along); the
machine decides everything the platform does not promise: how front batches are cut, which SQS
messages come again (same message id, alone or inside a later batch), where the front crashes
between its writes (before a write, after it with the answer lost, or with the host dead; the
message then comes again), which stream records each of the four mappings takes next (the
records of one row stay in order, records of different rows do not), which records a mapping
gets again however late (any it had before: redelivered or redriven), when a write meets a
transaction in progress on its row, and each invocation's host clock (up to two seconds off
either way). After every drain the invariant of docs/design.md must hold and every pair must be
what its players last asked (the actions the front applied, folded in order:
:class:`.harness.Intent`); a redelivered message must change nothing at all."""

import os
import random
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from itertools import permutations
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError
from friend_handlers.dead_letter import DLQ_URL_ENV
from friend_models import State
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    precondition,
    rule,
    run_state_machine_as_test,
)
from moto import mock_aws

from .conftest import (
    IDEMPOTENCY_TABLE_NAME,
    HostDied,
    injected_dynamodb_faults,
    injected_lost_answers,
    make_lambda_context,
    resources,
)
from .harness import STREAM_HANDLERS, Chain, assert_invariant, message, rows, table_items

PLAYERS = ("ann", "bob", "cat")
PAIRS = list(permutations(PLAYERS, 2))
ACTIONS = ("Request", "Accept", "Reject", "Unfriend")
NEXT_ACTIONS: dict[State | None, tuple[str, ...]] = {
    None: ("Request",),
    State.REQUESTED: (),
    State.PENDING: ("Accept", "Reject"),
    State.FRIENDS: ("Unfriend",),
}
"""What a player's row allows its owner to do next."""
CRASH_POINTS = ("before the write", "answer lost", "host died")
MAX_SKEW_MS = 2_000
SKEWS = st.integers(-MAX_SKEW_MS, MAX_SKEW_MS)
PICKS = st.integers(0, 2**16)
"""Indexes into whatever is there to choose from (taken modulo its length)."""

SINGLE_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
CONFLICTS = {
    "write": {"Code": "TransactionConflictException", "Message": "Transaction is ongoing"},
    "transaction": {
        "Code": "TransactionCanceledException",
        "Message": "Transaction cancelled [TransactionConflict]",
    },
}


@contextmanager
def environment(name: str, value: str) -> Iterator[None]:
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            del os.environ[name]
        else:
            os.environ[name] = previous


class FriendRules(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._resources = ExitStack()
        self.aws = self._resources.enter_context(resources())
        self._resources.enter_context(environment(DLQ_URL_ENV, self.aws.dlq_url))
        faults = self._resources.enter_context(injected_dynamodb_faults())
        faults.append(self._meet_a_transaction)
        faults.append(self._crash_before)
        self._resources.enter_context(injected_lost_answers()).append(self._crash_after)
        self.collisions: list[str] = []
        self.crash: list[tuple[str, int]] = []
        """The armed crash: where, and how many of the front's writes to let through first."""
        self.chain = Chain(self.aws, make_lambda_context())
        self.chain.front_may_fail = True

    def teardown(self) -> None:
        self._resources.close()

    def _meet_a_transaction(self, operation: str, request: dict[str, Any]) -> dict[str, Any] | None:
        """Answer the next write of an armed kind as DynamoDB does when a transaction holds
        the row: a single-item write fails, a transaction is cancelled."""
        kind = "write" if operation in SINGLE_WRITES else "transaction"
        if operation not in SINGLE_WRITES | {"TransactWriteItems"} or kind not in self.collisions:
            return None
        self.collisions.remove(kind)
        error = dict(CONFLICTS[kind])
        if kind == "transaction":
            error["CancellationReasons"] = [
                {"Code": "TransactionConflict"} for _ in request["TransactItems"]
            ]
        return error

    def _strikes(self, operation: str, request: dict[str, Any], points: set[str]) -> str | None:
        """The armed crash point, when this call is the front's write it is armed for."""
        tables = [
            next(iter(item.values()))["TableName"] for item in request.get("TransactItems", [])
        ]
        if (
            not self.crash
            or operation != "TransactWriteItems"
            or IDEMPOTENCY_TABLE_NAME not in tables
        ):
            return None
        point, skip = self.crash[0]
        if point not in points:
            return None
        if skip:
            self.crash[0] = (point, skip - 1)
            return None
        self.crash.clear()
        return point

    def _crash_before(self, operation: str, request: dict[str, Any]) -> dict[str, Any] | None:
        if self._strikes(operation, request, {"before the write"}) is None:
            return None
        return {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}

    def _crash_after(self, operation: str, request: dict[str, Any]) -> BaseException | None:
        point = self._strikes(operation, request, {"answer lost", "host died"})
        if point is None:
            return None
        return HostDied() if point == "host died" else ReadTimeoutError(endpoint_url="dynamodb")

    @precondition(lambda self: not self.crash)
    @rule(point=st.sampled_from(CRASH_POINTS), skip=st.integers(0, 3))
    def crash_front(self, point: str, skip: int) -> None:
        """One of the front's next writes (a row with its message's record, or a record alone)
        fails: before DynamoDB sees it, or after it took effect with the answer lost or the
        host dead. SQS then delivers the message again; it must apply at most once."""
        self.crash.append((point, skip))

    @rule(pair=st.sampled_from(PAIRS), action=st.sampled_from(ACTIONS))
    def send(self, pair: tuple[str, str], action: str) -> None:
        self.chain.act(message(*pair, action))

    @rule(pick=PICKS)
    def answer(self, pick: int) -> None:
        """A player sends an action that their row, as it is now, allows (what a client does
        after looking at its state): this is what moves pairs along."""
        table = rows(self.aws)
        allowed = [
            (player, friend, action)
            for player, friend in PAIRS
            for action in NEXT_ACTIONS[table.get((player, friend))]
        ]
        if allowed:  # none while every row waits as Requested
            self.chain.act(message(*allowed[pick % len(allowed)]))

    @rule(batch_size=st.integers(1, 10), skew=SKEWS, copies=st.lists(PICKS, max_size=2))
    def run_front(self, batch_size: int, skew: int, copies: list[int]) -> None:
        """One front batch; ``copies``: messages handled before, delivered again inside it."""
        handled = self.chain.messages
        again = [handled[pick % len(handled)] for pick in copies] if handled else []
        self.chain.run_front(batch_size, max_batches=1, skew_ms=skew, copies=again)

    @precondition(lambda self: self.chain.messages and not self.crash)
    @rule(pick=PICKS, skew=SKEWS)
    def redeliver(self, pick: int, skew: int) -> None:
        """SQS delivers a handled message again, on its own: nothing may change."""
        self.chain.collect_stream()
        before = table_items(self.aws)
        self.chain.redeliver(self.chain.messages[pick % len(self.chain.messages)], skew)
        assert table_items(self.aws) == before, "a redelivered message changed the table"
        assert self.chain.stream.read() == [], "a redelivered message wrote to the table"

    @rule(
        name=st.sampled_from(sorted(STREAM_HANDLERS)),
        row_pick=PICKS,
        count=st.integers(1, 3),
        stale=st.none() | PICKS,
        skew=SKEWS,
    )
    def deliver_stream(
        self, name: str, row_pick: int, count: int, stale: int | None, skew: int
    ) -> None:
        """One batch for one mapping: the next records of one row, maybe with a record that
        mapping has had before."""
        self.chain.collect_stream()
        waiting = self.chain.pending_rows(name)
        batch = self.chain.take(name, waiting[row_pick % len(waiting)], count) if waiting else []
        seen = self.chain.delivered_to[name]
        if stale is not None and seen:
            batch.append(seen[stale % len(seen)])
        self.chain.deliver_stream(name, batch, skew)

    @precondition(lambda self: any(self.chain.delivered_to.values()))
    @rule(name=st.sampled_from(sorted(STREAM_HANDLERS)), pick=PICKS, skew=SKEWS)
    def replay_stale(self, name: str, pick: int, skew: int) -> None:
        """A record this mapping has had before comes again, on its own, however late
        (redelivered, or redriven by an operator)."""
        seen = self.chain.delivered_to[name]
        if seen:
            self.chain.deliver_stream(name, [seen[pick % len(seen)]], skew)

    @precondition(lambda self: not self.collisions)
    @rule(kind=st.sampled_from(sorted(CONFLICTS)))
    def collide(self, kind: str) -> None:
        """The next write of this kind meets a transaction in progress on its row (one at a
        time: a write that meets one on every attempt fails its record, by design)."""
        self.collisions.append(kind)

    @rule(rng=st.randoms(use_true_random=False))
    def drain_and_check(self, rng: random.Random) -> None:
        """Everything delivered, in a random order on random clocks; then the invariant."""
        self.chain.rng, self.chain.max_skew_ms = rng, MAX_SKEW_MS
        try:
            self.chain.drain()
        finally:
            self.chain.rng, self.chain.max_skew_ms = None, 0
        table = assert_invariant(self.aws)
        broken = self.chain.intent.broken(table, PLAYERS)
        assert not broken, "rows differ from what the players asked: " + "; ".join(broken)


@pytest.fixture(scope="module")
def moto_account() -> Iterator[None]:
    """One moto account for all runs of the machine (starting moto is the slow part); each run
    creates its own tables and queues and deletes them again."""
    with mock_aws():
        yield


@pytest.mark.slow
@pytest.mark.usefixtures("moto_account")
def test_the_rules_hold_under_any_schedule() -> None:
    run_state_machine_as_test(
        FriendRules,
        settings=settings(
            max_examples=int(os.environ.get("FRIEND_RULES_EXAMPLES", "30")),
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
