"""The front handler on SQS events received from a (moto) queue."""

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from friend_handlers import front
from friend_handlers.dead_letter import DLQ_URL_ENV
from friend_handlers.logic.player_id import MAX_LENGTH
from friend_models import State

from .conftest import Aws, Fault, Logs
from .harness import NO_FAILURES, dead_letters, emitted_metrics, message, put_row, rows, sqs_event


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
    if seeded is not None:
        put_row(aws, "ann", "bob", seeded)
    event = sqs_event(aws, message("ann", "bob", action))
    assert front.handler(event, lambda_context) == NO_FAILURES
    assert rows(aws).get(("ann", "bob")) == after


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
        if operation == "PutItem" and request["Item"]["player_id"]["S"] == "bob":
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
