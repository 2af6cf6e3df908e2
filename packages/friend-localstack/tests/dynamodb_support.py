"""The Friend table's key schema and rows, as the DynamoDB tests create and write them, and a
streamed table for the tests of stream event sources."""

from __future__ import annotations

from typing import Any

KEY_SCHEMA = [
    {"AttributeName": "player_id", "KeyType": "HASH"},
    {"AttributeName": "friend_id", "KeyType": "RANGE"},
]
ATTRIBUTES = [
    {"AttributeName": "player_id", "AttributeType": "S"},
    {"AttributeName": "friend_id", "AttributeType": "S"},
]


def create_streamed_table(
    dynamodb: Any,
    name: str,
    key_schema: list[dict[str, str]] = KEY_SCHEMA,
    attributes: list[dict[str, str]] = ATTRIBUTES,
) -> str:
    """An on-demand table with a stream of new and old images; its stream ARN."""
    description = dynamodb.create_table(
        TableName=name,
        KeySchema=key_schema,
        AttributeDefinitions=attributes,
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    return str(description["LatestStreamArn"])


def key(player: str, friend: str) -> dict[str, Any]:
    return {"player_id": {"S": player}, "friend_id": {"S": friend}}


def item(player: str, friend: str, state: str) -> dict[str, Any]:
    return {**key(player, friend), "state": {"S": state}}
