"""The four stream handlers on records read back from the table's (moto) stream."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from friend_handlers.dal import MAX_ATTEMPTS
from friend_handlers.handlers import accept_state, request_state
from friend_handlers.logic.reactions import Transition
from friend_handlers.stream import FUNCTION_DIMENSION
from friend_models import Friend, State, now_millis

from .conftest import Aws, Fault
from .harness import (
    NO_FAILURES,
    STREAM_HANDLERS,
    StreamReader,
    mirrored,
    put_row,
    routes,
    rows,
    statuses,
    stream_event,
)


def _ahead() -> int:
    """A time stamped now by a host whose clock runs two seconds ahead of this one."""
    return now_millis() + 2_000


def _reader_after_seed(aws: Aws) -> StreamReader:
    """A reader past every record written so far, so a test sees only what its change writes."""
    reader = StreamReader(aws)
    reader.read()
    return reader


def _sent(aws: Aws, route: str, *changes: Callable[[], object]) -> list[dict[str, Any]]:
    """The stream records that ``changes`` write and ``route``'s filter lets through, in stream
    order (the rows written before them are the seed: their records are not sent)."""
    reader = _reader_after_seed(aws)
    for change in changes:
        change()
    records = [record for record in reader.read() if routes(record) == [route]]
    assert records, f"no stream record for {route}"
    return records


def _conflict_on(player: str, raised: list[str], times: int | None = None) -> Fault:
    """A TransactionConflict on the first ``times`` transactions (all, without ``times``) that
    write ``player``'s row, as DynamoDB reports it when two transactions touch the same item at
    once; each conflict raised is noted in ``raised``."""

    def fault(operation: str, request: dict[str, Any]) -> dict[str, Any] | None:
        if operation != "TransactWriteItems" or len(raised) == times:
            return None
        items = [next(iter(item.values())) for item in request["TransactItems"]]
        keys = [item.get("Key") or item.get("Item") for item in items]
        if not any(key["player_id"]["S"] == player for key in keys):
            return None
        raised.append(operation)
        return {
            "Code": "TransactionCanceledException",
            "Message": "Transaction cancelled, please refer cancellation reasons for specific "
            "reasons [TransactionConflict, None]",
            "CancellationReasons": [
                {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"},
                {"Code": "None"},
            ],
        }

    return fault


def test_transitions_are_counted_per_function(
    aws: Aws, lambda_context: LambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    (record,) = _sent(aws, "request_state", lambda: put_row(aws, "ann", "bob", State.REQUESTED))
    capsys.readouterr()

    assert request_state.handler(stream_event([record]), lambda_context) == NO_FAILURES

    (emf,) = [
        entry for entry in map(json.loads, capsys.readouterr().out.splitlines()) if "_aws" in entry
    ]
    (directive,) = emf["_aws"]["CloudWatchMetrics"]
    assert [metric["Name"] for metric in directive["Metrics"]] == [Transition.PENDING_CREATED]
    assert [sorted(names) for names in directive["Dimensions"]] == [[FUNCTION_DIMENSION, "service"]]
    assert emf[FUNCTION_DIMENSION] == lambda_context.function_name


def _counted(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The metric names of the EMF blobs printed since the last call."""
    return [
        metric["Name"]
        for blob in map(json.loads, capsys.readouterr().out.splitlines())
        if "_aws" in blob
        for directive in blob["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    ]


type Deliver = Callable[[str, list[dict[str, Any]]], list[str]]


@pytest.fixture
def deliver(lambda_context: LambdaContext, capsys: pytest.CaptureFixture[str]) -> Deliver:
    """Hands records to a route's handler as one batch, as its event source mapping does, and
    requires every record to succeed; answers with the transitions the handler counted."""

    def deliver(route: str, records: list[dict[str, Any]]) -> list[str]:
        capsys.readouterr()
        assert STREAM_HANDLERS[route](stream_event(records), lambda_context) == NO_FAILURES
        return _counted(capsys)

    return deliver


def _accept(player: str = "bob", requester: str = "ann", at: int | None = None) -> None:
    """``player`` accepts ``requester``'s request (``at``: the acceptance's stamp; without it
    the row keeps the one it had)."""
    stamp = [] if at is None else [Friend.last_updated.set(at)]
    Friend(player, requester).update(actions=[Friend.state.set(State.FRIENDS), *stamp])


def _bob_deletes() -> None:
    """A rejection of a Pending row, or an unfriend of a Friends row."""
    Friend("bob", "ann").delete()


@pytest.mark.parametrize(
    ("bobs_row", "act", "route", "transition"),
    [
        (State.PENDING, _accept, "accept_state", Transition.REQUEST_ACCEPTED),
        (State.PENDING, _bob_deletes, "reject_state", Transition.REQUEST_REJECTED),
        (State.FRIENDS, _bob_deletes, "unfriend_state", Transition.ACCEPTANCE_WITHDRAWN),
    ],
    ids=["accept", "reject", "unfriend-right-after-accept"],
)
def test_each_mirrored_change_is_counted_as_what_it_did_and_a_duplicate_as_ignored(
    aws: Aws,
    deliver: Deliver,
    bobs_row: State,
    act: Callable[[], None],
    route: str,
    transition: Transition,
) -> None:
    """The dashboard counts what each stream function did: the first delivery of a change is
    counted as its transition, a second delivery of it as Ignored (Ann's request, shown to Bob
    as ``bobs_row``)."""
    put_row(aws, "ann", "bob", State.REQUESTED, exchange="e1", mirrored=True)
    put_row(aws, "bob", "ann", bobs_row, exchange="e1")
    records = _sent(aws, route, act)

    assert deliver(route, records) == [transition]
    assert deliver(route, records) == [Transition.IGNORED]


def test_an_unfriend_is_counted_as_the_friendship_ended(aws: Aws, deliver: Deliver) -> None:
    put_row(aws, "ann", "bob", State.FRIENDS, exchange="e1")
    put_row(aws, "bob", "ann", State.FRIENDS, exchange="e1")
    records = _sent(aws, "unfriend_state", _bob_deletes)

    assert deliver("unfriend_state", records) == [Transition.FRIENDSHIP_ENDED]
    assert rows(aws) == {}


def test_request_creates_the_pending_row_of_its_exchange_once(aws: Aws, deliver: Deliver) -> None:
    (record,) = _sent(
        aws, "request_state", lambda: put_row(aws, "ann", "bob", State.REQUESTED, exchange="e1")
    )
    expected = {("ann", "bob"): (State.REQUESTED, "e1"), ("bob", "ann"): (State.PENDING, "e1")}

    deliver("request_state", [record])
    assert statuses(aws) == expected

    # At-least-once delivery: the same record again changes nothing.
    deliver("request_state", [record])
    assert statuses(aws) == expected


def test_the_request_is_marked_mirrored_with_its_pending_row_and_keeps_its_stamp(
    aws: Aws, deliver: Deliver
) -> None:
    (record,) = _sent(
        aws,
        "request_state",
        lambda: put_row(aws, "ann", "bob", State.REQUESTED, at=1234, exchange="e1"),
    )

    deliver("request_state", [record])

    assert mirrored(aws) == {("ann", "bob")}
    assert Friend.get("ann", "bob", consistent_read=True).last_updated == 1234


@pytest.mark.parametrize("then", ["rejected", "accepted and unfriended"])
def test_a_replayed_record_of_a_mirrored_request_changes_nothing(
    aws: Aws, deliver: Deliver, then: str
) -> None:
    """Bob was shown ann's request, then rejected it (or accepted and unfriended); ann's row
    waits for reject_state (or unfriend_state) when her request's record comes again."""
    (record,) = _sent(
        aws, "request_state", lambda: put_row(aws, "ann", "bob", State.REQUESTED, exchange="e1")
    )
    deliver("request_state", [record])
    if then == "rejected":
        Friend("bob", "ann").delete()
    else:
        put_row(aws, "bob", "ann", State.FRIENDS, exchange="e1")
        Friend("bob", "ann").delete()

    deliver("request_state", [record])

    assert statuses(aws) == {("ann", "bob"): (State.REQUESTED, "e1")}  # left to the stream


def _a_rejected_request_of_bob(aws: Aws) -> None:
    """Bob's request was shown to ann (mirrored) and she rejected it: not a request she answers
    by asking back."""
    put_row(aws, "bob", "ann", State.REQUESTED, exchange="e1", mirrored=True)


def _a_friendship_ann_ended(aws: Aws) -> None:
    """Ann unfriended bob; bob's Friends row was stamped by a host whose clock runs ahead, so it
    looks newer than her next request."""
    put_row(aws, "bob", "ann", State.FRIENDS, at=_ahead(), exchange="e1")


@pytest.mark.parametrize(
    ("left_behind", "transition"),
    [
        (_a_rejected_request_of_bob, Transition.REJECTED_REQUEST_REPLACED),
        (_a_friendship_ann_ended, Transition.FRIENDS_REOPENED_AS_PENDING),
    ],
    ids=["after-a-rejection", "after-an-unfriend"],
)
def test_a_request_replaces_the_row_an_unfinished_change_left_behind(
    aws: Aws, deliver: Deliver, left_behind: Callable[[Aws], None], transition: Transition
) -> None:
    """Ann asks bob before her last change (a rejection, an unfriend) reached bob's row: her
    request stands, shown to bob as Pending, in her new exchange."""
    left_behind(aws)
    (record,) = _sent(
        aws,
        "request_state",
        lambda: put_row(aws, "ann", "bob", State.REQUESTED, at=now_millis(), exchange="e2"),
    )

    assert deliver("request_state", [record]) == [transition]
    assert statuses(aws) == {
        ("ann", "bob"): (State.REQUESTED, "e2"),
        ("bob", "ann"): (State.PENDING, "e2"),
    }
    assert mirrored(aws) == {("ann", "bob")}


def test_a_mutual_request_settles_both_rows_as_friends_of_one_exchange(
    aws: Aws, deliver: Deliver
) -> None:
    records = _sent(
        aws,
        "request_state",
        lambda: put_row(aws, "ann", "bob", State.REQUESTED, exchange="e1"),
        lambda: put_row(aws, "bob", "ann", State.REQUESTED, exchange="e2"),
    )
    assert len(records) == 2
    reader = _reader_after_seed(aws)

    counted = [deliver("request_state", [record]) for record in records]

    assert counted == [[Transition.MUTUAL_REQUEST_SETTLED], [Transition.IGNORED]]

    # ann's record came first: both rows now belong to ann's exchange.
    assert statuses(aws) == {
        ("ann", "bob"): (State.FRIENDS, "e1"),
        ("bob", "ann"): (State.FRIENDS, "e1"),
    }
    settle = [record for record in reader.read() if record["eventName"] == "MODIFY"]
    assert len(settle) == 2, "one transaction wrote both rows; the second record was a no-op"
    assert all(routes(record) == [] for record in settle)


def test_a_request_meeting_the_other_players_request_on_its_way_makes_them_friends(
    aws: Aws, deliver: Deliver, dynamodb_faults: list[Fault]
) -> None:
    """Bob's own request is written while request_state is giving Bob the Pending row of Ann's:
    its transaction fails, and it reads the rows again and settles a mutual request."""
    (record,) = _sent(
        aws, "request_state", lambda: put_row(aws, "ann", "bob", State.REQUESTED, exchange="e1")
    )
    raced: list[str] = []

    def bob_asks_first(operation: str, _request: dict[str, Any]) -> None:
        if operation == "TransactWriteItems" and not raced:
            raced.append(operation)
            put_row(aws, "bob", "ann", State.REQUESTED, exchange="e2")

    dynamodb_faults.append(bob_asks_first)

    assert deliver("request_state", [record]) == [Transition.MUTUAL_REQUEST_SETTLED]
    assert raced
    assert statuses(aws) == {
        ("ann", "bob"): (State.FRIENDS, "e1"),
        ("bob", "ann"): (State.FRIENDS, "e1"),
    }


def test_a_request_already_accepted_is_left_to_accept_state(aws: Aws, deliver: Deliver) -> None:
    # A late copy of ann's request record arrives after bob accepted but before the acceptance
    # reached ann's row: bob's Friends row answers this very request, so it stays, although
    # ann's host stamped the request later than bob's host stamped the acceptance.
    (record,) = _sent(
        aws,
        "request_state",
        lambda: put_row(aws, "ann", "bob", State.REQUESTED, at=_ahead(), exchange="e1"),
    )
    put_row(aws, "bob", "ann", State.FRIENDS, at=now_millis(), exchange="e1")

    deliver("request_state", [record])
    assert rows(aws) == {("ann", "bob"): State.REQUESTED, ("bob", "ann"): State.FRIENDS}


def test_a_late_request_record_changes_nothing(aws: Aws, deliver: Deliver) -> None:
    (record,) = _sent(aws, "request_state", lambda: put_row(aws, "ann", "bob", State.REQUESTED))
    Friend("ann", "bob").delete()  # the request is gone by the time its record arrives

    deliver("request_state", [record])
    assert rows(aws) == {}


@pytest.mark.parametrize(
    "conflicts", [MAX_ATTEMPTS - 1, None], ids=["until-the-last-attempt", "endless"]
)
def test_a_transaction_conflict_is_retried_and_endless_contention_fails_only_that_record(
    aws: Aws,
    lambda_context: LambdaContext,
    dynamodb_faults: list[Fault],
    conflicts: int | None,
) -> None:
    """Ann's request meets ``conflicts`` transaction conflicts (``None``: one on every attempt),
    cat's none: conflicts on all but the last attempt are retried away, endless ones fail ann's
    record alone."""
    records = _sent(
        aws,
        "request_state",
        lambda: put_row(aws, "ann", "bob", State.REQUESTED),
        lambda: put_row(aws, "cat", "dan", State.REQUESTED),
    )
    raised: list[str] = []
    dynamodb_faults.append(_conflict_on("ann", raised, times=conflicts))

    response = request_state.handler(stream_event(records), lambda_context)

    anns = records[0]["dynamodb"]["SequenceNumber"]
    endless = conflicts is None
    assert response["batchItemFailures"] == ([{"itemIdentifier": anns}] if endless else [])
    assert len(raised) == (MAX_ATTEMPTS if endless else conflicts)
    anns_pair = {("ann", "bob"): State.REQUESTED} | (
        {} if endless else {("bob", "ann"): State.PENDING}
    )
    assert rows(aws) == anns_pair | {("cat", "dan"): State.REQUESTED, ("dan", "cat"): State.PENDING}


@pytest.mark.parametrize("requester_ahead", [False, True], ids=["same-clock", "requester-ahead"])
def test_accept_makes_the_requester_a_friend(
    aws: Aws, deliver: Deliver, requester_ahead: bool
) -> None:
    # The acceptance reaches the request whatever the clock of the host that stamped it.
    at = _ahead() if requester_ahead else now_millis()
    put_row(aws, "ann", "bob", State.REQUESTED, at=at, exchange="e1")
    put_row(aws, "bob", "ann", State.PENDING, exchange="e1")
    (record,) = _sent(aws, "accept_state", lambda: _accept(at=now_millis()))

    deliver("accept_state", [record])
    assert statuses(aws) == {
        ("ann", "bob"): (State.FRIENDS, "e1"),
        ("bob", "ann"): (State.FRIENDS, "e1"),
    }


def test_rows_written_before_exchange_ids_still_settle(aws: Aws, deliver: Deliver) -> None:
    put_row(aws, "ann", "bob", State.REQUESTED)
    put_row(aws, "bob", "ann", State.PENDING)
    (record,) = _sent(aws, "accept_state", _accept)

    deliver("accept_state", [record])
    assert statuses(aws) == {
        ("ann", "bob"): (State.FRIENDS, None),
        ("bob", "ann"): (State.FRIENDS, None),
    }


def test_a_late_accept_record_leaves_a_newer_request_alone(aws: Aws, deliver: Deliver) -> None:
    # ann unfriended and asked again (e2), stamped by a host behind bob's; a late copy of bob's
    # acceptance of e1 arrives before anything reached bob's row.
    put_row(aws, "ann", "bob", State.REQUESTED, exchange="e1")
    put_row(aws, "bob", "ann", State.PENDING, exchange="e1")
    (record,) = _sent(aws, "accept_state", lambda: _accept(at=_ahead()))
    put_row(aws, "ann", "bob", State.REQUESTED, at=now_millis(), exchange="e2")

    deliver("accept_state", [record])
    assert statuses(aws)[("ann", "bob")] == (State.REQUESTED, "e2")


def test_accept_fails_the_record_on_an_unexpected_error(
    aws: Aws, lambda_context: LambdaContext, dynamodb_faults: list[Fault]
) -> None:
    # The original sample swallowed this error and lost the acceptance.
    put_row(aws, "ann", "bob", State.REQUESTED)
    put_row(aws, "bob", "ann", State.PENDING)
    put_row(aws, "cat", "dan", State.REQUESTED)
    put_row(aws, "dan", "cat", State.PENDING)
    records = _sent(aws, "accept_state", _accept, lambda: _accept("dan", "cat"))

    def broken_for_ann(operation: str, request: dict[str, Any]) -> dict[str, Any] | None:
        if operation == "TransactWriteItems" and "ann" in str(request):
            return {"Code": "InternalServerError", "Message": "Internal server error"}
        return None

    dynamodb_faults.append(broken_for_ann)

    response = accept_state.handler(stream_event(records), lambda_context)

    failed = records[0]["dynamodb"]["SequenceNumber"]
    assert response == {"batchItemFailures": [{"itemIdentifier": failed}]}
    assert rows(aws)[("ann", "bob")] is State.REQUESTED
    assert rows(aws)[("cat", "dan")] is State.FRIENDS


def test_a_late_accept_record_changes_nothing(aws: Aws, deliver: Deliver) -> None:
    put_row(aws, "ann", "bob", State.REQUESTED)
    put_row(aws, "bob", "ann", State.PENDING)
    (record,) = _sent(aws, "accept_state", _accept)
    Friend("bob", "ann").delete()  # bob unfriended before the acceptance was mirrored

    deliver("accept_state", [record])
    assert rows(aws) == {("ann", "bob"): State.REQUESTED}


def test_reject_removes_the_request(aws: Aws, deliver: Deliver) -> None:
    put_row(aws, "ann", "bob", State.REQUESTED, at=_ahead(), exchange="e1")
    put_row(aws, "bob", "ann", State.PENDING, exchange="e1")
    (record,) = _sent(aws, "reject_state", Friend("bob", "ann").delete)

    deliver("reject_state", [record])
    assert rows(aws) == {}


def test_a_duplicate_reject_record_leaves_a_new_request_alone(aws: Aws, deliver: Deliver) -> None:
    put_row(aws, "ann", "bob", State.REQUESTED)
    put_row(aws, "bob", "ann", State.PENDING)
    (record,) = _sent(aws, "reject_state", Friend("bob", "ann").delete)
    deliver("reject_state", [record])
    put_row(aws, "ann", "bob", State.REQUESTED, exchange="e2")  # ann asks again
    put_row(aws, "bob", "ann", State.PENDING, exchange="e2")

    deliver("reject_state", [record])
    assert rows(aws) == {("ann", "bob"): State.REQUESTED, ("bob", "ann"): State.PENDING}


def test_a_late_reject_record_leaves_a_newer_request_alone(aws: Aws, deliver: Deliver) -> None:
    # bob rejected e1 (on a host ahead); ann asked again (e2) before the rejection was mirrored
    # and before her new request reached bob.
    put_row(aws, "ann", "bob", State.REQUESTED, exchange="e1")
    put_row(aws, "bob", "ann", State.PENDING, at=_ahead(), exchange="e1")
    (record,) = _sent(aws, "reject_state", Friend("bob", "ann").delete)
    put_row(aws, "ann", "bob", State.REQUESTED, at=now_millis(), exchange="e2")

    deliver("reject_state", [record])
    assert statuses(aws) == {("ann", "bob"): (State.REQUESTED, "e2")}


def test_an_unfriend_right_after_an_accept_ends_the_pair(aws: Aws, deliver: Deliver) -> None:
    # bob accepted and unfriended before accept_state reached ann's Requested row, which ann's
    # host stamped later than bob's host stamped the acceptance.
    put_row(aws, "ann", "bob", State.REQUESTED, at=_ahead(), exchange="e1")
    put_row(aws, "bob", "ann", State.FRIENDS, at=now_millis(), exchange="e1")
    (record,) = _sent(aws, "unfriend_state", Friend("bob", "ann").delete)

    deliver("unfriend_state", [record])
    assert rows(aws) == {}


def test_an_unfriend_record_leaves_a_newer_request_alone(aws: Aws, deliver: Deliver) -> None:
    # Both unfriended; ann asked again (e2) before bob's unfriend (of e1) was mirrored. Her
    # host's clock runs behind bob's, so her request looks older than bob's Friends row.
    put_row(aws, "bob", "ann", State.FRIENDS, at=_ahead(), exchange="e1")
    (record,) = _sent(aws, "unfriend_state", Friend("bob", "ann").delete)
    put_row(aws, "ann", "bob", State.REQUESTED, at=now_millis(), exchange="e2")

    deliver("unfriend_state", [record])
    assert rows(aws) == {("ann", "bob"): State.REQUESTED}


def test_unfriend_removes_the_other_row(aws: Aws, deliver: Deliver) -> None:
    put_row(aws, "ann", "bob", State.FRIENDS)
    put_row(aws, "bob", "ann", State.FRIENDS)
    (record,) = _sent(aws, "unfriend_state", Friend("ann", "bob").delete)

    deliver("unfriend_state", [record])
    assert rows(aws) == {}


def test_rows_that_change_between_reading_and_writing_are_decided_again(
    aws: Aws, deliver: Deliver, dynamodb_faults: list[Fault]
) -> None:
    """Ann and Bob unfriend each other at once: Bob's row goes while unfriend_state is ending
    the pair for Ann. Its transaction fails, and it reads the rows again and finds nothing left
    to do, so the friendship is not counted as ended by it."""
    put_row(aws, "ann", "bob", State.FRIENDS, exchange="e1")
    put_row(aws, "bob", "ann", State.FRIENDS, exchange="e1")
    (record,) = _sent(aws, "unfriend_state", Friend("ann", "bob").delete)
    raced: list[str] = []

    def bob_unfriends_first(operation: str, _request: dict[str, Any]) -> None:
        if operation == "TransactWriteItems" and not raced:
            raced.append(operation)
            Friend("bob", "ann").delete()

    dynamodb_faults.append(bob_unfriends_first)

    assert deliver("unfriend_state", [record]) == [Transition.IGNORED]
    assert raced
    assert rows(aws) == {}


def test_a_late_unfriend_record_leaves_a_renewed_friendship_alone(
    aws: Aws, deliver: Deliver
) -> None:
    put_row(aws, "ann", "bob", State.FRIENDS)
    put_row(aws, "bob", "ann", State.FRIENDS)
    (record,) = _sent(aws, "unfriend_state", Friend("ann", "bob").delete)
    put_row(aws, "ann", "bob", State.FRIENDS)  # friends again before the record arrives

    deliver("unfriend_state", [record])
    assert rows(aws) == {("ann", "bob"): State.FRIENDS, ("bob", "ann"): State.FRIENDS}


@pytest.mark.parametrize("image", ["OldImage", "NewImage"])
def test_moto_images_are_normalised_to_what_aws_sends(aws: Aws, image: str) -> None:
    reader = StreamReader(aws)
    put_row(aws, "ann", "bob", State.REQUESTED)
    Friend("ann", "bob").delete()
    insert, remove = reader.read()
    assert (insert["eventName"], remove["eventName"]) == ("INSERT", "REMOVE")
    assert "OldImage" not in insert["dynamodb"]
    assert "NewImage" not in remove["dynamodb"]
    assert image in (insert if image == "NewImage" else remove)["dynamodb"]
    assert insert["eventVersion"] == "1.1"
    assert isinstance(insert["dynamodb"]["ApproximateCreationDateTime"], float)
