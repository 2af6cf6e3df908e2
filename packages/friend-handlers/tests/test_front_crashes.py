"""At most once across crashes: the front dies, or loses an answer, at each point between its
writes, and SQS delivers the message again. Whatever the point, the redelivery applies nothing
a second time (and a rejected request stays rejected)."""

from typing import Any

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ReadTimeoutError
from friend_handlers.handlers import front
from friend_models import Friend, State

from .conftest import IDEMPOTENCY_TABLE_NAME, TEST_TABLE_NAME, Aws, Fault, HostDied, LostAnswer
from .harness import NO_FAILURES, dead_letters, emitted_metrics, message, put_row, rows, sqs_event

THROTTLED = {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}
BYSTANDER = message("cat", "dan", "Request")
"""Another message in the batch, which a crash of the first must not disturb."""


def _tables(request: dict[str, Any]) -> list[str]:
    """The tables a transaction request writes, in order."""
    return [next(iter(item.values()))["TableName"] for item in request.get("TransactItems", [])]


def _once(condition: Any, error: Any) -> Any:
    """A fault (or lost answer) that strikes the first call matching ``condition`` only."""
    struck: list[bool] = []

    def strike(operation: str, request: dict[str, Any]) -> Any:
        if struck or not condition(operation, request):
            return None
        struck.append(True)
        return error

    return strike


def _row_and_record(operation: str, request: dict[str, Any]) -> bool:
    return operation == "TransactWriteItems" and TEST_TABLE_NAME in _tables(request)


def _record_only(operation: str, request: dict[str, Any]) -> bool:
    return operation == "TransactWriteItems" and _tables(request) == [IDEMPOTENCY_TABLE_NAME]


def _rejected_in_between(aws: Aws) -> None:
    """What the table looks like after bob saw ann's request and rejected it (ann's row is
    left to reject_state)."""
    Friend("ann", "bob").delete()
    put_row(aws, "bob", "ann", State.FRIENDS)
    Friend("bob", "ann").delete()


def test_a_crash_before_the_write_leaves_the_message_to_its_redelivery(
    aws: Aws, lambda_context: LambdaContext, dynamodb_faults: list[Fault]
) -> None:
    dynamodb_faults.append(_once(_row_and_record, THROTTLED))
    event = sqs_event(aws, message("ann", "bob", "Request"), BYSTANDER)
    record = event["Records"][0]

    assert front.handler(event, lambda_context) == {
        "batchItemFailures": [{"itemIdentifier": record["messageId"]}]
    }
    assert ("ann", "bob") not in rows(aws)

    assert front.handler({"Records": [record]}, lambda_context) == NO_FAILURES  # redelivered
    assert rows(aws) == {("ann", "bob"): State.REQUESTED, ("cat", "dan"): State.REQUESTED}


@pytest.mark.parametrize(
    "lost",
    [
        pytest.param(ReadTimeoutError(endpoint_url="https://dynamodb"), id="answer-lost"),
        pytest.param(HostDied(), id="host-died-after-commit"),
    ],
)
def test_a_message_whose_write_committed_is_never_applied_again(
    aws: Aws,
    lambda_context: LambdaContext,
    lost_answers: list[LostAnswer],
    capsys: pytest.CaptureFixture[str],
    lost: BaseException,
) -> None:
    """The transaction committed but the function never learned it (the answer was lost, or it
    died right after): the message comes again after bob rejected the request."""
    lost_answers.append(_once(_row_and_record, lost))
    event = sqs_event(aws, message("ann", "bob", "Request"), BYSTANDER)

    if isinstance(lost, HostDied):
        with pytest.raises(HostDied):
            front.handler(event, lambda_context)
    else:
        response = front.handler(event, lambda_context)
        assert response == {
            "batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]
        }
    assert rows(aws)[("ann", "bob")] is State.REQUESTED
    _rejected_in_between(aws)
    capsys.readouterr()

    assert front.handler(event, lambda_context) == NO_FAILURES  # the whole batch again

    assert rows(aws) == {("cat", "dan"): State.REQUESTED}, "the rejected request stays rejected"
    # Died: the bystander never ran, and applies now. Answer lost: it was done, and is a copy.
    assert emitted_metrics(capsys).get("MessageRedelivered") == (
        1 if isinstance(lost, HostDied) else 2
    )


