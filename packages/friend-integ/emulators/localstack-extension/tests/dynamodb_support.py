"""The Friend table's key schema and rows, as the DynamoDB tests create and write them."""

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


def key(player: str, friend: str) -> dict[str, Any]:
    return {"player_id": {"S": player}, "friend_id": {"S": friend}}


def item(player: str, friend: str, state: str) -> dict[str, Any]:
    return {**key(player, friend), "state": {"S": state}}
