"""Read API entry point (API Gateway REST).

Each answer has two routes: ``/players/{playerId}/friends[/{friendId}]``, where every valid id
routes, and the seed's ``/friends/...`` routes, where API Gateway's static ``isFriend`` resource
shadows a player of that name.

- ``GET /players/{playerId}/friends`` (or ``/friends/{playerId}``): the player's rows,
  paginated (``limit`` 1..100, opaque ``nextToken``), optionally only those in one ``state``.
  Each request is one DynamoDB Query of bounded size, so with a filter a page may be short or
  even empty while ``nextToken`` is not null; the list ends when ``nextToken`` is null.
- ``GET /players/{playerId}/friends/{friendId}`` (or ``/friends/isFriend/{playerId}/{friendId}``):
  the pair's answer; a missing pair is an answer (``isFriend: false, state: null``), not an
  error.

Ids arrive percent-encoded in the path (API Gateway REST passes the path on as the client sent
it); each is decoded once, by its parameter type :data:`PlayerIdPath`, before the id grammar of
:mod:`friend_handlers.logic.player_id` checks it.

Bad input is answered with 400 and a JSON ``{"message": ...}``, never with a 5xx; a DynamoDB
failure with a JSON 503. A row that does not fit the model (an unknown ``state``) is left out of
the answer, logged and counted (``UnreadableRowSkipped``).
"""

import base64
import binascii
import json
import re
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from friend_models import State
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pynamodb.exceptions import PynamoDBException

from friend_handlers import dal
from friend_handlers.http_api import ErrorBody, answer, versioned
from friend_handlers.logic.player_id import MAX_LENGTH, PlayerId
from friend_handlers.observability import entry_point, logger, metrics, tracer

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
FILTERED_ROWS_READ = 200
"""Rows one request with a ``state`` filter reads (DynamoDB filters after reading). Every list
request is one DynamoDB Query of at most this many rows (``limit`` rows without a filter), so a
request costs the same whether the filter matches every row or none; a sparse filter answers
with a short or empty page and a ``nextToken``. 200 rows of about 100 bytes are some 20 KB:
2.5 read capacity units (eventually consistent) and a few milliseconds."""
BAD_REQUEST_METRIC = "BadRequest"
UNAVAILABLE_METRIC = "TableUnavailable"
UNREADABLE_ROW_METRIC = "UnreadableRowSkipped"

_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def percent_decoded(segment: str) -> str:
    """The text of one path segment, which API Gateway REST hands over percent-encoded as the
    client sent it (HTTP APIs decode; REST APIs do not).

    Routing happens on the encoded path, so an encoded ``/`` (``%2F``) stays inside its segment
    and decodes to part of the id. Decoding is strict: the bytes must be UTF-8 and every ``%``
    must start an escape (a literal ``%`` travels as ``%25``), otherwise the id is refused
    rather than guessed.
    """
    if _STRAY_PERCENT.search(segment):
        raise ValueError("a '%' in a path segment must start an escape such as %25")
    try:
        return unquote(segment, errors="strict")
    except UnicodeDecodeError as error:
        raise ValueError("a percent-encoded path segment must be UTF-8") from error


type PlayerIdPath = Annotated[PlayerId, BeforeValidator(percent_decoded)]
"""A player id in the path: decoded here, once, then checked against the id grammar."""
ID_DESCRIPTION = (
    f"A player id: 1 to {MAX_LENGTH} printable characters in NFC, no space at either end, "
    "percent-encoded as one path segment (an encoded '/' is part of the id)."
)


class FriendView(BaseModel):
    """One row of the player's list: where the pair stands from ``player_id``'s side."""

    player_id: str
    friend_id: str
    state: State
    last_updated: int = Field(description="When the row last changed (epoch milliseconds).")


class FriendPage(BaseModel):
    """One page of a player's rows, in ``friend_id`` order."""

    model_config = ConfigDict(populate_by_name=True)

    items: list[FriendView]
    next_token: str | None = Field(
        alias="nextToken",
        description="Where the next page starts (opaque: send it back as the nextToken query "
        "parameter); null when the list ends. A page may be short, even empty, while nextToken "
        "is not null: follow it until it is null.",
    )


class IsFriendAnswer(BaseModel):
    """Where one pair stands; a pair without a row is an answer (``state`` null)."""

    model_config = ConfigDict(populate_by_name=True)

    player_id: str
    friend_id: str
    is_friend: bool = Field(alias="isFriend")
    state: State | None


class InvalidNextTokenError(ValueError):
    """The continuation token was not one this API handed out."""


def encode_token(friend_id: str) -> str:
    """Opaque continuation: where the next page starts. Clients must not build it themselves."""
    return base64.urlsafe_b64encode(json.dumps({"after": friend_id}).encode()).decode()


def decode_token(token: str) -> str:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, UnicodeError, ValueError) as error:
        raise InvalidNextTokenError("nextToken is not valid") from error
    after = decoded.get("after") if isinstance(decoded, dict) else None
    if not isinstance(after, str) or not 0 < len(after) <= MAX_LENGTH:
        raise InvalidNextTokenError("nextToken is not valid")
    return after


app = APIGatewayRestResolver(enable_validation=True)

REFUSED = answer(
    "Bad input: an id outside the grammar, a bad limit, state or nextToken.", ErrorBody
)
UNAVAILABLE = answer("The table failed (throttled, an outage): try again.", ErrorBody)
LIST_ANSWERS = {
    200: answer("One page of the player's rows.", FriendPage),
    400: REFUSED,
    503: UNAVAILABLE,
}
PAIR_ANSWERS = {200: answer("The pair's answer.", IsFriendAnswer), 400: REFUSED, 503: UNAVAILABLE}
LIST_DESCRIPTION = (
    "The player's rows, a page at a time. Each request reads a bounded number of rows (limit "
    f"rows, or {FILTERED_ROWS_READ} with a state filter), so a filtered page may be short or "
    "empty while nextToken is not null; the list ends when nextToken is null."
)
PAIR_DESCRIPTION = (
    "Where the pair stands from playerId's side; a pair without a row is an answer: isFriend "
    "false, state null."
)


