"""The write API on API Gateway REST proxy events, against a moto front queue."""

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from friend_handlers.handlers import write
from friend_handlers.logic.message import FriendMessage, parse_message
from hypothesis import HealthCheck, given, settings

from .conftest import Aws
from .harness import emitted_metrics, rest_event
from .test_message_schema import bodies, door_accepts, model_refusals

FRIENDS = "/friends"


@pytest.fixture
def queue(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """The front queue the stack names in the write function's environment."""
    monkeypatch.setenv(write.QUEUE_URL_ENV, aws.queue_url)
    monkeypatch.delenv(write.PLAYER_CLAIM_ENV, raising=False)
    yield aws


def post(
    context: LambdaContext, body: str | None, claims: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    event = rest_event(FRIENDS, {}, method="POST", body=body, claims=claims)
    response = write.handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def queued(aws: Aws) -> list[dict[str, Any]]:
    """Every message on the front queue, left there."""
    received = aws.sqs.receive_message(
        QueueUrl=aws.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0
    )
    return received.get("Messages", [])


def body(player: str = "ana", friend: str = "ben", action: str = "Request", **extra: Any) -> str:
    return json.dumps({"player_id": player, "friend_id": friend, "friend_action": action, **extra})


def test_an_action_is_queued_in_the_wire_format_and_answered_202(
    queue: Aws, lambda_context: LambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    status, answer = post(lambda_context, body("Zo\u00eb", "ben", "Accept", note="x" * 300_000))
    assert status == 202
    (message,) = queued(queue)
    assert answer == {"messageId": message["MessageId"]}
    # The three fields only: what the front function parses, never the client's padding.
    assert json.loads(message["Body"]) == {
        "player_id": "Zo\u00eb",
        "friend_id": "ben",
        "friend_action": "Accept",
    }
    assert parse_message(message["Body"]) == FriendMessage.model_validate_json(
        body("Zo\u00eb", "ben", "Accept")
    )
    assert emitted_metrics(capsys) == {"ActionQueued": 1}


@pytest.mark.parametrize(
    ("sent", "reason"),
    [
        pytest.param(None, "NotJson", id="no-body"),
        pytest.param("ana wants ben", "NotJson", id="not-json"),
        pytest.param("[]", "InvalidFields", id="not-an-object"),
        pytest.param(json.dumps({"player_id": "ana"}), "InvalidFields", id="missing-fields"),
        pytest.param(body(action="Poke"), "InvalidFields", id="unknown-action"),
        pytest.param(body(action="request"), "InvalidFields", id="action-case"),
        pytest.param(body(player=7), "InvalidFields", id="number-id"),  # type: ignore[arg-type]
        pytest.param(body(player="a" * 129), "InvalidFields", id="long-id"),
        pytest.param(body(player=" ana"), "InvalidFields", id="edge-space"),
        pytest.param(body(player="ana\u200b"), "InvalidFields", id="zero-width-space"),
        pytest.param(body(player="e\u0301"), "InvalidFields", id="not-nfc"),
        pytest.param(body(player="ana", friend="ana"), "SelfRequest", id="self-request"),
        pytest.param(body(player="."), "InvalidFields", id="dot"),
        pytest.param(body(friend=".."), "InvalidFields", id="dot-dot"),
    ],
)
def test_a_bad_body_is_a_400_with_its_reason_and_queues_nothing(
    queue: Aws,
    lambda_context: LambdaContext,
    capsys: pytest.CaptureFixture[str],
    sent: str | None,
    reason: str,
) -> None:
    status, answer = post(lambda_context, sent)
    assert status == 400
    assert answer["reason"] == reason
    assert answer["message"].startswith(f"{reason}: ")
    assert queued(queue) == []
    assert emitted_metrics(capsys) == {"BadRequest": 1}


@pytest.mark.usefixtures("queue")
def test_the_message_names_what_is_wrong(lambda_context: LambdaContext) -> None:
    _, answer = post(lambda_context, body(player="ana", friend="ana"))
    assert answer["message"] == "SelfRequest: message: player_id and friend_id must differ"
    _, answer = post(lambda_context, body(player="ana\u200b"))
    assert "player_id" in answer["message"]
    assert "U+200B" in answer["message"]


@pytest.fixture
def player_claim(queue: Aws, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """The write function as the stack configures it with the Cognito authorizer on."""
    monkeypatch.setenv(write.PLAYER_CLAIM_ENV, "sub")
    return queue


def test_with_the_authorizer_a_player_acts_for_themselves(
    player_claim: Aws, lambda_context: LambdaContext
) -> None:
    status, _ = post(lambda_context, body(player="ana"), claims={"sub": "ana"})
    assert status == 202
    assert len(queued(player_claim)) == 1


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"sub": "ben"}, id="another-player"),
        pytest.param({"cognito:username": "ana"}, id="claim-missing"),
        pytest.param(None, id="no-authorizer-context"),
    ],
)
def test_with_the_authorizer_acting_for_another_player_is_a_403(
    player_claim: Aws,
    lambda_context: LambdaContext,
    capsys: pytest.CaptureFixture[str],
    claims: dict[str, str] | None,
) -> None:
    status, answer = post(lambda_context, body(player="ana"), claims=claims)
    assert (status, answer) == (403, {"message": "player_id must be the signed-in player"})
    assert queued(player_claim) == []
    assert emitted_metrics(capsys) == {"ForbiddenAction": 1}


