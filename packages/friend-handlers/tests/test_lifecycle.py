"""The whole chain in-process: SQS -> front -> table -> stream -> filtered stream handlers.

Actions go through the front handler into a moto table with a stream; stream records are read
back through moto's DynamoDB Streams API and each goes to the handler whose ``STREAM_FILTERS``
pattern matches, decided by moto's EventBridge pattern matcher. After each scenario, once
everything is drained, the invariant of design.md must hold.
"""

import random
from itertools import permutations

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from friend_models import State

from .conftest import Aws
from .harness import Chain, assert_invariant, message

REQUESTED_PENDING = {("ann", "bob"): State.REQUESTED, ("bob", "ann"): State.PENDING}
FRIENDS = {("ann", "bob"): State.FRIENDS, ("bob", "ann"): State.FRIENDS}


@pytest.fixture
def chain(aws: Aws, lambda_context: LambdaContext) -> Chain:
    return Chain(aws, lambda_context)


def _after(chain: Chain, *bodies: str) -> dict[tuple[str, str], State]:
    chain.act(*bodies)
    chain.drain()
    return assert_invariant(chain.aws)


def test_request_then_accept(chain: Chain) -> None:
    assert _after(chain, message("ann", "bob", "Request")) == REQUESTED_PENDING
    assert _after(chain, message("bob", "ann", "Accept")) == FRIENDS


def test_request_then_reject(chain: Chain) -> None:
    assert _after(chain, message("ann", "bob", "Request")) == REQUESTED_PENDING
    assert _after(chain, message("bob", "ann", "Reject")) == {}


@pytest.mark.parametrize("unfriender", ["ann", "bob"])
def test_request_accept_unfriend(chain: Chain, unfriender: str) -> None:
    other = "bob" if unfriender == "ann" else "ann"
    _after(chain, message("ann", "bob", "Request"))
    assert _after(chain, message("bob", "ann", "Accept")) == FRIENDS
    assert _after(chain, message(unfriender, other, "Unfriend")) == {}


def test_mutual_requests_become_friends(chain: Chain) -> None:
    both = (message("ann", "bob", "Request"), message("bob", "ann", "Request"))
    assert _after(chain, *both) == FRIENDS


def test_duplicates_change_nothing(chain: Chain) -> None:
    request, accept = message("ann", "bob", "Request"), message("bob", "ann", "Accept")
    assert _after(chain, request, request) == REQUESTED_PENDING
    assert _after(chain, accept, accept, request) == FRIENDS
    assert _after(chain, request, accept) == FRIENDS


def test_out_of_order_delivery(chain: Chain) -> None:
    # An answer that arrives before the request it answers is ignored, not stored.
    assert _after(chain, message("bob", "ann", "Accept"), message("ann", "bob", "Request")) == (
        REQUESTED_PENDING
    )
    assert _after(chain, message("ann", "bob", "Unfriend"), message("bob", "ann", "Accept")) == (
        FRIENDS
    )
    assert _after(chain, message("bob", "ann", "Reject"), message("ann", "bob", "Unfriend")) == {}


def _routed(chain: Chain, *bodies: str) -> dict[str, int]:
    """How many of the stream records that ``bodies`` cause wait for each stream handler."""
    chain.act(*bodies)
    chain.run_front()
    chain.collect_stream()
    return {name: len(records) for name, records in chain.pending.items()}


def test_each_stream_handler_is_reached_by_its_own_records_only(chain: Chain) -> None:
    assert _routed(chain, message("ann", "bob", "Request"), message("cat", "dan", "Request")) == {
        "request_state": 2,
        "accept_state": 0,
        "reject_state": 0,
        "unfriend_state": 0,
    }
    chain.drain()  # the Pending inserts this writes match no filter
    assert _routed(chain, message("bob", "ann", "Accept"), message("dan", "cat", "Reject")) == {
        "request_state": 0,
        "accept_state": 1,
        "reject_state": 1,
        "unfriend_state": 0,
    }
    chain.drain()
    assert _routed(chain, message("ann", "bob", "Unfriend")) == {
        "request_state": 0,
        "accept_state": 0,
        "reject_state": 0,
        "unfriend_state": 1,
    }
    chain.drain()
    assert assert_invariant(chain.aws) == {}


PLAYERS = ("ann", "bob", "cat", "dan", "eve")
ACTIONS = ("Request", "Request", "Accept", "Reject", "Unfriend")


@pytest.mark.parametrize("seed", [7, 42, 2026])
def test_a_random_storm_keeps_the_invariant(
    aws: Aws, lambda_context: LambdaContext, seed: int
) -> None:
    """A few hundred actions among five players, every handler at its own pace, records
    delivered twice now and then; drained at checkpoints and at the end."""
    rng = random.Random(seed)
    chain = Chain(aws, lambda_context, rng)
    pairs = list(permutations(PLAYERS, 2))
    sent = 0
    seen_states: set[State] = set()
    while sent < 300:
        burst = [message(*rng.choice(pairs), rng.choice(ACTIONS)) for _ in range(rng.randint(1, 8))]
        chain.act(*burst)
        sent += len(burst)
        chain.run_front(batch_size=rng.randint(1, 10), max_batches=1)
        chain.collect_stream()
        for _ in range(rng.randint(0, 4)):
            busy = [name for name, records in chain.pending.items() if records]
            if busy:
                chain.step_stream(rng.choice(busy), batch_size=rng.randint(1, 5))
                chain.collect_stream()
        if rng.random() < 0.1:
            chain.drain()
            seen_states |= set(assert_invariant(aws).values())
    chain.drain()
    seen_states |= set(assert_invariant(aws).values())
    assert seen_states == set(State), "the storm should pass through every state"
    routed = {record["eventName"] for record in chain.delivered}
    assert routed == {"INSERT", "MODIFY", "REMOVE"}
