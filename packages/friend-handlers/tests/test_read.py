"""The read API on API Gateway REST proxy events."""

import json
from collections import Counter
from typing import Any

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from friend_handlers.handlers import read
from friend_handlers.logic.player_id import MAX_LENGTH
from friend_models import State

from .conftest import Aws, Fault, Logs
from .harness import emitted_metrics, put_row, put_rows, rest_event

LIST = "/friends/{playerId}"
IS_FRIEND = "/friends/isFriend/{playerId}/{friendId}"
PLAYER_FRIENDS = "/players/{playerId}/friends"
PLAYER_FRIEND = "/players/{playerId}/friends/{friendId}"


def _seed(aws: Aws, player: str, friends: dict[str, State]) -> None:
    for friend, state in friends.items():
        put_row(aws, player, friend, state, at=1700000000000)


def _get(
    context: LambdaContext,
    resource: str,
    params: dict[str, str],
    query: dict[str, str] | None,
    *,
    encoded: bool = False,
) -> tuple[int, Any]:
    response = read.handler(rest_event(resource, params, query, encoded=encoded), context)
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


@pytest.mark.usefixtures("aws")
def test_list_of_a_player_without_rows_is_empty(lambda_context: LambdaContext) -> None:
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
@pytest.mark.usefixtures("aws")
def test_bad_input_gets_400_with_a_json_message(
    lambda_context: LambdaContext,
    resource: str,
    params: dict[str, str],
    query: dict[str, str] | None,
) -> None:
    status, body = _get(lambda_context, resource, params, query)
    assert status == 400
    assert isinstance(body["message"], str)
    assert body["message"]


UNUSUAL_IDS = [
    pytest.param("Zo\u00eb \u00dcnal", id="accents-and-space"),
    pytest.param("\N{VIDEO GAME}player", id="emoji"),
    pytest.param("a/b", id="slash"),
    pytest.param("a#b?c=d&e", id="hash-and-query-characters"),
    pytest.param("100%", id="percent"),
    pytest.param("%C3%A9", id="literal-escape"),
    pytest.param("a+b", id="plus"),
    pytest.param("...", id="three-dots"),
    pytest.param(".a", id="leading-dot"),
    pytest.param("\u00e9" * MAX_LENGTH, id="longest-non-ascii"),
]


@pytest.mark.parametrize("player", UNUSUAL_IDS)
def test_encoded_ids_are_decoded_once(aws: Aws, lambda_context: LambdaContext, player: str) -> None:
    """The rows of ``player`` (and only those) answer a request that encodes it correctly."""
    _seed(aws, player, {"bob": State.FRIENDS})
    _seed(aws, "\u00e9", {"decoy": State.FRIENDS})
    _seed(aws, "%C3%A9" if player != "%C3%A9" else "%25C3%25A9", {"decoy": State.FRIENDS})

    status, body = _get(lambda_context, LIST, {"playerId": player}, None)
    assert status == 200, body
    assert [(item["player_id"], item["friend_id"]) for item in body["items"]] == [(player, "bob")]

    status, body = _get(lambda_context, IS_FRIEND, {"playerId": player, "friendId": "bob"}, None)
    assert (status, body["player_id"], body["isFriend"]) == (200, player, True)
    status, body = _get(lambda_context, IS_FRIEND, {"playerId": "bob", "friendId": player}, None)
    assert (status, body["friend_id"], body["isFriend"]) == (200, player, False)


def test_a_literal_escape_and_the_character_it_encodes_are_two_players(
    aws: Aws, lambda_context: LambdaContext
) -> None:
    _seed(aws, "\u00e9", {"accented": State.FRIENDS})
    _seed(aws, "%C3%A9", {"literal": State.FRIENDS})
    for player, friend in (("\u00e9", "accented"), ("%C3%A9", "literal")):
        status, body = _get(lambda_context, LIST, {"playerId": player}, None)
        assert (status, [item["friend_id"] for item in body["items"]]) == (200, [friend])


def test_an_encoded_slash_in_a_segment_is_part_of_the_id(
    aws: Aws, lambda_context: LambdaContext
) -> None:
    """API Gateway REST routes on the encoded path, so ``%2F`` stays inside its segment; what
    the function receives there it decodes like any other escape."""
    _seed(aws, "a/b", {"c": State.FRIENDS})
    status, body = _get(
        lambda_context, IS_FRIEND, {"playerId": "a%2Fb", "friendId": "c"}, None, encoded=True
    )
    assert (status, body["player_id"], body["isFriend"]) == (200, "a/b", True)


