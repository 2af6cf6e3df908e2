"""The API's OpenAPI document: generated from the routes, committed as docs/openapi.json, and
served by the write function as its deployment asks for tokens or not."""

import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.event_handler.openapi.models import OpenAPI
from aws_lambda_powertools.utilities.typing import LambdaContext
from friend_handlers.contract import API_DOCUMENT_PATH, PAGE_FILES, PLAYER_CLAIM_ENV
from friend_handlers.handlers import write
from friend_handlers.openapi import document

from .harness import rest_event

COMMITTED = Path(__file__).parents[3] / "docs" / "openapi.json"
REGENERATE = (
    "uv run --package friend-handlers python -m friend_handlers.openapi > docs/openapi.json"
)


def _operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in doc["paths"].items()
        for method, operation in item.items()
    }


def test_the_committed_document_is_the_one_the_code_generates() -> None:
    assert json.loads(COMMITTED.read_text()) == document(authorizer=True), (
        f"docs/openapi.json is stale: {REGENERATE}"
    )


def test_the_document_is_openapi_and_has_every_operation_of_the_api() -> None:
    doc = document(authorizer=True)
    OpenAPI.model_validate(doc)
    assert set(_operations(doc)) == {
        ("GET", "/players/{playerId}/friends"),
        ("GET", "/players/{playerId}/friends/{friendId}"),
        ("GET", "/friends/{playerId}"),
        ("GET", "/friends/isFriend/{playerId}/{friendId}"),
        ("POST", "/friends"),
        ("GET", API_DOCUMENT_PATH),
        *(("GET", resource) for resource in PAGE_FILES),
    }


def test_every_answer_is_declared_with_its_body_and_the_release_header() -> None:
    operations = _operations(document(authorizer=True))
    statuses = {key: set(operation["responses"]) for key, operation in operations.items()}
    assert statuses[("GET", "/players/{playerId}/friends")] == {"200", "400", "503"}
    assert statuses[("POST", "/friends")] == {"202", "400", "401", "403", "503"}
    for operation in operations.values():
        for response in operation["responses"].values():
            assert "X-Friend-Handlers-Version" in response["headers"]
            assert response["content"]
    # The authorizer's 401 and a body refused by API Gateway come without the function.
    send = operations[("POST", "/friends")]["responses"]
    assert not send["401"]["headers"]["X-Friend-Handlers-Version"]["required"]
    assert send["202"]["headers"]["X-Friend-Handlers-Version"]["required"]


def test_the_request_body_is_the_message_model_and_no_answer_is_a_422() -> None:
    doc = document(authorizer=True)
    body = _operations(doc)[("POST", "/friends")]["requestBody"]["content"]["application/json"]
    assert body["schema"]["required"] == ["player_id", "friend_id", "friend_action"]
    assert body["schema"]["properties"]["friend_action"]["enum"] == [
        "Request",
        "Accept",
        "Reject",
        "Unfriend",
    ]
    assert all("422" not in op["responses"] for op in _operations(doc).values())


def test_the_next_token_contract_is_stated() -> None:
    doc = document(authorizer=True)
    token = doc["components"]["schemas"]["FriendPage"]["properties"]["nextToken"]
    assert "short, even empty, while nextToken is not null" in token["description"]
    (query,) = [
        parameter
        for parameter in _operations(doc)[("GET", "/players/{playerId}/friends")]["parameters"]
        if parameter["name"] == "nextToken"
    ]
    assert query["schema"]["type"] == "string"  # a query string has no null


def test_without_the_authorizer_the_write_asks_for_no_token() -> None:
    send = _operations(document(authorizer=False))[("POST", "/friends")]
    assert "security" not in send
    assert set(send["responses"]) == {"202", "400", "503"}
    assert _operations(document(authorizer=True))[("POST", "/friends")]["security"] == [
        {"PlayerPool": []}
    ]


@pytest.mark.parametrize("claim", [None, "sub"])
def test_the_write_function_serves_its_deployments_document(
    lambda_context: LambdaContext, monkeypatch: pytest.MonkeyPatch, claim: str | None
) -> None:
    if claim is None:
        monkeypatch.delenv(PLAYER_CLAIM_ENV, raising=False)
    else:
        monkeypatch.setenv(PLAYER_CLAIM_ENV, claim)
    response = write.handler(rest_event(API_DOCUMENT_PATH, {}), lambda_context)
    assert response["statusCode"] == 200
    assert response["multiValueHeaders"]["Content-Type"] == ["application/json"]
    assert json.loads(response["body"]) == document(authorizer=claim is not None)
