"""LocalStack's event source mapping poller reads the moto-backed stream like AWS's.

A filtered mapping from a table's stream to a Python function: the function receives exactly the
records its filter criteria select, shaped as AWS delivers them (no empty images), and a record
that must not match never reaches it.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from .dynamodb_support import create_streamed_table, item, key
from .lambda_support import receive_all

pytestmark = pytest.mark.emulator

Client = Any

_FORWARDER = """
import json, os
import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    for record in event["Records"]:
        sqs.send_message(QueueUrl=os.environ["SINK_URL"], MessageBody=json.dumps(record))
    return {"batchItemFailures": []}
"""

# Two of the design's filters: a new request, and a pending request that was rejected.
_FILTERS = [
    {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"state": {"S": ["Requested"]}}}},
    {"eventName": ["REMOVE"], "dynamodb": {"OldImage": {"state": {"S": ["Pending"]}}}},
]


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("forwarder.py", source)
    return buffer.getvalue()


def _receive(sqs: Client, queue_url: str, count: int, timeout: float) -> list[Any]:
    """The forwarded records, decoded (see :func:`receive_all` for ``count`` and ``timeout``)."""
    return [json.loads(message["Body"]) for message in receive_all(sqs, queue_url, count, timeout)]


def test_filtered_mapping_delivers_matching_records_at_aws_shape(
    aws_client: Callable[..., Client],
) -> None:
    dynamodb, sqs, lambda_ = aws_client("dynamodb"), aws_client("sqs"), aws_client("lambda")
    suffix = uuid.uuid4().hex[:10]
    table = f"Friend-{suffix}"
    stream_arn = create_streamed_table(dynamodb, table)
    sink = sqs.create_queue(QueueName=f"sink-{suffix}")["QueueUrl"]
    function = lambda_.create_function(
        FunctionName=f"forwarder-{suffix}",
        Runtime="python3.13",
        Handler="forwarder.handler",
        Role="arn:aws:iam::000000000000:role/forwarder",
        Code={"ZipFile": _zip(_FORWARDER)},
        Environment={"Variables": {"SINK_URL": sink}},
        Timeout=10,
    )
    lambda_.get_waiter("function_active_v2").wait(FunctionName=function["FunctionName"])
    mapping = lambda_.create_event_source_mapping(
        FunctionName=function["FunctionName"],
        EventSourceArn=stream_arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        FilterCriteria={"Filters": [{"Pattern": json.dumps(p)} for p in _FILTERS]},
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    try:
        # In stream order: match, then five that must not match, then the match that ends it.
        dynamodb.put_item(TableName=table, Item=item("ana", "bo", "Requested"))
        dynamodb.put_item(TableName=table, Item=item("bo", "ana", "Pending"))
        dynamodb.put_item(TableName=table, Item=item("ana", "bo", "Friends"))
        dynamodb.put_item(TableName=table, Item=item("bo", "ana", "Friends"))
        dynamodb.delete_item(TableName=table, Key=key("bo", "ana"))
        dynamodb.put_item(TableName=table, Item=item("cy", "dee", "Pending"))
        dynamodb.delete_item(TableName=table, Key=key("cy", "dee"))

        # Records of one shard arrive in order, so once the sentinel (the last write) has
        # arrived, every record before it has been filtered or delivered.
        delivered = _receive(sqs, sink, count=2, timeout=60)
        delivered += _receive(sqs, sink, count=1, timeout=2)
    finally:
        lambda_.delete_event_source_mapping(UUID=mapping["UUID"])

    assert [(r["eventName"], r["dynamodb"]["Keys"]["player_id"]["S"]) for r in delivered] == [
        ("INSERT", "ana"),
        ("REMOVE", "cy"),
    ]
    insert, remove = delivered
    assert "OldImage" not in insert["dynamodb"]
    assert insert["dynamodb"]["NewImage"] == item("ana", "bo", "Requested")
    assert "NewImage" not in remove["dynamodb"]
    assert remove["dynamodb"]["OldImage"] == item("cy", "dee", "Pending")
    for record in delivered:
        assert record["eventVersion"] == "1.1"
        assert record["eventSource"] == "aws:dynamodb"
        assert record["awsRegion"] == "us-east-1"
        assert record["eventSourceARN"] == stream_arn
        assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], (int, float))
        assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
