"""DynamoDB and DynamoDB Streams on the embedded LocalStack (moto provider) behave as on AWS.

Everything goes through LocalStack's public APIs with boto3, as the stack's handlers, the event
source mapping poller and CloudFormation use them.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from friend_integ.emulators import Emulator, health

from .dynamodb_support import ATTRIBUTES, KEY_SCHEMA, item, key

pytestmark = pytest.mark.emulator

Client = Any
TableFactory = Callable[..., tuple[str, str | None]]


def _set_state(table: str, player: str, friend: str, state: str) -> dict[str, Any]:
    """``update_item`` arguments that set the row's state (and create the row if missing)."""
    return {
        "TableName": table,
        "Key": key(player, friend),
        "UpdateExpression": "SET #s = :s",
        "ExpressionAttributeNames": {"#s": "state"},
        "ExpressionAttributeValues": {":s": {"S": state}},
    }


def _befriend_if_requested(table: str, player: str, friend: str) -> dict[str, Any]:
    """A transaction item that turns a Requested row into Friends, and fails on any other."""
    return {
        "Update": {
            "TableName": table,
            "Key": key(player, friend),
            "UpdateExpression": "SET #s = :friends",
            "ConditionExpression": "#s = :requested",
            "ExpressionAttributeNames": {"#s": "state"},
            "ExpressionAttributeValues": {
                ":friends": {"S": "Friends"},
                ":requested": {"S": "Requested"},
            },
        }
    }


@pytest.fixture
def dynamodb(aws_client: Callable[..., Client]) -> Client:
    return aws_client("dynamodb")


@pytest.fixture
def streams(aws_client: Callable[..., Client]) -> Client:
    return aws_client("dynamodbstreams")


@pytest.fixture
def new_table(dynamodb: Client) -> TableFactory:
    """Creates a uniquely named on-demand table; returns (name, latest stream ARN)."""

    def create(view_type: str | None = "NEW_AND_OLD_IMAGES", client: Client = dynamodb) -> Any:
        name = f"Friend-{uuid.uuid4().hex[:12]}"
        stream = {"StreamEnabled": True, "StreamViewType": view_type} if view_type else None
        client.create_table(
            TableName=name,
            KeySchema=KEY_SCHEMA,
            AttributeDefinitions=ATTRIBUTES,
            BillingMode="PAY_PER_REQUEST",
            **({"StreamSpecification": stream} if stream else {}),
        )
        table = client.describe_table(TableName=name)["Table"]
        return name, table.get("LatestStreamArn")

    return create


def _read_stream(streams: Client, stream_arn: str, iterator: str | None = None) -> list[Any]:
    """Every record from the start of the stream's shard (or from ``iterator``)."""
    if iterator is None:
        shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
    records: list[Any] = []
    while True:
        page = streams.get_records(ShardIterator=iterator, Limit=100)
        records.extend(page["Records"])
        if not page["Records"]:
            return records
        iterator = page["NextShardIterator"]


def test_health_lists_both_services(localstack: Emulator) -> None:
    services = (health(localstack.endpoint) or {})["services"]
    assert services["dynamodb"] in {"available", "running"}
    assert services["dynamodbstreams"] in {"available", "running"}