def test_an_ignored_message_is_recorded_so_a_later_copy_cannot_apply(
    aws: Aws, lambda_context: LambdaContext
) -> None:
    event = sqs_event(aws, message("bob", "ann", "Accept"))  # no request yet: ignored
    assert front.handler(event, lambda_context) == NO_FAILURES
    put_row(aws, "bob", "ann", State.PENDING)  # ann asks afterwards

    assert front.handler(event, lambda_context) == NO_FAILURES  # the old Accept again

    assert rows(aws) == {("bob", "ann"): State.PENDING}, "no friendship without a new consent"


def _first_fails(aws: Aws, lambda_context: LambdaContext, body: str) -> dict[str, Any]:
    """Deliver ``body`` (with a bystander) once, expecting its record to fail; the SQS record
    of ``body``, to deliver again."""
    event = sqs_event(aws, body, BYSTANDER)
    record = event["Records"][0]
    failures = front.handler(event, lambda_context)["batchItemFailures"]
    assert failures == [{"itemIdentifier": record["messageId"]}]
    return {"Records": [record]}


def test_a_crash_before_an_ignored_message_is_recorded_leaves_it_to_its_redelivery(
    aws: Aws, lambda_context: LambdaContext, dynamodb_faults: list[Fault]
) -> None:
    dynamodb_faults.append(_once(_record_only, THROTTLED))
    again = _first_fails(aws, lambda_context, message("bob", "ann", "Accept"))  # ignored
    recorded = aws.dynamodb.scan(TableName=IDEMPOTENCY_TABLE_NAME)["Items"]
    assert [item["outcome"]["S"] for item in recorded] == ["Applied"]  # the bystander only

    put_row(aws, "bob", "ann", State.PENDING)
    assert front.handler(again, lambda_context) == NO_FAILURES  # it applies now, once
    assert rows(aws)[("bob", "ann")] is State.FRIENDS
    Friend("bob", "ann").delete()  # bob unfriends

    assert front.handler(again, lambda_context) == NO_FAILURES
    assert ("bob", "ann") not in rows(aws)


def test_a_crash_between_parking_and_recording_gives_at_most_a_second_parked_copy(
    aws: Aws, lambda_context: LambdaContext, dynamodb_faults: list[Fault]
) -> None:
    dynamodb_faults.append(_once(_record_only, THROTTLED))
    again = _first_fails(aws, lambda_context, "not json")  # parked, not recorded

    assert front.handler(again, lambda_context) == NO_FAILURES  # parked again, recorded
    assert front.handler(again, lambda_context) == NO_FAILURES  # recorded: not parked

    assert len(dead_letters(aws)) == 2


def test_copies_delivered_at_the_same_time_apply_once(
    aws: Aws,
    lambda_context: LambdaContext,
    dynamodb_faults: list[Fault],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Two hosts handle copies of one message at once: the other host's transaction commits
    while this one's is in flight, which DynamoDB answers with a transaction conflict."""

    struck: list[bool] = []

    def other_host_first(operation: str, request: dict[str, Any]) -> dict[str, Any] | None:
        if struck or not _row_and_record(operation, request):
            return None
        struck.append(True)
        aws.dynamodb.transact_write_items(TransactItems=request["TransactItems"])
        return {
            "Code": "TransactionCanceledException",
            "Message": "Transaction cancelled [TransactionConflict, TransactionConflict]",
            "CancellationReasons": [{"Code": "TransactionConflict"}] * 2,
        }

    dynamodb_faults.append(other_host_first)
    event = sqs_event(aws, message("ann", "bob", "Request"))
    capsys.readouterr()

    assert front.handler(event, lambda_context) == NO_FAILURES

    assert rows(aws) == {("ann", "bob"): State.REQUESTED}
    assert emitted_metrics(capsys) == {"MessageRedelivered": 1}


def test_a_copy_in_the_same_batch_applies_once(
    aws: Aws, lambda_context: LambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    event = sqs_event(aws, message("ann", "bob", "Request"))
    event["Records"].append(dict(event["Records"][0]))
    capsys.readouterr()

    assert front.handler(event, lambda_context) == NO_FAILURES

    assert rows(aws) == {("ann", "bob"): State.REQUESTED}
    assert emitted_metrics(capsys) == {"RequestApplied": 1, "MessageRedelivered": 1}
