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

import base64
import binascii
import json
import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field

from friend_handlers import sqs
from friend_handlers.contract import API_DOCUMENT_PATH, PLAYER_CLAIM_ENV, QUEUE_URL_ENV
from friend_handlers.http_api import ErrorBody, answer, versioned
from friend_handlers.logic.message import (
    FriendMessage,
    InvalidMessageError,
    InvalidReason,
    parse_message,
)
from friend_handlers.logic.message_schema import request_model_schema
from friend_handlers.observability import entry_point, logger, metrics, tracer

if TYPE_CHECKING:
    pass

QUEUED_METRIC = "ActionQueued"
BAD_REQUEST_METRIC = "BadRequest"
FORBIDDEN_METRIC = "ForbiddenAction"
UNAVAILABLE_METRIC = "QueueUnavailable"


class ForbiddenActionError(Exception):
    """The signed-in caller asked to act for another player."""


class Queued(BaseModel):
    """The action is on the front queue: accepted, not yet applied."""

    model_config = ConfigDict(populate_by_name=True)

    message_id: str = Field(alias="messageId", description="The queue's id of the message.")


class Refusal(ErrorBody):
    """A body the service will not act on. ``reason`` is given when the write function refused
    it; API Gateway's request model refuses most bad bodies before, with ``message`` only."""

    reason: InvalidReason | None = None


PLAYER_POOL = "PlayerPool"
"""The security scheme of ``POST /friends`` when the stack puts its Cognito authorizer there."""

REQUEST_BODY = {
    "required": True,
    "description": "A friend action in the front queue's wire format. The schema is the request "
    "model API Gateway checks; the function also refuses ids outside the player id grammar "
    "(printable, NFC, no space at either end) and player_id == friend_id.",
    "content": {
        content_types.APPLICATION_JSON: {
            "schema": {
                key: value for key, value in request_model_schema().items() if key != "$schema"
            }
        }
    },
}
"""Declared rather than validated by Powertools: the message model parses the body itself
(:func:`~friend_handlers.logic.message.parse_message`), so that every refusal names its reason,
and Powertools' validation would answer 422 in its own words."""

app = APIGatewayRestResolver()


@app.post(
    "/friends",
    summary="Send a friend action",
    description="Puts one action on the front queue. With the stack's authorizer, the token "
    "must name player_id.",
    responses={
        202: answer("Queued: the front function will apply it.", Queued),
        400: answer(
            "Refused: not JSON, a missing or bad field, an id outside the grammar, or a "
            "self-request.",
            Refusal,
            from_function=False,
        ),
        401: answer(
            "No valid token of the player pool (API Gateway's authorizer).",
            ErrorBody,
            from_function=False,
        ),
        403: answer("The token names another player than player_id.", ErrorBody),
        503: answer("The queue failed: try again.", ErrorBody),
    },
    security=[{PLAYER_POOL: []}],
    openapi_extensions={"requestBody": REQUEST_BODY},
)
@tracer.capture_method
def send_action() -> Response[str]:
    message = parse_message(_body_text())
    _check_caller(message)
    sent = sqs.client().send_message(
        QueueUrl=os.environ[QUEUE_URL_ENV], MessageBody=message.model_dump_json()
    )
    logger.info(
        "action queued",
        extra={**message.model_dump(mode="json"), "message_id": sent["MessageId"]},
    )
    metrics.add_metric(name=QUEUED_METRIC, unit=MetricUnit.Count, value=1)
    return _json(202, Queued(messageId=sent["MessageId"]).model_dump(by_alias=True))


@app.get(
    API_DOCUMENT_PATH,
    summary="This document",
    description="The API's OpenAPI document as this deployment serves it: POST /friends "
    "declares the player pool only where the stack put its authorizer.",
    responses={
        200: answer(
            "The OpenAPI document.",
            content_type=content_types.APPLICATION_JSON,
            body_schema={"type": "object"},
        )
    },
)
@tracer.capture_method
def api_document() -> Response[str]:
    """Served by this function because it is the one that knows whether the deployment asks
    for a token (:data:`PLAYER_CLAIM_ENV`)."""
    # Imported on use: the document is built from this module's routes among others.
    from friend_handlers.openapi import document  # noqa: PLC0415

    return _json(200, document(authorizer=bool(os.environ.get(PLAYER_CLAIM_ENV))))


def _body_text() -> str:
    """The body as the text the client sent. API Gateway hands a body on base64-encoded when it
    could not read it as UTF-8 text: such a body is refused as not JSON, never repaired (a
    replacement character would turn bytes the client sent into an id it did not)."""
    event = app.current_event
    if not event.is_base64_encoded:
        return event.body or ""
    try:
        return base64.b64decode(event.body or "", validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise InvalidMessageError(InvalidReason.NOT_JSON, "the body is not UTF-8 text") from error


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
    return versioned(app.resolve(event, context))