def test_stream_records_have_the_aws_shape(
    aws_client: Callable[..., Client], new_table: TableFactory
) -> None:
    region = "eu-west-1"  # not moto's hard-wired us-east-1
    dynamodb = aws_client("dynamodb", region_name=region)
    streams = aws_client("dynamodbstreams", region_name=region)
    name, stream_arn = new_table(client=dynamodb)
    assert stream_arn is not None
    started = datetime.now(UTC).replace(microsecond=0)

    dynamodb.put_item(TableName=name, Item=item("ana", "bo", "Requested"))
    dynamodb.put_item(TableName=name, Item=item("ana", "bo", "Requested"))  # changes nothing
    dynamodb.update_item(**_set_state(name, "ana", "bo", "Friends"))
    dynamodb.delete_item(TableName=name, Key=key("ana", "bo"))

    records = _read_stream(streams, stream_arn)

    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    insert, modify, remove = (r["dynamodb"] for r in records)
    assert "OldImage" not in insert
    assert insert["NewImage"] == item("ana", "bo", "Requested")
    assert modify["OldImage"] == item("ana", "bo", "Requested")
    assert modify["NewImage"] == item("ana", "bo", "Friends")
    assert "NewImage" not in remove
    assert remove["OldImage"] == item("ana", "bo", "Friends")
    for record in records:
        assert record["eventVersion"] == "1.1"
        assert record["eventSource"] == "aws:dynamodb"
        assert record["awsRegion"] == region
        assert len(record["eventID"]) >= 32
        body = record["dynamodb"]
        assert body["Keys"] == key("ana", "bo")
        assert body["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert isinstance(body["SizeBytes"], int)
        created = body["ApproximateCreationDateTime"]
        assert created.microsecond == 0  # whole seconds, as AWS sends them
        assert started <= created <= datetime.now(UTC) + timedelta(seconds=1)
    # Sized by what is sent: the MODIFY carries two images, the others one.
    assert modify["SizeBytes"] > insert["SizeBytes"]
    sequence_numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequence_numbers == sorted(set(sequence_numbers))


@pytest.mark.parametrize(
    ("view_type", "images"),
    [("KEYS_ONLY", set()), ("NEW_IMAGE", {"NewImage"}), ("OLD_IMAGE", {"OldImage"})],
)
def test_view_types_carry_only_their_images(
    dynamodb: Client, streams: Client, new_table: TableFactory, view_type: str, images: set[str]
) -> None:
    name, stream_arn = new_table(view_type)
    dynamodb.put_item(TableName=name, Item=item("ana", "bo", "Requested"))
    dynamodb.put_item(TableName=name, Item=item("ana", "bo", "Pending"))
    dynamodb.delete_item(TableName=name, Key=key("ana", "bo"))

    insert, modify, remove = (r["dynamodb"] for r in _read_stream(streams, stream_arn))

    image_keys = {"NewImage", "OldImage"}
    assert set(insert) & image_keys == images - {"OldImage"}
    assert set(modify) & image_keys == images
    assert set(remove) & image_keys == images - {"NewImage"}


def test_update_that_creates_an_item_writes_one_insert(
    dynamodb: Client, streams: Client, new_table: TableFactory
) -> None:
    name, stream_arn = new_table()
    dynamodb.update_item(**_set_state(name, "ana", "bo", "Pending"))

    records = _read_stream(streams, stream_arn)

    assert [r["eventName"] for r in records] == ["INSERT"]
    assert records[0]["dynamodb"]["NewImage"] == item("ana", "bo", "Pending")


def test_cancelled_transaction_leaves_no_trace_and_the_stream_keeps_flowing(
    dynamodb: Client, streams: Client, new_table: TableFactory
) -> None:
    name, stream_arn = new_table()
    dynamodb.put_item(TableName=name, Item=item("bo", "ana", "Pending"))
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
    )["ShardIterator"]

    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": name, "Item": item("ana", "bo", "Friends")}},
                _befriend_if_requested(name, "bo", "ana"),
            ]
        )
    error = cancelled.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in error["CancellationReasons"]] == ["None", "ConditionalCheckFailed"]
    assert "Item" not in dynamodb.get_item(TableName=name, Key=key("ana", "bo"))

    dynamodb.put_item(TableName=name, Item=item("cy", "dee", "Requested"))

    records = _read_stream(streams, stream_arn, iterator)
    assert [(r["eventName"], r["dynamodb"]["Keys"]) for r in records] == [
        ("INSERT", key("cy", "dee"))
    ]


def test_transaction_applies_all_writes_with_their_records(
    dynamodb: Client, streams: Client, new_table: TableFactory
) -> None:
    name, stream_arn = new_table()
    dynamodb.put_item(TableName=name, Item=item("ana", "bo", "Requested"))
    dynamodb.put_item(TableName=name, Item=item("bo", "ana", "Requested"))

    dynamodb.transact_write_items(
        TransactItems=[
            _befriend_if_requested(name, player, friend)
            for player, friend in (("ana", "bo"), ("bo", "ana"))
        ]
    )

    records = _read_stream(streams, stream_arn)
    assert [r["eventName"] for r in records] == ["INSERT", "INSERT", "MODIFY", "MODIFY"]
    assert {r["dynamodb"]["NewImage"]["state"]["S"] for r in records[2:]} == {"Friends"}


