"""The front handler on SQS events received from a (moto) queue."""

import json
import time
from typing import Any

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from friend_handlers.dal import MAX_ATTEMPTS
from friend_handlers.dead_letter import DLQ_URL_ENV
from friend_handlers.handlers import front
from friend_handlers.logic.player_id import MAX_LENGTH
from friend_handlers.redelivery import EXPIRY_ATTRIBUTE, KEY_ATTRIBUTE, REMEMBER_SECONDS
from friend_models import Friend, State, now_millis

from .conftest import IDEMPOTENCY_TABLE_NAME, TEST_TABLE_NAME, Aws, Fault, Logs
from .harness import (
    NO_FAILURES,
    dead_letters,
    emitted_metrics,
    host_clock,
    message,
    put_row,
    receive_sqs_event,
    rows,
    settle_sqs_batch,
    sqs_event,
)

TRANSACTION_CONFLICT = {
    "Code": "TransactionCanceledException",
    "Message": "Transaction cancelled [TransactionConflict, None]",
    "CancellationReasons": [
        {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"},
        {"Code": "None"},
    ],
}
"""DynamoDB's answer to a transaction on a row that another transaction is writing."""


def _row_written(request: dict[str, Any]) -> str | None:
    """The player whose Friend row a front transaction writes (``None``: it writes none)."""
    for item in request.get("TransactItems", []):
        (written,) = item.values()
        if written["TableName"] == TEST_TABLE_NAME:
            return str((written.get("Key") or written["Item"])["player_id"]["S"])
    return None


def _only_a_record(request: dict[str, Any]) -> bool:
    """A front transaction that writes only the record of a handled message."""
    items = request.get("TransactItems", [])
    return bool(items) and all(
        next(iter(item.values()))["TableName"] == IDEMPOTENCY_TABLE_NAME for item in items
    )


def _after_seeding(aws: Aws, seeded: State | None, action: str) -> dict[str, Any]:
    """The SQS event of ann's ``action`` towards bob, her row seeded as ``seeded`` first
    (``None``: no row)."""
    if seeded is not None:
        put_row(aws, "ann", "bob", seeded)
    return sqs_event(aws, message("ann", "bob", action))


def test_actions_follow_the_transition_table(aws: Aws, lambda_context: LambdaContext) -> None:
    event = sqs_event(
        aws,
        message("ann", "bob", "Request"),
        message("bob", "ann", "Accept"),  # bob has no Pending row yet: ignored
        message("cat", "dan", "Unfriend"),  # not friends: ignored
    )
    assert front.handler(event, lambda_context) == NO_FAILURES
    assert rows(aws) == {("ann", "bob"): State.REQUESTED}


@pytest.mark.parametrize(
    ("seeded", "action", "after"),
    [
        (None, "Request", State.REQUESTED),
        (State.PENDING, "Request", State.PENDING),
        (State.PENDING, "Accept", State.FRIENDS),
        (State.REQUESTED, "Accept", State.REQUESTED),
        (State.PENDING, "Reject", None),
        (State.FRIENDS, "Reject", State.FRIENDS),
        (State.FRIENDS, "Unfriend", None),
        (State.PENDING, "Unfriend", State.PENDING),
    ],
)
def test_each_action_changes_only_the_state_its_rule_allows(
    aws: Aws,
    lambda_context: LambdaContext,
    seeded: State | None,
    action: str,
    after: State | None,
) -> None:
    event = _after_seeding(aws, seeded, action)
    assert front.handler(event, lambda_context) == NO_FAILURES
    assert rows(aws).get(("ann", "bob")) == after


def test_rows_are_stamped_by_the_clock_of_the_host_that_wrote_them(
    aws: Aws, lambda_context: LambdaContext
) -> None:
    # last_updated is information for readers; the tests skew it through this seam.
    event = sqs_event(aws, message("ann", "bob", "Request"))
    before = now_millis()

    with host_clock(60_000):
        assert front.handler(event, lambda_context) == NO_FAILURES

    stamped = Friend.get("ann", "bob", consistent_read=True).last_updated
    assert before + 60_000 <= stamped <= now_millis() + 60_000


def test_a_duplicate_changes_nothing_and_is_counted_as_ignored(
    aws: Aws, lambda_context: LambdaContext, capsys: pytest.CaptureFixture[str], log_lines: Logs
) -> None:
    event = sqs_event(aws, message("ann", "bob", "Request"), message("ann", "bob", "Request"))
    capsys.readouterr()

    assert front.handler(event, lambda_context) == NO_FAILURES

    assert emitted_metrics(capsys) == {"RequestApplied": 1, "RequestIgnored": 1}
    handled = [log for log in log_lines() if log["message"] == "action handled"]
    assert [log["outcome"] for log in handled] == ["Applied", "Ignored"]
    assert [log["correlation_id"] for log in handled] == [
        record["messageId"] for record in event["Records"]
    ]
    assert rows(aws) == {("ann", "bob"): State.REQUESTED}


INVALID = [
    pytest.param("not json", "NotJson", id="not-json"),
    pytest.param('{"player_id": "ann", "friend_id": "bob"', "NotJson", id="truncated-json"),
    pytest.param('["ann", "bob", "Request"]', "InvalidFields", id="not-an-object"),
    pytest.param('{"player_id": "ann", "friend_action": "Request"}', "InvalidFields", id="missing"),
    pytest.param(
        '{"player_id": 7, "friend_id": "bob", "friend_action": "Request"}',
        "InvalidFields",
        id="mistyped",
    ),
    pytest.param(message("ann", "bob", "Poke"), "InvalidFields", id="unknown-action"),
    pytest.param(message("ann", "bob", "request"), "InvalidFields", id="action-case"),
    pytest.param(message("", "bob", "Request"), "InvalidFields", id="empty-id"),
    pytest.param(message("a" * (MAX_LENGTH + 1), "bob", "Request"), "InvalidFields", id="long-id"),
    pytest.param(message("ann\tcat", "bob", "Request"), "InvalidFields", id="control-character"),
    pytest.param(message("ann", "   ", "Request"), "InvalidFields", id="only-spaces"),
    pytest.param(message("ann", "bob\u200b", "Request"), "InvalidFields", id="zero-width"),
    pytest.param(message("e\u0301", "bob", "Request"), "InvalidFields", id="not-nfc"),
    pytest.param(message(".", "bob", "Request"), "InvalidFields", id="dot"),
    pytest.param(message("ann", "..", "Request"), "InvalidFields", id="dot-dot"),
    pytest.param(message("ann", "ann", "Request"), "SelfRequest", id="self-request"),
    pytest.param(message("a", "a\u200b", "Request"), "InvalidFields", id="invisible-self-request"),
]


@pytest.mark.parametrize(("body", "reason"), INVALID)
def test_an_invalid_message_goes_straight_to_the_dead_letter_queue(
    aws: Aws,
    lambda_context: LambdaContext,
    capsys: pytest.CaptureFixture[str],
    log_lines: Logs,
    body: str,
    reason: str,
) -> None:
    event = sqs_event(aws, body, message("cat", "dan", "Request"))
    capsys.readouterr()

    response = front.handler(event, lambda_context)

    assert response == NO_FAILURES, "parked, so handled: never retried"
    (parked,) = dead_letters(aws)
    assert parked["Body"] == body
    attributes = parked["MessageAttributes"]
    assert attributes["reason"]["StringValue"] == reason
    assert attributes["source_message_id"]["StringValue"] == event["Records"][0]["messageId"]
    assert attributes["source_queue_arn"]["StringValue"] == aws.queue_arn
    assert attributes["detail"]["StringValue"]
    assert emitted_metrics(capsys) == {"InvalidMessage": 1, "RequestApplied": 1}
    (warning,) = [log for log in log_lines() if log["level"] == "WARNING"]
    assert warning["reason"] == reason
    assert rows(aws) == {("cat", "dan"): State.REQUESTED}


@pytest.mark.parametrize(
    "longest", ["p" * MAX_LENGTH, "\N{GRINNING FACE}" * MAX_LENGTH], ids=["ascii", "emoji"]
)
def test_the_longest_allowed_id_and_extra_fields_are_accepted(
    aws: Aws, lambda_context: LambdaContext, longest: str
) -> None:
    body = json.dumps(
        {"player_id": longest, "friend_id": "bob", "friend_action": "Request", "note": "hi"}
    )
    assert front.handler(sqs_event(aws, body), lambda_context) == NO_FAILURES
    assert rows(aws) == {(longest, "bob"): State.REQUESTED}
    assert dead_letters(aws) == []


def test_when_parking_fails_the_record_fails_so_the_redrive_policy_keeps_it(
    aws: Aws, lambda_context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DLQ_URL_ENV, aws.dlq_url + "-missing")
    event = sqs_event(aws, "not json", message("cat", "dan", "Request"))

    response = front.handler(event, lambda_context)

    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert rows(aws) == {("cat", "dan"): State.REQUESTED}


def test_a_transient_dynamodb_error_fails_only_its_own_record(
    aws: Aws, lambda_context: LambdaContext, dynamodb_faults: list[Fault]
) -> None:
    def throttle_bob(operation: str, request: dict[str, Any]) -> dict[str, Any] | None:
        if operation == "TransactWriteItems" and _row_written(request) == "bob":
            return {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}
        return None

    dynamodb_faults.append(throttle_bob)
    event = sqs_event(
        aws,
        message("ann", "cat", "Request"),
        message("bob", "cat", "Request"),
        message("dan", "cat", "Request"),
    )

    response = front.handler(event, lambda_context)

    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    assert rows(aws) == {("ann", "cat"): State.REQUESTED, ("dan", "cat"): State.REQUESTED}
    assert dead_letters(aws) == []


def _conflicts(times: int) -> tuple[Fault, list[str]]:
    """A fault answering the next ``times`` transactions that write a Friend row with a
    transaction conflict, and the players whose rows they wrote."""
    hits: list[str] = []

    def fault(called: str, request: dict[str, Any]) -> dict[str, Any] | None:
        player = _row_written(request) if called == "TransactWriteItems" else None
        if player is None or len(hits) >= times:
            return None
        hits.append(player)
        return TRANSACTION_CONFLICT

    return fault, hits


@pytest.mark.parametrize(
    ("seeded", "action", "after"),
    [
        (None, "Request", State.REQUESTED),
        (State.PENDING, "Accept", State.FRIENDS),
        (State.FRIENDS, "Unfriend", None),
    ],
)
def test_a_write_that_meets_a_stream_transaction_is_retried_in_place(
    aws: Aws,
    lambda_context: LambdaContext,
    dynamodb_faults: list[Fault],
    seeded: State | None,
    action: str,
    after: State | None,
) -> None:
    event = _after_seeding(aws, seeded, action)
    fault, hits = _conflicts(times=2)
    dynamodb_faults.append(fault)

    assert front.handler(event, lambda_context) == NO_FAILURES, "no wait for a redelivery"
    assert hits == ["ann", "ann"]
    assert rows(aws).get(("ann", "bob")) == after


def test_endless_conflicts_fail_only_their_record_whose_retry_then_applies(
    aws: Aws, lambda_context: LambdaContext, dynamodb_faults: list[Fault]
) -> None:
    fault, hits = _conflicts(times=MAX_ATTEMPTS)
    dynamodb_faults.append(fault)
    event = sqs_event(aws, message("ann", "bob", "Request"), message("cat", "dan", "Request"))
    failed = event["Records"][0]["messageId"]

    response = front.handler(event, lambda_context)

    assert response == {"batchItemFailures": [{"itemIdentifier": failed}]}
    assert hits == ["ann"] * MAX_ATTEMPTS
    assert rows(aws) == {("cat", "dan"): State.REQUESTED}
    settle_sqs_batch(aws, event, response)

    # The failed delivery left no record of itself: SQS's next delivery of it applies.
    retry = receive_sqs_event(aws)
    assert [record["messageId"] for record in retry["Records"]] == [failed]
    assert front.handler(retry, lambda_context) == NO_FAILURES
    assert rows(aws) == {("ann", "bob"): State.REQUESTED, ("cat", "dan"): State.REQUESTED}


def test_a_redelivered_message_changes_nothing_and_is_counted(
    aws: Aws,
    lambda_context: LambdaContext,
    capsys: pytest.CaptureFixture[str],
    log_lines: Logs,
) -> None:
    event = sqs_event(aws, message("ann", "bob", "Request"))
    assert front.handler(event, lambda_context) == NO_FAILURES
    Friend("ann", "bob").delete()  # as bob's rejection leaves it
    capsys.readouterr()

    assert front.handler(event, lambda_context) == NO_FAILURES  # SQS delivers it again

    assert rows(aws) == {}, "the rejected request stays rejected"
    assert emitted_metrics(capsys) == {"MessageRedelivered": 1}
    (skipped,) = [log for log in log_lines() if log["message"].startswith("redelivered")]
    assert skipped["correlation_id"] == event["Records"][0]["messageId"]


def test_a_handled_message_is_remembered_as_long_as_the_queue_keeps_messages(
    aws: Aws, lambda_context: LambdaContext
) -> None:
    event = sqs_event(aws, message("ann", "bob", "Request"), "not json")
    handled_at = time.time()

    assert front.handler(event, lambda_context) == NO_FAILURES

    items = aws.dynamodb.scan(TableName=IDEMPOTENCY_TABLE_NAME)["Items"]
    assert {item[KEY_ATTRIBUTE]["S"]: item["outcome"]["S"] for item in items} == {
        event["Records"][0]["messageId"]: "Applied",
        event["Records"][1]["messageId"]: "Parked",
    }
    for item in items:
        expires = int(item[EXPIRY_ATTRIBUTE]["N"])
        assert handled_at + REMEMBER_SECONDS - 5 <= expires <= time.time() + REMEMBER_SECONDS


def test_a_redelivered_invalid_message_is_parked_once(
    aws: Aws, lambda_context: LambdaContext
) -> None:
    event = sqs_event(aws, "not json")

    assert front.handler(event, lambda_context) == NO_FAILURES
    assert front.handler(event, lambda_context) == NO_FAILURES

    assert len(dead_letters(aws)) == 1
