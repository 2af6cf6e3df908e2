"""Redrive on moto: failure messages as Lambda writes them, records read back from the stream,
the real stream handlers run on them."""

import io
import itertools
import json
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from friend_models import State, now_millis
from friend_ops.redrive import (
    EMPTY_WAIT_SECONDS,
    VISIBILITY_SECONDS,
    LambdaInvoker,
    Redrive,
    Result,
)

from .conftest import TABLE_NAME, Aws, HandlerInvoker, item, rows
from .service import Delivery, Service, failure_message


def _records(aws: Aws) -> list[dict[str, Any]]:
    """Every record of the table's (single) shard so far, with the shard's id."""
    (shard,) = aws.streams.describe_stream(StreamArn=aws.stream_arn)["StreamDescription"]["Shards"]
    iterator = aws.streams.get_shard_iterator(
        StreamArn=aws.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = aws.streams.get_records(ShardIterator=iterator)["Records"]
    return [{**record, "shard": shard["ShardId"]} for record in records]


def _redrive(aws: Aws, invoke: Any = None) -> Redrive:
    return Redrive(
        sqs=aws.sqs,
        streams=aws.streams,
        lambda_=aws.lambda_,
        queue_url=aws.failure_queue_url,
        invoke=invoke or HandlerInvoker(aws.lambda_),
        empty_wait_seconds=0,  # moto's queue is one server's: a short poll sees all of it
    )


def _in_queue(aws: Aws) -> list[str]:
    """Bodies of the messages visible in the failure queue now."""
    messages = aws.sqs.receive_message(
        QueueUrl=aws.failure_queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0
    ).get("Messages", [])
    return [m["Body"] for m in messages]


@pytest.fixture
def two_requests_lost(aws: Aws) -> str:
    """Two requests whose request_state batch was given up on, with a record between them that
    the mapping's filter does not deliver. The invariant is broken for both pairs."""
    now = now_millis()
    aws.dynamodb.put_item(TableName=TABLE_NAME, Item=item("ann", "bob", State.REQUESTED, now))
    aws.dynamodb.put_item(TableName=TABLE_NAME, Item=item("eve", "fay", State.FRIENDS, now))
    aws.dynamodb.put_item(TableName=TABLE_NAME, Item=item("cat", "dan", State.REQUESTED, now))
    first, _, last = _records(aws)
    body = failure_message(aws, "request_state", first, last, batch_size=2)
    aws.sqs.send_message(QueueUrl=aws.failure_queue_url, MessageBody=body)
    assert ("bob", "ann") not in rows(aws)
    return body


@pytest.mark.usefixtures("two_requests_lost")
def test_redrive_applies_the_failed_batch_and_deletes_its_message(aws: Aws) -> None:
    invoker = HandlerInvoker(aws.lambda_)
    summary = _redrive(aws, invoker).run()

    assert summary.problems == []
    assert summary.results == {Result.REDRIVEN: 1}
    assert summary.records == 2
    assert summary.left == 0
    assert rows(aws) == {
        ("ann", "bob"): State.REQUESTED,
        ("bob", "ann"): State.PENDING,
        ("cat", "dan"): State.REQUESTED,
        ("dan", "cat"): State.PENDING,
        ("eve", "fay"): State.FRIENDS,
    }
    assert _in_queue(aws) == []
    # Exactly the failed batch, shaped as Lambda delivers it: the filtered-out record is not in it.
    (event,) = invoker.events
    assert [r["dynamodb"]["Keys"]["player_id"]["S"] for r in event["Records"]] == ["ann", "cat"]
    for record in event["Records"]:
        assert record["eventSourceARN"] == aws.stream_arn
        assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], float)


def test_only_the_batch_and_its_function_are_needed(aws: Aws, two_requests_lost: str) -> None:
    """A record without response context (records that expired before any invocation)."""
    (message,) = aws.sqs.receive_message(QueueUrl=aws.failure_queue_url)["Messages"]
    aws.sqs.delete_message(QueueUrl=aws.failure_queue_url, ReceiptHandle=message["ReceiptHandle"])
    record = json.loads(two_requests_lost)
    record["requestContext"] = {"functionArn": record["requestContext"]["functionArn"]}
    for field in ("responseContext", "version", "timestamp"):
        del record[field]
    aws.sqs.send_message(QueueUrl=aws.failure_queue_url, MessageBody=json.dumps(record))

    assert _redrive(aws).run().results == {Result.REDRIVEN: 1}
    assert rows(aws)[("bob", "ann")] is State.PENDING


