"""The generated requests' settings: the allowance is exactly MiniStack's way of handing on
path parameters, held by that lane alone, and never hides a server error."""

from typing import Any

import pytest
from friend_integ import generated_requests_hooks
from friend_integ.generated_requests import (
    ALLOWANCES,
    LANE_ENV,
    MINISTACK_DECODED_PATH,
    NOT_APPLICABLE,
    SEED,
    command,
)
from schemathesis.core.failures import Failure, ServerError


def test_only_the_ministack_lane_has_an_allowance() -> None:
    assert ALLOWANCES == {"ministack": (MINISTACK_DECODED_PATH,), "localstack": ()}


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
def test_the_allowance_covers_what_ministack_decodes_unlike_aws(player: str) -> None:
    assert MINISTACK_DECODED_PATH.covers({"playerId": player})
    assert MINISTACK_DECODED_PATH.covers({"playerId": "ann", "friendId": player})


@pytest.mark.parametrize("player", ["ann", "Zo\u00eb \u00dcnal", "isFriend", "\u00e9", "a.b_c-d~"])
def test_the_allowance_covers_nothing_else(player: str) -> None:
    assert not MINISTACK_DECODED_PATH.covers({"playerId": player, "friendId": "bob"})
    assert not MINISTACK_DECODED_PATH.covers({})


class _Case:
    def __init__(self, path_parameters: dict[str, Any]) -> None:
        self.path_parameters = path_parameters


def _kept(failure: Failure, path_parameters: dict[str, Any]) -> bool:
    return generated_requests_hooks.filter_failure(
        None,  # type: ignore[arg-type]
        failure,
        _Case(path_parameters),  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
    )


def test_the_hook_drops_covered_failures_on_ministack_only(monkeypatch: pytest.MonkeyPatch) -> None:
    other = Failure(operation="GET /players/{playerId}/friends", message="404 not documented")
    server = ServerError(operation="GET /players/{playerId}/friends", status_code=500)
    monkeypatch.setenv(LANE_ENV, "ministack")
    assert not _kept(other, {"playerId": "x\u2713"})
    assert _kept(other, {"playerId": "ann"})
    assert _kept(server, {"playerId": "x\u2713"})  # a 5xx always counts
    monkeypatch.setenv(LANE_ENV, "localstack")
    assert _kept(other, {"playerId": "x\u2713"})


def test_the_run_is_seeded_bounded_and_checks_everything_that_applies(tmp_path: Any) -> None:
    argv = command("http://127.0.0.1:1/_aws/execute-api/abc/prod/", tmp_path / "r.json")
    assert argv[2] == "http://127.0.0.1:1/_aws/execute-api/abc/prod/openapi.json"
    assert f"--seed={SEED}" in argv
    assert "--checks=all" in argv
    assert f"--exclude-checks={','.join(NOT_APPLICABLE)}" in argv
    assert set(NOT_APPLICABLE) == {"positive_data_acceptance", "unsupported_method"}