@pytest.mark.parametrize(
    "segment",
    [
        pytest.param("ann%0A", id="control-character"),
        pytest.param("%20%20", id="only-spaces"),
        pytest.param("%20ann", id="leading-space"),
        pytest.param("ann%E2%80%8B", id="zero-width-space"),
        pytest.param("e%CC%81", id="not-nfc"),
        pytest.param("%C3", id="not-utf8"),
        pytest.param("ann%ZZ", id="malformed-escape"),
        pytest.param("%C3%A9" * (MAX_LENGTH + 1), id="too-long-decoded"),
        pytest.param("%2E", id="dot"),
        pytest.param("%2E%2E", id="dot-dot"),
    ],
)
@pytest.mark.parametrize("resource", [LIST, IS_FRIEND, PLAYER_FRIENDS, PLAYER_FRIEND])
@pytest.mark.usefixtures("aws")
def test_an_id_outside_the_grammar_gets_400(
    lambda_context: LambdaContext, resource: str, segment: str
) -> None:
    params = (
        {"playerId": segment}
        if resource in (LIST, PLAYER_FRIENDS)
        else {"playerId": segment, "friendId": "bob"}
    )
    status, body = _get(lambda_context, resource, params, None, encoded=True)
    assert status == 400
    # Named as the client names it: the path parameter of the route.
    assert "path.playerId" in body["message"]


MANY = 700
"""Rows of one busy player: several times what one request with a ``state`` filter reads
(``FILTERED_ROWS_READ``), so a filtered list takes several reads and empty pages."""


def _many_rows(aws: Aws) -> dict[str, State]:
    """``MANY`` rows of ann, every seventh of them Friends, the rest Pending."""
    friends = {f"f{n:04}": State.FRIENDS if n % 7 == 3 else State.PENDING for n in range(MANY)}
    put_rows(aws, "ann", friends, at=1700000000000)
    return friends


def test_one_request_makes_one_dynamodb_call_whatever_the_filter(
    aws: Aws, lambda_context: LambdaContext, dynamodb_calls: Counter[str]
) -> None:
    put_rows(aws, "ann", {f"f{n:04}": State.PENDING for n in range(MANY)})
    dynamodb_calls.clear()

    status, body = _get(
        lambda_context, LIST, {"playerId": "ann"}, {"limit": "1", "state": "Friends"}
    )

    assert status == 200
    assert body["items"] == [], "nothing matches"
    assert body["nextToken"] is not None, "an empty page, but the rows are not all read yet"
    assert dynamodb_calls == {"Query": 1}


@pytest.mark.parametrize(
    ("limit", "state"),
    [(1, "Friends"), (7, "Friends"), (100, "Pending"), (100, None), (3, None)],
)
def test_paging_with_the_tokens_returns_exactly_the_matching_rows(
    aws: Aws,
    lambda_context: LambdaContext,
    dynamodb_calls: Counter[str],
    limit: int,
    state: str | None,
) -> None:
    friends = _many_rows(aws)
    expected = [friend for friend, each in friends.items() if state in (None, each.value)]
    query = {"limit": str(limit)} | ({} if state is None else {"state": state})
    seen: list[str] = []
    requests = 0
    token: str | None = None
    while True:
        dynamodb_calls.clear()
        page_query = query if token is None else query | {"nextToken": token}
        status, body = _get(lambda_context, LIST, {"playerId": "ann"}, page_query)
        requests += 1
        assert status == 200
        assert dynamodb_calls == {"Query": 1}
        assert len(body["items"]) <= limit
        if state is not None:
            assert {item["state"] for item in body["items"]} <= {state}
        seen.extend(item["friend_id"] for item in body["items"])
        token = body["nextToken"]
        if token is None:
            break
        assert requests <= MANY, "the tokens must make progress"
    assert seen == expected
    reads_per_request = limit if state is None else read.FILTERED_ROWS_READ
    assert requests <= MANY // reads_per_request + len(expected) // limit + 2


def test_a_row_with_an_unknown_state_is_left_out_logged_and_counted(
    aws: Aws, lambda_context: LambdaContext, capsys: pytest.CaptureFixture[str], log_lines: Logs
) -> None:
    _seed(aws, "ann", {"bob": State.FRIENDS, "dan": State.PENDING})
    put_row(aws, "ann", "cat", "Enemies", at=1700000000000)
    capsys.readouterr()

    listed = _get(lambda_context, LIST, {"playerId": "ann"}, None)
    pair = _get(lambda_context, IS_FRIEND, {"playerId": "ann", "friendId": "cat"}, None)
    friends = _get(lambda_context, LIST, {"playerId": "ann"}, {"state": "Friends"})

    assert listed[0] == 200
    assert [item["friend_id"] for item in listed[1]["items"]] == ["bob", "dan"]
    assert listed[1]["nextToken"] is None
    assert pair == (
        200,
        {"player_id": "ann", "friend_id": "cat", "isFriend": False, "state": None},
    )
    assert friends[0] == 200
    assert [item["friend_id"] for item in friends[1]["items"]] == ["bob"]
    assert emitted_metrics(capsys) == {
        "FriendsListed": 2,
        "IsFriendAnswered": 1,
        "UnreadableRowSkipped": 2,
    }
    warnings = [log for log in log_lines() if log["level"] == "WARNING"]
    assert [(log["player_id"], log["friend_id"]) for log in warnings] == [("ann", "cat")] * 2
    assert all("Enemies" in log["problem"] for log in warnings)


def test_paging_skips_unknown_states_without_losing_a_row(
    aws: Aws, lambda_context: LambdaContext
) -> None:
    friends = {f"f{n}": State.FRIENDS for n in range(9)}
    _seed(aws, "ann", friends)
    for odd in ("f0", "f2", "f3", "f8"):
        put_row(aws, "ann", odd, "Blocked", at=1700000000000)
    for limit in ("1", "2", "3"):
        seen: list[str] = []
        query = {"limit": limit}
        while True:
            status, body = _get(lambda_context, LIST, {"playerId": "ann"}, query)
            assert status == 200
            seen.extend(item["friend_id"] for item in body["items"])
            if body["nextToken"] is None:
                break
            query = {"limit": limit, "nextToken": body["nextToken"]}
        assert seen == ["f1", "f4", "f5", "f6", "f7"]


@pytest.mark.parametrize(
    "query",
    [None, {"limit": "2"}, {"state": "Pending"}, {"limit": "1", "state": "Friends"}],
)
def test_the_players_list_route_answers_as_the_seeds(
    aws: Aws, lambda_context: LambdaContext, query: dict[str, str] | None
) -> None:
    _seed(aws, "ann", {"bob": State.PENDING, "cat": State.FRIENDS, "dan": State.PENDING})
    seed = _get(lambda_context, LIST, {"playerId": "ann"}, query)
    players = _get(lambda_context, PLAYER_FRIENDS, {"playerId": "ann"}, query)
    assert seed[0] == 200
    assert players == seed
    if seed[1]["nextToken"] is not None:
        following = (query or {}) | {"nextToken": seed[1]["nextToken"]}
        assert _get(lambda_context, PLAYER_FRIENDS, {"playerId": "ann"}, following) == _get(
            lambda_context, LIST, {"playerId": "ann"}, following
        )


@pytest.mark.parametrize("friend", ["bob", "zed"])
def test_the_players_pair_route_answers_as_the_seeds(
    aws: Aws, lambda_context: LambdaContext, friend: str
) -> None:
    _seed(aws, "ann", {"bob": State.FRIENDS})
    params = {"playerId": "ann", "friendId": friend}
    seed = _get(lambda_context, IS_FRIEND, params, None)
    assert seed[0] == 200
    assert _get(lambda_context, PLAYER_FRIEND, params, None) == seed


@pytest.mark.parametrize("player", ["isFriend", "players", "friends"])
def test_a_player_named_like_a_path_part_is_listed_on_the_players_routes(
    aws: Aws, lambda_context: LambdaContext, player: str
) -> None:
    """API Gateway answers ``GET /friends/isFriend`` itself (the static resource shadows
    ``{playerId}``); under ``/players`` every id reaches the function."""
    _seed(aws, player, {"bob": State.FRIENDS})
    status, body = _get(lambda_context, PLAYER_FRIENDS, {"playerId": player}, None)
    assert (status, [(i["player_id"], i["friend_id"]) for i in body["items"]]) == (
        200,
        [(player, "bob")],
    )
    status, body = _get(
        lambda_context, PLAYER_FRIEND, {"playerId": player, "friendId": "bob"}, None
    )
    assert (status, body["player_id"], body["isFriend"]) == (200, player, True)


def test_a_token_round_trips_only_through_the_api() -> None:
    assert read.decode_token(read.encode_token("bob")) == "bob"
    with pytest.raises(read.InvalidNextTokenError):
        read.decode_token(read.encode_token("b" * (MAX_LENGTH + 1)))


@pytest.mark.usefixtures("aws")
def test_a_dynamodb_failure_is_a_json_503(
    lambda_context: LambdaContext, dynamodb_faults: list[Fault]
) -> None:
    dynamodb_faults.append(lambda *_: {"Code": "InternalServerError", "Message": "boom"})
    status, body = _get(lambda_context, IS_FRIEND, {"playerId": "ann", "friendId": "bob"}, None)
    assert status == 503
    assert "unavailable" in body["message"]
