"""Write API entry point (API Gateway REST): ``POST /friends`` puts one friend action on the
front queue, for clients that have no AWS credentials or SDK.

The body is the queue's wire format (:mod:`.logic.message`). API Gateway has already checked it
against the request model generated from the same model (:mod:`.logic.message_schema`): fields,
types, lengths, action. What JSON Schema draft 4 cannot state (the characters of an id, and
``player_id != friend_id``) is checked here by parsing the body with the message model itself,
so the door refuses exactly what the front function would park: 400 ``{"message", "reason"}``.

A valid action goes on the queue as the model serializes it (its three fields only, so a body
padded with extra fields can never exceed SQS's message size and end in a 5xx) and is answered
202 ``{"messageId"}``: accepted, not yet applied. The front function applies it, the stream
updates the other player, and the read API shows the result.

Who may act: when ``FRIEND_PLAYER_CLAIM`` is set (the stack sets it with its opt-in Cognito
authorizer), the caller's token must carry that claim with the value ``player_id``, else 403.
Without it, anyone who reaches the API may act for any player.

The queue failing (throttling, an outage) is answered with a JSON 503 the client may retry.
"""

import json
import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from friend_handlers import sqs
from friend_handlers.contract import PLAYER_CLAIM_ENV, QUEUE_URL_ENV
from friend_handlers.logic.message import FriendMessage, InvalidMessageError, parse_message
from friend_handlers.observability import entry_point, logger, metrics, tracer

if TYPE_CHECKING:
    pass

QUEUED_METRIC = "ActionQueued"
BAD_REQUEST_METRIC = "BadRequest"
FORBIDDEN_METRIC = "ForbiddenAction"
UNAVAILABLE_METRIC = "QueueUnavailable"


class ForbiddenActionError(Exception):
    """The signed-in caller asked to act for another player."""


app = APIGatewayRestResolver()


@app.post("/friends")
@tracer.capture_method
def send_action() -> Response[str]:
    message = parse_message(app.current_event.decoded_body or "")
    _check_caller(message)
    sent = sqs.client().send_message(
        QueueUrl=os.environ[QUEUE_URL_ENV], MessageBody=message.model_dump_json()
    )
    logger.info(
        "action queued",
        extra={**message.model_dump(mode="json"), "message_id": sent["MessageId"]},
    )
    metrics.add_metric(name=QUEUED_METRIC, unit=MetricUnit.Count, value=1)
    return _json(202, {"messageId": sent["MessageId"]})


def _check_caller(message: FriendMessage) -> None:
    """With the authorizer on, only the player the token names may act for ``player_id``.
    A missing claim is refused as well: the check fails closed."""
    claim = os.environ.get(PLAYER_CLAIM_ENV)
    if not claim:
        return
    claims = app.current_event.request_context.authorizer.claims
    if claims.get(claim) != message.player_id:
        raise ForbiddenActionError


def _json(status_code: int, body: dict[str, Any]) -> Response[str]:
    return Response(
        status_code=status_code, content_type=content_types.APPLICATION_JSON, body=json.dumps(body)
    )


def _invalid_message(error: InvalidMessageError) -> Response[str]:
    logger.info("bad request", extra={"reason": error.reason.value, "detail": error.detail})
    metrics.add_metric(name=BAD_REQUEST_METRIC, unit=MetricUnit.Count, value=1)
    return _json(400, {"message": f"{error.reason.value}: {error.detail}", "reason": error.reason})


def _forbidden(_: ForbiddenActionError) -> Response[str]:
    logger.warning("action for another player refused")
    metrics.add_metric(name=FORBIDDEN_METRIC, unit=MetricUnit.Count, value=1)
    return _json(403, {"message": "player_id must be the signed-in player"})


def _queue_unavailable(error: BotoCoreError | ClientError) -> Response[str]:
    logger.exception("front queue unavailable", extra={"error": str(error)})
    metrics.add_metric(name=UNAVAILABLE_METRIC, unit=MetricUnit.Count, value=1)
    return _json(503, {"message": "The friend action could not be queued; try again."})


# Registered by call rather than as decorators: Powertools' decorator is untyped and would erase
# these functions' types under mypy --strict.
app.exception_handler(InvalidMessageError)(_invalid_message)
app.exception_handler(ForbiddenActionError)(_forbidden)
app.exception_handler([BotoCoreError, ClientError])(_queue_unavailable)


@entry_point(correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
