"""The product's event chain on the subprocess executor, through LocalStack's event source mappings.

SQS -> Python function reporting a partial batch failure (the poison message ends in the
dead-letter queue after ``maxReceiveCount`` receives, its batch mates are not delivered again)
-> DynamoDB -> stream -> filtered mapping -> Python function; records that must not match the
filter never trigger it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from friend_integ.test_support.emulators import AwsClientFactory

from .dynamodb_support import create_streamed_table
from .lambda_support import Functions, receive_all

pytestmark = pytest.mark.emulator

MAX_RECEIVE_COUNT = 2
# Only new items whose id starts with "good" pass: updates and poison items must not.
GOOD_INSERTS = {
    "eventName": ["INSERT"],
    "dynamodb": {"NewImage": {"id": {"S": [{"prefix": "good"}]}}},
}


@pytest.fixture
def functions(aws_client: AwsClientFactory) -> Iterator[Functions]:
    created = Functions(aws_client("lambda"))
    yield created
    created.delete_all()


def test_sqs_partial_batch_failure_dlq_stream_filter_chain(
    aws_client: AwsClientFactory, functions: Functions
) -> None:
    sqs, dynamodb, lambda_ = aws_client("sqs"), aws_client("dynamodb"), aws_client("lambda")
    suffix = uuid.uuid4().hex[:8]
    table = f"deliveries-{suffix}"
    stream_arn = create_streamed_table(
        dynamodb,
        table,
        key_schema=[{"AttributeName": "id", "KeyType": "HASH"}],
        attributes=[{"AttributeName": "id", "AttributeType": "S"}],
    )
    dlq = sqs.create_queue(QueueName=f"dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    source = sqs.create_queue(
        QueueName=f"source-{suffix}",
        Attributes={
            "VisibilityTimeout": "2",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
            ),
        },
    )["QueueUrl"]
    source_arn = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    observer = sqs.create_queue(QueueName=f"observer-{suffix}")["QueueUrl"]

    consumer = functions.create(
        "sqs_batch", "python3.13", "handler.handler", environment={"TABLE_NAME": table}
    )
    stream_function = functions.create(
        "stream_observer",
        "python3.13",
        "handler.handler",
        environment={"OBSERVER_QUEUE_URL": observer},
    )
    good = [f"good-{index}-{suffix}" for index in range(3)]
    poison = f"poison-{suffix}"
    # Queued before the mapping exists, so that its first poll takes all four as one batch.
    sqs.send_message_batch(
        QueueUrl=source,
        Entries=[
            {"Id": str(index), "MessageBody": body} for index, body in enumerate([*good, poison])
        ],
    )
    mappings = [
        lambda_.create_event_source_mapping(
            FunctionName=stream_function,
            EventSourceArn=stream_arn,
            StartingPosition="TRIM_HORIZON",
            BatchSize=10,
            FilterCriteria={"Filters": [{"Pattern": json.dumps(GOOD_INSERTS)}]},
        )["UUID"],
        lambda_.create_event_source_mapping(
            FunctionName=consumer,
            EventSourceArn=source_arn,
            BatchSize=10,
            MaximumBatchingWindowInSeconds=1,
            FunctionResponseTypes=["ReportBatchItemFailures"],
        )["UUID"],
    ]
    try:
        dead = receive_all(sqs, dlq, count=1, timeout=60)
        # Written after the poison's last delivery: once it reaches the observer, every stream
        # record before it (one shard, in order) has been filtered or delivered.
        sentinel = f"good-sentinel-{suffix}"
        dynamodb.put_item(TableName=table, Item={"id": {"S": sentinel}})
        observed = receive_all(sqs, observer, count=len(good) + 1, timeout=60)
        observed += receive_all(sqs, observer, count=1, timeout=2)
    finally:
        for mapping in mappings:
            lambda_.delete_event_source_mapping(UUID=mapping)

    assert [message["Body"] for message in dead] == [poison]
    items = {
        item["id"]["S"]: item
        for item in dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]
    }
    assert int(items[poison]["deliveries"]["N"]) == MAX_RECEIVE_COUNT
    for body in good:
        # Delivered once, in the batch where the poison failed: not retried along with it.
        assert int(items[body]["deliveries"]["N"]) == 1
        assert poison in [entry["S"] for entry in items[body]["batch"]["L"]]

    records = [json.loads(message["Body"]) for message in observed]
    assert sorted(record["keys"]["id"]["S"] for record in records) == sorted([*good, sentinel])
    assert {record["eventName"] for record in records} == {"INSERT"}
    remaining = sqs.get_queue_attributes(
        QueueUrl=source,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert remaining == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }
