"""The generated requests' settings: each lane's allowance is exactly its emulator's difference
from AWS, held by that lane alone, and hides a server error only where the emulator gives it."""

from typing import Any

import pytest
from friend_integ import generated_requests_hooks
from friend_integ.generated_requests import (
    ALLOWANCES,
    LANE_ENV,
    LOCALSTACK_UNDECODABLE_BODY,
    MINISTACK_DECODED_PATH,
    NOT_APPLICABLE,
    SEED,
    command,
)
from schemathesis.core.failures import Failure, ServerError


class _Case:
    def __init__(self, path_parameters: dict[str, Any] | None = None, body: Any = None) -> None:
        self.path_parameters = path_parameters
        self.body = body


def test_each_lane_has_its_emulators_allowance_only() -> None:
    assert ALLOWANCES == {
        "ministack": (MINISTACK_DECODED_PATH,),
        "localstack": (LOCALSTACK_UNDECODABLE_BODY,),
    }
    assert not MINISTACK_DECODED_PATH.server_errors
    assert LOCALSTACK_UNDECODABLE_BODY.server_errors


@pytest.mark.parametrize("body", [b"\xd2", b'{"player_id": "a\xff"}', "\ud800"])
def test_the_localstack_allowance_covers_bodies_that_are_not_utf8(body: Any) -> None:
    assert LOCALSTACK_UNDECODABLE_BODY.covers(_Case(body=body))


@pytest.mark.parametrize(
    "body", [None, b"not json", "{}", {"player_id": "Zo\u00eb"}, [1, 2], "\u2713"]
)
def test_the_localstack_allowance_covers_nothing_else(body: Any) -> None:
    assert not LOCALSTACK_UNDECODABLE_BODY.covers(_Case({"playerId": "x\u2713"}, body))


@pytest.mark.parametrize(
    "player",
    [
        "x\u2713",  # x%E2%9C%93: 3 bytes of UTF-8, not a word character: the router's 404
        "\U0001f600",  # 4 bytes
        "\u00d7",  # 2 bytes, not a word character
        "ann\x9f",  # a control character
        "a/b",  # %2F splits the decoded path
        "a%41",  # decoded twice: "aA"
        "50%",
    ],
)
def test_the_ministack_allowance_covers_what_it_decodes_unlike_aws(player: str) -> None:
    assert MINISTACK_DECODED_PATH.covers(_Case({"playerId": player}))
    assert MINISTACK_DECODED_PATH.covers(_Case({"playerId": "ann", "friendId": player}))


@pytest.mark.parametrize("player", ["ann", "Zo\u00eb \u00dcnal", "isFriend", "\u00e9", "a.b_c-d~"])
def test_the_ministack_allowance_covers_nothing_else(player: str) -> None:
    assert not MINISTACK_DECODED_PATH.covers(_Case({"playerId": player, "friendId": "bob"}))
    assert not MINISTACK_DECODED_PATH.covers(_Case(None, b"\xd2"))


def _kept(failure: Failure, case: _Case) -> bool:
    return generated_requests_hooks.filter_failure(
        None,  # type: ignore[arg-type]
        failure,
        case,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
    )


def test_the_hook_drops_only_what_the_lanes_allowance_covers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = Failure(operation="GET /players/{playerId}/friends", message="404 not documented")
    server = ServerError(operation="GET /players/{playerId}/friends", status_code=500)
    monkeypatch.setenv(LANE_ENV, "ministack")
    assert not _kept(other, _Case({"playerId": "x\u2713"}))
    assert _kept(other, _Case({"playerId": "ann"}))
    assert _kept(server, _Case({"playerId": "x\u2713"}))  # the function's 5xx counts
    assert _kept(server, _Case(None, b"\xd2"))
    monkeypatch.setenv(LANE_ENV, "localstack")
    assert _kept(other, _Case({"playerId": "x\u2713"}))
    assert not _kept(server, _Case(None, b"\xd2"))  # LocalStack's own 500
    assert _kept(server, _Case(None, b"{}"))


def test_the_run_is_seeded_bounded_and_checks_everything_that_applies(tmp_path: Any) -> None:
    argv = command("http://127.0.0.1:1/_aws/execute-api/abc/prod/", tmp_path / "r.json")
    assert argv[2] == "http://127.0.0.1:1/_aws/execute-api/abc/prod/openapi.json"
    assert f"--seed={SEED}" in argv
    assert "--checks=all" in argv
    assert f"--exclude-checks={','.join(NOT_APPLICABLE)}" in argv
    assert set(NOT_APPLICABLE) == {"positive_data_acceptance", "unsupported_method"}