def test_redrive_twice_is_harmless(aws: Aws, two_requests_lost: str) -> None:
    _redrive(aws).run()
    after_first = rows(aws)
    # The same message delivered again (SQS is at least once) and a second run.
    aws.sqs.send_message(QueueUrl=aws.failure_queue_url, MessageBody=two_requests_lost)
    again = _redrive(aws).run()
    assert again.results == {Result.REDRIVEN: 1}
    assert rows(aws) == after_first
    assert _redrive(aws).run().results == {}


@pytest.mark.parametrize(
    "answer",
    [
        ("Unhandled", {"errorMessage": "table unavailable", "errorType": "ResourceNotFound"}),
        (None, {"batchItemFailures": [{"itemIdentifier": "1"}]}),
    ],
    ids=["error", "partial-failure"],
)
def test_a_batch_that_fails_again_stays_in_the_queue(
    aws: Aws, two_requests_lost: str, answer: tuple[str | None, Any]
) -> None:
    summary = _redrive(aws, lambda _arn, _event: answer).run()
    assert summary.results == {Result.FUNCTION_FAILED: 1}
    assert summary.left == 1
    (problem,) = summary.problems
    assert "failed" in problem
    assert _in_queue(aws) == [two_requests_lost]  # visible again at once, for the alarm too
    assert ("bob", "ann") not in rows(aws)


def test_messages_that_cannot_be_redriven_are_kept_with_their_reason(aws: Aws) -> None:
    aws.dynamodb.put_item(TableName=TABLE_NAME, Item=item("ann", "bob", State.REQUESTED, 1))
    (record,) = _records(aws)
    sequence = int(record["dynamodb"]["SequenceNumber"])
    beyond = {**record, "dynamodb": {"SequenceNumber": str(sequence + 1000)}}
    gone = json.loads(failure_message(aws, "request_state", record, record, 1))
    gone["requestContext"]["functionArn"] += "-deleted"
    bodies = {
        Result.UNREADABLE: "not a failure record",
        # The records are no longer all in the stream: the range ends past the shard's end.
        Result.EXPIRED: failure_message(aws, "request_state", record, beyond, 1),
        Result.NO_MAPPING: json.dumps(gone),
        Result.MISMATCH: failure_message(aws, "request_state", record, record, batch_size=3),
    }
    for body in bodies.values():
        aws.sqs.send_message(QueueUrl=aws.failure_queue_url, MessageBody=body)

    summary = _redrive(aws).run()

    assert summary.results == dict.fromkeys(bodies, 1)
    # Each message kept is reported with why, for the operator to decide on.
    (mismatch,) = [
        problem for problem in summary.problems if f": {Result.MISMATCH.value}: " in problem
    ]
    assert mismatch.endswith("the failed batch had 3")
    assert sorted(_in_queue(aws)) == sorted(bodies.values())
    assert rows(aws) == {("ann", "bob"): State.REQUESTED}


def test_by_default_a_run_ends_on_the_empty_answer_of_a_long_poll() -> None:
    """A short poll asks some of SQS's servers, so its empty answer could end a run while
    failure messages wait on the others: outside the tests, every receive long-polls."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue_url = "https://sqs.us-east-1.amazonaws.com/123456789012/stream-failures"
    with Stubber(sqs) as stubber:
        stubber.add_response(
            "receive_message",
            {"Messages": []},
            {
                "QueueUrl": queue_url,
                "MaxNumberOfMessages": 10,
                "VisibilityTimeout": VISIBILITY_SECONDS,
                "WaitTimeSeconds": EMPTY_WAIT_SECONDS,
            },
        )
        unused: Any = None
        summary = Redrive(sqs, unused, unused, queue_url, invoke=unused).run()
        stubber.assert_no_pending_responses()
    assert summary.results == {}
    assert EMPTY_WAIT_SECONDS >= 1


def test_lambda_invoker_invokes_synchronously_with_the_event(aws: Aws) -> None:
    """moto's stand-in runtime (no Docker) answers an invocation with its own payload."""
    event = {"Records": [{"eventName": "INSERT", "dynamodb": {"Keys": {"b": {"B": b"\x00"}}}}]}
    error, payload = LambdaInvoker(aws.lambda_)(aws.functions["accept_state"], event)
    assert error is None
    assert payload == {
        "Records": [{"eventName": "INSERT", "dynamodb": {"Keys": {"b": {"B": "AA=="}}}}]
    }


