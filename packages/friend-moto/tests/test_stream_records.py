"""Records read from moto's DynamoDB stream, reshaped into what AWS writes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.config import Config
from friend_moto.stream_records import EVENT_VERSION, aws_record, epoch_seconds
from moto import mock_aws

REGION = "us-east-1"


@pytest.fixture
def stream_records() -> Iterator[list[dict[str, Any]]]:
    """An INSERT, a MODIFY and a REMOVE of one item, as moto's stream API returns them."""
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        table = dynamodb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]
        dynamodb.put_item(TableName="t", Item={"id": {"S": "a"}, "n": {"N": "1"}})
        dynamodb.put_item(TableName="t", Item={"id": {"S": "a"}, "n": {"N": "2"}})
        dynamodb.delete_item(TableName="t", Key={"id": {"S": "a"}})
        # moto does not route botocore's account-based Streams endpoint yet.
        streams = boto3.client(
            "dynamodbstreams",
            region_name=REGION,
            config=Config(account_id_endpoint_mode="disabled"),
        )
        arn = table["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        yield list(streams.get_records(ShardIterator=iterator)["Records"])


def test_moto_streams_what_the_correction_is_for(stream_records: list[dict[str, Any]]) -> None:
    insert = stream_records[0]
    assert insert["eventVersion"] != EVENT_VERSION
    assert isinstance(insert["dynamodb"]["ApproximateCreationDateTime"], datetime)


def test_the_empty_images_of_an_older_moto_are_dropped(
    stream_records: list[dict[str, Any]],
) -> None:
    """moto before 5.2 (LocalStack's moto-ext among them) attaches the image a record lacks,
    empty."""
    insert, _, remove = stream_records
    insert = {**insert, "dynamodb": {**insert["dynamodb"], "OldImage": {}}}
    remove = {**remove, "dynamodb": {**remove["dynamodb"], "NewImage": {}}}
    assert "OldImage" not in aws_record(insert)["dynamodb"]
    assert "NewImage" not in aws_record(remove)["dynamodb"]
    assert aws_record(remove)["dynamodb"]["OldImage"]["n"] == {"N": "2"}


def test_records_take_the_shape_aws_writes(stream_records: list[dict[str, Any]]) -> None:
    insert, modify, remove = (aws_record(record) for record in stream_records)
    assert [r["eventName"] for r in (insert, modify, remove)] == ["INSERT", "MODIFY", "REMOVE"]
    assert "OldImage" not in insert["dynamodb"]
    assert insert["dynamodb"]["NewImage"] == {"id": {"S": "a"}, "n": {"N": "1"}}
    assert modify["dynamodb"]["OldImage"]["n"] == {"N": "1"}
    assert modify["dynamodb"]["NewImage"]["n"] == {"N": "2"}
    assert "NewImage" not in remove["dynamodb"]
    assert remove["dynamodb"]["OldImage"]["n"] == {"N": "2"}
    for record, read in zip((insert, modify, remove), stream_records, strict=True):
        assert record["eventVersion"] == EVENT_VERSION
        created = record["dynamodb"]["ApproximateCreationDateTime"]
        assert created == epoch_seconds(read["dynamodb"]["ApproximateCreationDateTime"])
        assert created == int(created)


def test_the_record_read_is_left_as_it_was(stream_records: list[dict[str, Any]]) -> None:
    insert = stream_records[0]
    aws_record(insert)
    assert insert["eventVersion"] != EVENT_VERSION
    assert isinstance(insert["dynamodb"]["ApproximateCreationDateTime"], datetime)


def test_an_iso_creation_time_becomes_epoch_seconds(stream_records: list[dict[str, Any]]) -> None:
    """LocalStack's moto-ext holds the creation time as a naive UTC ISO string."""
    insert = stream_records[0]
    insert = {**insert, "dynamodb": {**insert["dynamodb"]}}
    insert["dynamodb"]["ApproximateCreationDateTime"] = "2026-01-01T00:00:00.900000"
    assert aws_record(insert)["dynamodb"]["ApproximateCreationDateTime"] == 1_767_225_600.0


def test_a_naive_moment_is_utc_whatever_the_hosts_zone() -> None:
    assert epoch_seconds(datetime(2026, 1, 1, 0, 0, 0, 900_000)) == 1_767_225_600.0
    assert epoch_seconds(datetime(2026, 1, 1, tzinfo=UTC)) == 1_767_225_600.0
