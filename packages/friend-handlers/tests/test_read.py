"""The read API on API Gateway REST proxy events."""

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from friend_handlers import read
from friend_handlers.logic.player_id import MAX_LENGTH
from friend_models import State

from .conftest import Aws, Fault
from .harness import put_row, rest_event

LIST = "/friends/{playerId}"
IS_FRIEND = "/friends/isFriend/{playerId}/{friendId}"


def _seed(aws: Aws, player: str, friends: dict[str, State]) -> None:
    for friend, state in friends.items():
        put_row(aws, player, friend, state, at=1700000000000)


def _get(
    context: LambdaContext, resource: str, params: dict[str, str], query: dict[str, str] | None
) -> tuple[int, Any]:
    response = read.handler(rest_event(resource, params, query), context)
    assert response["multiValueHeaders"]["Content-Type"] == ["application/json"]
    return response["statusCode"], json.loads(response["body"])


def test_list_pages_through_every_row_once(aws: Aws, lambda_context: LambdaContext) -> None:
    friends = {f"p{n}": State.FRIENDS for n in range(5)}
    _seed(aws, "ann", friends)
    _seed(aws, "bob", {"zed": State.FRIENDS})
    seen: list[dict[str, Any]] = []
    query: dict[str, str] = {"limit": "2"}
    pages = 0
    while True:
        status, body = _get(lambda_context, LIST, {"playerId": "ann"}, query)
        assert status == 200
        assert len(body["items"]) <= 2
        seen.extend(body["items"])
        pages += 1
        if body["nextToken"] is None:
            break
        query = {"limit": "2", "nextToken": body["nextToken"]}
    assert pages == 3
    expected = {"player_id": "ann", "state": "Friends", "last_updated": 1700000000000}
    assert seen == [{**expected, "friend_id": f"p{n}"} for n in range(5)]


def test_list_filters_by_state(aws: Aws, lambda_context: LambdaContext) -> None:
    _seed(aws, "ann", {"bob": State.PENDING, "cat": State.FRIENDS, "dan": State.PENDING})
    status, body = _get(lambda_context, LIST, {"playerId": "ann"}, {"state": "Pending"})
    assert status == 200
    assert [item["friend_id"] for item in body["items"]] == ["bob", "dan"]
    assert {item["state"] for item in body["items"]} == {"Pending"}
    assert body["nextToken"] is None


def test_list_of_a_player_without_rows_is_empty(aws: Aws, lambda_context: LambdaContext) -> None:
    assert _get(lambda_context, LIST, {"playerId": "nobody"}, None) == (
        200,
        {"items": [], "nextToken": None},
    )


@pytest.mark.parametrize(
    ("state", "is_friend"),
    [(State.FRIENDS, True), (State.PENDING, False), (State.REQUESTED, False), (None, False)],
)
def test_is_friend_answers_for_any_pair(
    aws: Aws, lambda_context: LambdaContext, state: State | None, is_friend: bool
) -> None:
    if state is not None:
        _seed(aws, "ann", {"bob": state})
    status, body = _get(lambda_context, IS_FRIEND, {"playerId": "ann", "friendId": "bob"}, None)
    assert status == 200
    assert body == {
        "player_id": "ann",
        "friend_id": "bob",
        "isFriend": is_friend,
        "state": None if state is None else state.value,
    }


@pytest.mark.parametrize(
    ("resource", "params", "query"),
    [
        pytest.param(LIST, {"playerId": "ann"}, {"limit": "0"}, id="limit-zero"),
        pytest.param(LIST, {"playerId": "ann"}, {"limit": "101"}, id="limit-too-big"),
        pytest.param(LIST, {"playerId": "ann"}, {"limit": "ten"}, id="limit-not-a-number"),
        pytest.param(LIST, {"playerId": "ann"}, {"state": "Enemies"}, id="unknown-state"),
        pytest.param(LIST, {"playerId": "ann"}, {"nextToken": "%%%"}, id="token-not-base64"),
        pytest.param(LIST, {"playerId": "ann"}, {"nextToken": "bm90IGpzb24="}, id="token-not-json"),
        pytest.param(LIST, {"playerId": "ann"}, {"nextToken": "WzFd"}, id="token-not-ours"),
        pytest.param(LIST, {"playerId": "a" * (MAX_LENGTH + 1)}, None, id="long-player"),
        pytest.param(
            IS_FRIEND,
            {"playerId": "ann", "friendId": "b" * (MAX_LENGTH + 1)},
            None,
            id="long-friend",
        ),
    ],
)
def test_bad_input_gets_400_with_a_json_message(
    aws: Aws,
    lambda_context: LambdaContext,
    resource: str,
    params: dict[str, str],
    query: dict[str, str] | None,
) -> None:
    status, body = _get(lambda_context, resource, params, query)
    assert status == 400
    assert isinstance(body["message"], str)
    assert body["message"]


def test_a_token_round_trips_only_through_the_api() -> None:
    assert read.decode_token(read.encode_token("bob")) == "bob"
    with pytest.raises(read.InvalidNextTokenError):
        read.decode_token(read.encode_token("b" * (MAX_LENGTH + 1)))


def test_a_dynamodb_failure_is_a_json_503(
    aws: Aws, lambda_context: LambdaContext, dynamodb_faults: list[Fault]
) -> None:
    dynamodb_faults.append(
        lambda operation, request: {"Code": "InternalServerError", "Message": "boom"}
    )
    status, body = _get(lambda_context, IS_FRIEND, {"playerId": "ann", "friendId": "bob"}, None)
    assert status == 503
    assert "unavailable" in body["message"]
