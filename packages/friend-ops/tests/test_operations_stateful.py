"""The operations beside the players' traffic, as a hypothesis state machine (mark ``slow``).

Players' actions go through the real front function and the four real stream functions behind
their filtered mappings (in-process, on moto). Interleaved at any point: a mapping gives a batch
up (its records lost, or applied and timed out), ``reconcile --apply`` with no settle time (every
pair counts as settled, the worst case for a live table), redrive of any failure messages in any
order and again, stale replays of batches already handled, and redeliveries of queued actions.
After every drain (every mapping delivered, every failure redriven): the pair invariant holds,
reconcile finds nothing to repair, and every pair is as its players last asked
(:class:`~.service.Oracle`).

``FRIEND_OPS_EXAMPLES`` sets the number of examples (default 5; 100 for a long run).
"""

import os
from collections.abc import Callable
from contextlib import ExitStack

import pytest
from friend_ops.reconcile import Table, check
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from .conftest import TABLE_NAME, deployment
from .service import ACTIONS, HANDLERS, Delivery, Service

PLAYERS = ("ann", "bob", "cat")
STEPS = int(os.environ.get("FRIEND_OPS_STEPS", "30"))
EXAMPLES = int(os.environ.get("FRIEND_OPS_EXAMPLES", "5"))

pairs_of_players = st.tuples(st.sampled_from(PLAYERS), st.sampled_from(PLAYERS)).filter(
    lambda pair: pair[0] != pair[1]
)


class Operations(RuleBasedStateMachine):
    """Players and an operator on one deployment."""

    def __init__(self) -> None:
        super().__init__()
        self._resources = ExitStack()
        self.service = Service(self._resources.enter_context(deployment()))
        self.redriven = 0
        """How many failure messages, oldest first, were redriven at least once."""

    def teardown(self) -> None:
        """However the run ended, it must settle as asked."""
        with self._resources:
            self._settle(list)

    @initialize()
    def quiet(self) -> None:
        self.service.drain()

    @rule(actions=st.lists(st.tuples(pairs_of_players, st.sampled_from(ACTIONS)), max_size=3))
    def act(self, actions: list[tuple[tuple[str, str], str]]) -> None:
        """A few players' actions before any stream function runs."""
        for players, action in actions:
            self.service.act(*players, action)

    @rule(handler=st.sampled_from(HANDLERS), how=st.sampled_from(Delivery))
    def deliver(self, handler: str, how: Delivery) -> None:
        self.service.deliver(handler, how)

    @rule()
    def reconcile(self) -> None:
        table = Table(self.service.aws.dynamodb, TABLE_NAME)
        for repair in check(table.scan(), settle_seconds=0).repairs:
            table.apply(repair)

    @precondition(lambda self: self.service.failures)
    @rule(data=st.data())
    def redrive(self, data: st.DataObject) -> None:
        """Any failure messages, in any order, some again."""
        failures = self.service.failures
        chosen = data.draw(st.lists(st.sampled_from(failures), min_size=1, max_size=4))
        summary = self.service.redrive(chosen)
        assert summary.left == 0, summary.problems

    @precondition(lambda self: self.service.delivered)
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        """A batch already handed to its function is delivered to it once more."""
        handler, batch = data.draw(st.sampled_from(self.service.delivered))
        self.service.run(handler, batch)

    @precondition(lambda self: self.service.sent)
    @rule(data=st.data())
    def redeliver(self, data: st.DataObject) -> None:
        self.service.redeliver(data.draw(st.integers(0, len(self.service.sent) - 1)))

    @rule(data=st.data())
    def drain(self, data: st.DataObject) -> None:
        """Everything delivered, every failure not yet redriven redriven (in any order), then
        the pairs are checked."""
        self._settle(lambda waiting: data.draw(st.permutations(waiting)))

    def _settle(self, order: Callable[[list[str]], list[str]]) -> None:
        service = self.service
        service.drain()
        while self.redriven < len(service.failures):
            waiting = service.failures[self.redriven :]
            self.redriven = len(service.failures)
            summary = service.redrive(order(waiting))
            assert summary.left == 0, summary.problems
            service.drain()
        table = Table(service.aws.dynamodb, TABLE_NAME)
        findings = check(table.scan(), settle_seconds=0)
        assert (findings.repairs, findings.left_alone) == ([], []), findings
        service.assert_as_asked()


TestOperations = pytest.mark.slow(Operations.TestCase)
TestOperations.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