def _routes[Handler: Callable[..., Any]](
    path: str,
    seed_path: str,
    *,
    summary: str,
    description: str,
    responses: dict[int, OpenAPIResponse],
    seed_note: str = "",
) -> Callable[[Handler], Handler]:
    """Register a handler on its route and on the seed's route, which answers alike; the seed's
    route is documented as the seed's, with ``seed_note`` on what it cannot serve."""

    def register(handler: Handler) -> Handler:
        app.get(
            seed_path,
            summary=f"{summary} (the seed's route)",
            description=description + seed_note,
            responses=responses,
        )(handler)
        return app.get(path, summary=summary, description=description, responses=responses)(handler)

    return register


PlayerIdParameter = Annotated[PlayerIdPath, Path(alias="playerId", description=ID_DESCRIPTION)]
FriendIdParameter = Annotated[PlayerIdPath, Path(alias="friendId", description=ID_DESCRIPTION)]


@_routes(
    "/players/<playerId>/friends",
    "/friends/<playerId>",
    summary="A player's rows",
    description=LIST_DESCRIPTION,
    responses=LIST_ANSWERS,
    seed_note=" A player named isFriend cannot be listed here.",
)
@tracer.capture_method
def list_friends(
    player_id: PlayerIdParameter,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Rows to read at most (1 to 100).")
    ] = DEFAULT_LIMIT,
    next_token: Annotated[
        str | None,
        Query(alias="nextToken", max_length=1024, description="A nextToken from the last page."),
    ] = None,
    state: Annotated[State | None, Query(description="Only rows in this state.")] = None,
) -> dict[str, Any]:
    after = None if next_token is None else decode_token(next_token)
    rows, last, unreadable = dal.rows_of(
        player_id,
        limit=limit,
        read_at_most=limit if state is None else FILTERED_ROWS_READ,
        after_friend_id=after,
        state=state,
    )
    for row in unreadable:
        _skip(row)
    metrics.add_metric(name="FriendsListed", unit=MetricUnit.Count, value=1)
    page = FriendPage(
        items=[FriendView.model_validate(row.to_dict()) for row in rows],
        nextToken=None if last is None else encode_token(last),
    )
    return page.model_dump(mode="json", by_alias=True)


@_routes(
    "/players/<playerId>/friends/<friendId>",
    "/friends/isFriend/<playerId>/<friendId>",
    summary="Where one pair stands",
    description=PAIR_DESCRIPTION,
    responses=PAIR_ANSWERS,
)
@tracer.capture_method
def is_friend(player_id: PlayerIdParameter, friend_id: FriendIdParameter) -> dict[str, Any]:
    try:
        state = dal.state_of(dal.Edge(player_id, friend_id))
    except dal.UnreadableRowError as error:
        _skip(error.row)
        state = None
    metrics.add_metric(name="IsFriendAnswered", unit=MetricUnit.Count, value=1)
    answer = IsFriendAnswer(
        player_id=player_id,
        friend_id=friend_id,
        isFriend=state is State.FRIENDS,
        state=state,
    )
    return answer.model_dump(mode="json", by_alias=True)


def _skip(row: dal.UnreadableRow) -> None:
    """Answer without a row that does not fit the model (one bad row must not turn every answer
    about its player into a server error), but never silently: it is logged and counted."""
    logger.warning(
        "unreadable row skipped",
        extra={
            "player_id": row.edge.player_id,
            "friend_id": row.edge.friend_id,
            "problem": row.problem,
        },
    )
    metrics.add_metric(name=UNREADABLE_ROW_METRIC, unit=MetricUnit.Count, value=1)


def _json_error(status_code: int, message: str) -> Response[str]:
    return Response(
        status_code=status_code,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"message": message}),
    )


def _bad_request(message: str) -> Response[str]:
    metrics.add_metric(name=BAD_REQUEST_METRIC, unit=MetricUnit.Count, value=1)
    return _json_error(400, message)


def _invalid_request(error: RequestValidationError) -> Response[str]:
    problems = "; ".join(
        f"{'.'.join(map(str, problem.get('loc', ())))}: {problem.get('msg', 'invalid')}"
        for problem in error.errors()
    )
    logger.info("bad request", extra={"problems": problems})
    return _bad_request(f"Invalid request: {problems}")


def _invalid_token(error: InvalidNextTokenError) -> Response[str]:
    return _bad_request(str(error))


def _table_unavailable(error: PynamoDBException) -> Response[str]:
    """DynamoDB failed (throttling, an outage): a JSON 503 the client may retry, not a bare
    gateway error."""
    logger.exception("table unavailable", extra={"cause": error.cause_response_code})
    metrics.add_metric(name=UNAVAILABLE_METRIC, unit=MetricUnit.Count, value=1)
    return _json_error(503, "The friend list is temporarily unavailable; try again.")


# Registered by call rather than as decorators: Powertools' decorator is untyped and would erase
# these functions' types under mypy --strict.
app.exception_handler(RequestValidationError)(_invalid_request)
app.exception_handler(InvalidNextTokenError)(_invalid_token)
app.exception_handler(PynamoDBException)(_table_unavailable)


@entry_point(correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Every answer names the release that gave it (errors and unknown routes included: the
    header is added to the resolved response, after routing and exception handling)."""
    return versioned(app.resolve(event, context))