def test_conditional_write_fails_with_the_current_item(
    dynamodb: Client, new_table: TableFactory
) -> None:
    name, _ = new_table(None)
    dynamodb.put_item(
        TableName=name,
        Item=item("ana", "bo", "Requested"),
        ConditionExpression="attribute_not_exists(player_id)",
    )
    with pytest.raises(ClientError) as failed:
        dynamodb.put_item(
            TableName=name,
            Item=item("ana", "bo", "Pending"),
            ConditionExpression="attribute_not_exists(player_id)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert failed.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert failed.value.response["Item"] == item("ana", "bo", "Requested")
    stored = dynamodb.get_item(TableName=name, Key=key("ana", "bo"))["Item"]
    assert stored == item("ana", "bo", "Requested")


def test_concurrent_conditional_writes_admit_exactly_one(
    dynamodb: Client, new_table: TableFactory
) -> None:
    name, _ = new_table(None)
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def request(state: str) -> None:
        start.wait()
        try:
            dynamodb.put_item(
                TableName=name,
                Item=item("ana", "bo", state),
                ConditionExpression="attribute_not_exists(player_id)",
            )
            outcomes.append("written")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])

    threads = [threading.Thread(target=request, args=(f"s{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["ConditionalCheckFailedException"] * 7 + ["written"]


def test_query_paginates_a_players_rows(dynamodb: Client, new_table: TableFactory) -> None:
    name, _ = new_table(None)
    friends = [f"f{i:02}" for i in range(7)]
    for friend in friends:
        dynamodb.put_item(TableName=name, Item=item("ana", friend, "Friends"))
    dynamodb.put_item(TableName=name, Item=item("bo", "ana", "Friends"))

    seen: list[str] = []
    start: dict[str, Any] = {}
    pages = 0
    while True:
        page = dynamodb.query(
            TableName=name,
            KeyConditionExpression="player_id = :p",
            ExpressionAttributeValues={":p": {"S": "ana"}},
            Limit=3,
            **start,
        )
        pages += 1
        seen.extend(row["friend_id"]["S"] for row in page["Items"])
        if "LastEvaluatedKey" not in page:
            break
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}

    assert seen == friends
    assert pages == 3


def test_describe_table_reports_stream_and_billing(
    dynamodb: Client, new_table: TableFactory
) -> None:
    name, stream_arn = new_table("NEW_AND_OLD_IMAGES")
    table = dynamodb.describe_table(TableName=name)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert stream_arn == f"{table['TableArn']}/stream/{table['LatestStreamLabel']}"


def test_expired_or_unknown_shard_iterator_is_reported_as_expired(streams: Client) -> None:
    with pytest.raises(ClientError) as expired:
        streams.get_records(ShardIterator="arn:aws:dynamodb:us-east-1:000000000000:table/x|1|y")
    assert expired.value.response["Error"]["Code"] == "ExpiredIteratorException"


_CFN_TEMPLATE = {
    "Resources": {
        "Friend": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "KeySchema": KEY_SCHEMA,
                "AttributeDefinitions": ATTRIBUTES,
                "BillingMode": "PAY_PER_REQUEST",
                "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            },
        }
    },
    "Outputs": {
        "TableName": {"Value": {"Ref": "Friend"}},
        "StreamArn": {"Value": {"Fn::GetAtt": ["Friend", "StreamArn"]}},
    },
}


def test_cloudformation_creates_a_streaming_table(
    aws_client: Callable[..., Client], dynamodb: Client, streams: Client
) -> None:
    cloudformation = aws_client("cloudformation")
    stack = f"friend-table-{uuid.uuid4().hex[:8]}"
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(_CFN_TEMPLATE))
    try:
        cloudformation.get_waiter("stack_create_complete").wait(
            StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
        table = dynamodb.describe_table(TableName=outputs["TableName"])["Table"]
        assert table["LatestStreamArn"] == outputs["StreamArn"]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"

        dynamodb.put_item(TableName=outputs["TableName"], Item=item("ana", "bo", "Requested"))
        records = _read_stream(streams, outputs["StreamArn"])
        assert [r["eventName"] for r in records] == ["INSERT"]
    finally:
        cloudformation.delete_stack(StackName=stack)
        cloudformation.get_waiter("stack_delete_complete").wait(
            StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
    with pytest.raises(ClientError) as gone:
        dynamodb.describe_table(TableName=outputs["TableName"])
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_streams_are_read_as_fast_as_they_are_written(
    dynamodb: Client, streams: Client, new_table: TableFactory
) -> None:
    """A poller holding a LATEST iterator sees each write on its next GetRecords call."""
    name, stream_arn = new_table()
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
    )["ShardIterator"]
    for index in range(3):
        dynamodb.put_item(TableName=name, Item=item("ana", f"f{index}", "Requested"))
        page = streams.get_records(ShardIterator=iterator)
        assert [r["dynamodb"]["Keys"]["friend_id"]["S"] for r in page["Records"]] == [f"f{index}"]
        iterator = page["NextShardIterator"]
    assert streams.get_records(ShardIterator=iterator)["Records"] == []