def test_lambda_invoker_reports_the_functions_error_as_lambda_answers_it() -> None:
    """A failed invocation answers with its error kind in ``FunctionError`` (moto's stand-in
    runtime never fails), and an invocation that returned nothing has an empty payload: redrive
    must see both, or it would count a failed replay as redriven."""
    client = boto3.client("lambda", region_name="us-east-1")
    arn = "arn:aws:lambda:us-east-1:123456789012:function:accept_state"
    event: dict[str, Any] = {"Records": []}
    with Stubber(client) as stubber:
        for error, body in (("Unhandled", b'{"errorMessage": "boom"}'), (None, b"")):
            response: dict[str, Any] = {
                "StatusCode": 200,
                "Payload": StreamingBody(io.BytesIO(body), len(body)),
            }
            if error is not None:
                response["FunctionError"] = error
            expected = {
                "FunctionName": arn,
                "InvocationType": "RequestResponse",
                "Payload": json.dumps(event).encode(),
            }
            stubber.add_response("invoke", response, expected)
        invoke = LambdaInvoker(client)

        assert invoke(arn, event) == ("Unhandled", {"errorMessage": "boom"})
        assert invoke(arn, event) == (None, None)


# Replays in any order, with the real handlers behind their mappings ------------------------


def _rejected_then_asked_back(service: Service) -> None:
    """Ann asks Bob; request_state applies it but times out, so its batch is given up all the
    same. Bob rejects; reject_state's batch is lost. Bob then asks Ann; that request_state batch
    is lost too. Three failure messages, the oldest a request whose replay must not revive it."""
    service.act("ann", "bob", "Request")
    assert service.deliver("request_state", Delivery.TIMED_OUT)
    service.act("bob", "ann", "Reject")
    assert service.deliver("reject_state", Delivery.LOST)
    service.act("bob", "ann", "Request")
    assert service.deliver("request_state", Delivery.LOST)
    service.drain()
    assert len(service.failures) == 3


@pytest.mark.slow
@pytest.mark.parametrize("order", list(itertools.permutations(range(3))), ids=str)
def test_failed_batches_redriven_in_any_order_and_twice_end_as_asked(
    aws: Aws, order: tuple[int, ...]
) -> None:
    service = Service(aws)
    _rejected_then_asked_back(service)
    bodies = [service.failures[i] for i in order]

    first = service.redrive(bodies[:1])
    service.act("cat", "ann", "Request")  # new traffic between the redrives
    service.drain()
    rest = service.redrive(bodies[1:])

    assert (first.results, rest.results) == ({Result.REDRIVEN: 1}, {Result.REDRIVEN: 2})
    service.assert_as_asked()  # Bob's request stands, Ann's rejected one stays rejected
    assert service.oracle.rows()[("bob", "ann")] is State.REQUESTED
    settled = service.items()

    again = service.redrive([*bodies, *reversed(bodies)])  # every batch twice more
    service.drain()
    assert again.results == {Result.REDRIVEN: 6}
    assert service.items() == settled

    service.act("ann", "bob", "Accept")  # and the players carry on
    service.drain()
    service.redrive(bodies)
    service.drain()
    service.assert_as_asked()
    assert rows(aws)[("ann", "bob")] is rows(aws)[("bob", "ann")] is State.FRIENDS


def test_a_replayed_request_never_revives_a_rejection(aws: Aws) -> None:
    """Scenario: the request batch (applied, given up on) replayed before the lost reject batch
    made the Pending row again, and the reject record then found it present and did nothing."""
    service = Service(aws)
    service.act("ann", "bob", "Request")
    assert service.deliver("request_state", Delivery.TIMED_OUT)
    service.act("bob", "ann", "Reject")
    assert service.deliver("reject_state", Delivery.LOST)
    request, reject = service.failures

    assert service.redrive([request, reject]).results == {Result.REDRIVEN: 2}
    service.drain()

    service.assert_as_asked()
    assert rows(aws) == {}
    assert service.redrive([request, request, reject]).results == {Result.REDRIVEN: 3}
    assert rows(aws) == {}