@pytest.mark.parametrize(
    ("sent", "status"), [(body(), 202), ("{", 400), (body(player="ana", friend="ana"), 400)]
)
@pytest.mark.usefixtures("queue")
def test_every_answer_is_json(lambda_context: LambdaContext, sent: str, status: int) -> None:
    response = write.handler(rest_event(FRIENDS, {}, method="POST", body=sent), lambda_context)
    assert response["statusCode"] == status
    assert response["multiValueHeaders"]["Content-Type"] == ["application/json"]
    assert isinstance(json.loads(response["body"]), dict)


@pytest.mark.usefixtures("queue")
def test_without_the_authorizer_claims_are_not_required(lambda_context: LambdaContext) -> None:
    status, _ = post(lambda_context, body(player="ana"), claims={"sub": "ben"})
    assert status == 202


def test_a_queue_that_fails_is_a_json_503(
    aws: Aws,
    lambda_context: LambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(write.QUEUE_URL_ENV, aws.queue_url + "-gone")
    status, answer = post(lambda_context, body())
    assert status == 503
    assert answer == {"message": "The friend action could not be queued; try again."}
    assert emitted_metrics(capsys) == {"QueueUnavailable": 1}


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@pytest.mark.usefixtures("queue")
@given(bodies)
def test_the_door_accepts_exactly_the_messages_the_model_accepts(
    lambda_context: LambdaContext, body: str
) -> None:
    """API Gateway's request model first, then this function: together they accept what the
    model accepts and answer everything else with a JSON 400 (the shared queue only grows)."""
    if not door_accepts(body):
        assert model_refusals(body) is not None
        return
    status, answer = post(lambda_context, body)
    assert (status == 202) == (model_refusals(body) is None)
    if status != 202:
        assert status == 400
        assert answer["message"]


def test_a_body_that_is_not_utf8_is_a_400_not_json(
    queue: Aws, lambda_context: LambdaContext
) -> None:
    """API Gateway hands a body it cannot read as UTF-8 on base64-encoded (LocalStack does, for
    the generated request that found this); it is refused like any body that is not JSON."""
    event = rest_event(FRIENDS, {}, method="POST", body=base64.b64encode(b"\xd2{").decode())
    event["isBase64Encoded"] = True
    response = write.handler(event, lambda_context)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["reason"] == "NotJson"
    assert queued(queue) == []
