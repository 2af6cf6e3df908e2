"""Every entry point says which release of friend-handlers it runs: in its logs, in its
metrics' metadata and, for the API (read, write, page), in a response header (errors
included)."""

import json
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from friend_handlers.contract import VERSION_HEADER
from friend_handlers.handlers import front, page, read, request_state, write
from friend_models import State

from .conftest import Aws, Logs
from .harness import (
    NO_FAILURES,
    StreamReader,
    message,
    put_row,
    rest_event,
    routes,
    sqs_event,
    stream_event,
)

INSTALLED = version("friend-handlers")


def _metrics_metadata(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    """The EMF blobs printed so far (Powertools writes one per invocation to stdout)."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_the_version_is_the_installed_distributions() -> None:
    from friend_handlers.observability import VERSION  # noqa: PLC0415

    assert VERSION == INSTALLED


def test_front_logs_and_metrics_carry_the_version(
    aws: Aws, lambda_context: LambdaContext, capsys: pytest.CaptureFixture[str], log_lines: Logs
) -> None:
    event = sqs_event(aws, message("ann", "bob", "Request"))
    capsys.readouterr()
    assert front.handler(event, lambda_context) == NO_FAILURES
    (blob,) = _metrics_metadata(capsys)
    assert blob["version"] == INSTALLED
    (dimensions,) = blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"]  # type: ignore[index]
    assert "version" not in dimensions  # metadata, not a dimension: metric series stay
    logs = log_lines()
    assert logs
    assert {log["version"] for log in logs} == {INSTALLED}


def test_stream_handlers_logs_and_metrics_carry_the_version(
    aws: Aws, lambda_context: LambdaContext, capsys: pytest.CaptureFixture[str], log_lines: Logs
) -> None:
    reader = StreamReader(aws)
    put_row(aws, "ann", "bob", State.REQUESTED)
    records = [record for record in reader.read() if routes(record) == ["request_state"]]
    capsys.readouterr()
    assert request_state.handler(stream_event(records), lambda_context) == NO_FAILURES
    (blob,) = _metrics_metadata(capsys)
    assert blob["version"] == INSTALLED
    assert {log["version"] for log in log_lines()} == {INSTALLED}


@pytest.mark.parametrize(
    ("event", "status"),
    [
        (rest_event("/players/{playerId}/friends", {"playerId": "ann"}), 200),
        (rest_event("/players/{playerId}/friends", {"playerId": "ann"}, {"limit": "0"}), 400),
        (rest_event("/nowhere", {}), 404),
    ],
    ids=["answer", "bad-request", "unknown-route"],
)
@pytest.mark.usefixtures("aws")
def test_every_read_answer_names_the_version(
    lambda_context: LambdaContext, event: dict[str, Any], status: int
) -> None:
    response = read.handler(event, lambda_context)
    assert response["statusCode"] == status
    assert response["multiValueHeaders"][VERSION_HEADER] == [INSTALLED]
    assert response["multiValueHeaders"]["Content-Type"] == ["application/json"]
    assert isinstance(json.loads(response["body"]), dict)


@pytest.mark.parametrize(
    ("handler", "event", "status"),
    [
        (write.handler, rest_event("/friends", {}, method="POST", body="not json"), 400),
        (write.handler, rest_event("/openapi.json", {}), 200),
        (page.handler, rest_event("/", {}), 200),
        (page.handler, rest_event("/app.js", {}), 200),
    ],
    ids=["write-refusal", "document", "page", "script"],
)
def test_every_write_and_page_answer_names_the_version(
    lambda_context: LambdaContext,
    handler: Callable[[dict[str, Any], LambdaContext], dict[str, Any]],
    event: dict[str, Any],
    status: int,
) -> None:
    response = handler(event, lambda_context)
    assert response["statusCode"] == status
    assert response["multiValueHeaders"][VERSION_HEADER] == [INSTALLED]


@pytest.mark.parametrize(
    ("handler", "event"),
    [
        (read.handler, rest_event("/players/{playerId}/friends", {"playerId": "ann"})),
        (
            read.handler,
            rest_event("/players/{playerId}/friends", {"playerId": "a"}, {"limit": "0"}),
        ),
        (write.handler, rest_event("/friends", {}, method="POST", body="not json")),
    ],
    ids=["read", "read-bad-request", "write-bad-request"],
)
@pytest.mark.usefixtures("aws")
def test_api_metrics_carry_the_version(
    lambda_context: LambdaContext,
    capsys: pytest.CaptureFixture[str],
    handler: Callable[[dict[str, Any], LambdaContext], dict[str, Any]],
    event: dict[str, Any],
) -> None:
    capsys.readouterr()
    handler(event, lambda_context)
    (blob,) = _metrics_metadata(capsys)
    assert blob["version"] == INSTALLED
