"""The whole chain in-process: SQS -> front -> table -> stream -> filtered stream handlers.

Actions go through the front handler into a moto table with a stream; stream records are read
back through moto's DynamoDB Streams API and each goes to the handler whose ``STREAM_FILTERS``
pattern matches, decided by moto's EventBridge pattern matcher. After each scenario, once
everything is drained, the invariant of docs/design.md must hold.
"""

import random
from typing import Any

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from friend_models import State

from .conftest import Aws, Fault
from .harness import Chain, assert_invariant, message, storm

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


def _handled(chain: Chain, body: str) -> dict[str, Any]:
    """The SQS record in which the front handled ``body``."""
    (record,) = [record for record in chain.messages if record["body"] == body]
    return record


def test_an_accept_reaches_a_request_stamped_by_a_clock_running_ahead(chain: Chain) -> None:
    chain.act(message("ann", "bob", "Request"))
    chain.run_front(skew_ms=2_000)  # ann's front host runs two seconds ahead
    chain.drain()
    assert _after(chain, message("bob", "ann", "Accept")) == FRIENDS


def test_an_unfriend_right_after_an_accept_leaves_no_request_behind(chain: Chain) -> None:
    chain.act(message("ann", "bob", "Request"))
    chain.run_front(skew_ms=2_000)
    chain.drain()
    # bob accepts and unfriends before the stream mirrors the acceptance.
    chain.act(message("bob", "ann", "Accept"), message("bob", "ann", "Unfriend"))
    chain.run_front(skew_ms=-2_000)
    chain.drain()
    assert assert_invariant(chain.aws) == {}


def test_a_redelivered_accept_does_not_make_friends_without_a_second_consent(
    chain: Chain,
) -> None:
    request, accept = message("ann", "bob", "Request"), message("bob", "ann", "Accept")
    _after(chain, request)
    assert _after(chain, accept) == FRIENDS
    assert _after(chain, message("ann", "bob", "Unfriend")) == {}
    assert _after(chain, request) == REQUESTED_PENDING

    chain.redeliver(_handled(chain, accept))  # SQS delivers the old Accept once more
    chain.drain()
    assert assert_invariant(chain.aws) == REQUESTED_PENDING


def test_a_redelivered_request_does_not_revive_a_rejected_one(chain: Chain) -> None:
    request = message("ann", "bob", "Request")
    assert _after(chain, request) == REQUESTED_PENDING
    assert _after(chain, message("bob", "ann", "Reject")) == {}

    chain.redeliver(_handled(chain, request))
    chain.drain()
    assert assert_invariant(chain.aws) == {}


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


@pytest.mark.slow
@pytest.mark.parametrize("seed", [7, 42, 2026])
def test_a_random_storm_keeps_the_invariant(
    aws: Aws, lambda_context: LambdaContext, seed: int
) -> None:
    """A few hundred actions among five players, every handler at its own pace and on a host
    clock up to two seconds off, records and messages delivered twice now and then; drained at
    checkpoints and at the end."""
    chain = Chain(aws, lambda_context, random.Random(seed), max_skew_ms=2_000)

    report = storm(chain, PLAYERS, actions=300)

    assert report.violations == []
    assert report.redeliveries > 0
    assert report.changed_by_redelivery == 0
    assert report.states_seen == set(State), "the storm should pass through every state"
    routed = {record["eventName"] for record in chain.delivered}
    assert routed == {"INSERT", "MODIFY", "REMOVE"}


def _front_then_stream(chain: Chain, *bodies: str, only: str) -> None:
    """``bodies`` through the front, then the waiting records of mapping ``only`` (the other
    mappings lag behind)."""
    chain.act(*bodies)
    chain.run_front()
    chain.collect_stream()
    chain.deliver_stream(only, chain.pending[only])
    chain.pending[only] = []


def _replay_first_request_record(chain: Chain) -> None:
    """The first record request_state had comes again (redelivered, or redriven)."""
    chain.deliver_stream("request_state", chain.delivered_to["request_state"][:1])


@pytest.mark.parametrize(
    "answers",
    [
        [("Reject", "accept_state")],
        [("Accept", "reject_state"), ("Unfriend", "reject_state")],
    ],
    ids=["rejected request", "ended friendship"],
)
def test_a_replayed_request_record_does_not_revive_what_bob_ended(
    chain: Chain, answers: list[tuple[str, str]]
) -> None:
    _front_then_stream(chain, message("ann", "bob", "Request"), only="request_state")
    for action, only in answers:
        _front_then_stream(chain, message("bob", "ann", action), only=only)

    _replay_first_request_record(chain)  # before Bob's last answer reached Ann's row
    chain.drain()

    assert assert_invariant(chain.aws) == {}


def test_a_request_after_rejecting_one_is_not_a_mutual_request(chain: Chain) -> None:
    """Ann asks, Bob rejects and asks himself before the rejection reached Ann's row: Ann's
    request is gone and Bob's stands; nobody asked for a friendship."""
    _front_then_stream(chain, message("ann", "bob", "Request"), only="request_state")
    _front_then_stream(chain, message("bob", "ann", "Reject"), only="accept_state")
    _front_then_stream(chain, message("bob", "ann", "Request"), only="request_state")

    chain.drain()

    assert assert_invariant(chain.aws) == {
        ("bob", "ann"): State.REQUESTED,
        ("ann", "bob"): State.PENDING,
    }


def test_a_players_own_actions_may_apply_out_of_order(
    chain: Chain, dynamodb_faults: list[Fault]
) -> None:
    """The front queue is a standard queue: a retried action may apply after a later one of the
    same player. Bob accepts and unfriends at once; the Accept meets a throttle and comes back
    after the Unfriend, which found no friendship and did nothing: the pair ends as Friends. A
    client sends its next action once it sees the state it expects (docs/design.md, "Time and
    order on the stream side"), and then gets what it asked."""
    _after(chain, message("ann", "bob", "Request"))
    throttled: list[bool] = []

    def throttle_the_accept(_operation: str, request: dict[str, Any]) -> dict[str, Any] | None:
        updates = [item["Update"] for item in request.get("TransactItems", []) if "Update" in item]
        if throttled or not any(u["Key"]["player_id"]["S"] == "bob" for u in updates):
            return None
        throttled.append(True)
        return {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}

    dynamodb_faults.append(throttle_the_accept)
    chain.front_may_fail = True

    assert _after(chain, message("bob", "ann", "Accept"), message("bob", "ann", "Unfriend")) == (
        FRIENDS
    )
    assert throttled == [True]
    assert [kind for kind, *_ in chain.intent.applied] == ["Put", "Update"]  # no Delete

    assert _after(chain, message("bob", "ann", "Unfriend")) == {}  # sent after seeing Friends
