"""Test setup for friend-handlers: fake AWS, the Powertools environment, moto resources.

The environment is set before any handler module is imported: ``Friend.Meta.table_name`` and the
Powertools instances read it once, at import time, as they do in a Lambda cold start.
"""

import io
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

import pytest
from friend_moto.environment import REGION, use_moto_environment

use_moto_environment(
    POWERTOOLS_SERVICE_NAME="friend",
    POWERTOOLS_METRICS_NAMESPACE="FriendMicroservices",
    POWERTOOLS_LOG_LEVEL="INFO",
    POWERTOOLS_TRACE_DISABLED="true",
)
# Another package's tests in the same run may have named the table already: keep that name.
os.environ.setdefault("FRIEND_TABLE_NAME", "FriendTest")
os.environ.setdefault("FRIEND_IDEMPOTENCY_TABLE_NAME", "FriendIdempotencyTest")

import boto3  # noqa: E402
from aws_lambda_powertools.utilities.typing import LambdaContext  # noqa: E402
from botocore.config import Config  # noqa: E402
from friend_handlers.dead_letter import DLQ_URL_ENV  # noqa: E402
from friend_handlers.redelivery import (  # noqa: E402
    EXPIRY_ATTRIBUTE,
    IDEMPOTENCY_TABLE_ENV,
    KEY_ATTRIBUTE,
)
from friend_models import Friend  # noqa: E402
from moto import mock_aws  # noqa: E402

TEST_TABLE_NAME = Friend.Meta.table_name
"""The name the model read from the environment at import, as a deployed function would."""
IDEMPOTENCY_TABLE_NAME = os.environ[IDEMPOTENCY_TABLE_ENV]


@dataclass(frozen=True)
class Aws:
    """The moto resources a deployed stack would provide."""

    dynamodb: Any
    streams: Any
    sqs: Any
    stream_arn: str
    queue_url: str
    queue_arn: str
    dlq_url: str


@dataclass(frozen=True)
class Clients:
    dynamodb: Any
    streams: Any
    sqs: Any


@cache
def clients() -> Clients:
    """One set of plain boto3 clients for every test: made after moto is imported, they reach
    whichever moto account is active when they are called."""
    return Clients(
        dynamodb=boto3.client("dynamodb"),
        # botocore now addresses DynamoDB Streams at an account-based endpoint
        # (<account>.streams-ddb.<region>...) that moto 5.2 does not route yet.
        streams=boto3.client("dynamodbstreams", config=Config(account_id_endpoint_mode="disabled")),
        sqs=boto3.client("sqs"),
    )


@contextmanager
def resources() -> Iterator[Aws]:
    """Friend table with a NEW_AND_OLD_IMAGES stream, the table of handled messages, the front
    queue and its dead-letter queue, as the stack builds them, in the active moto account; all
    deleted again afterwards."""
    dynamodb, sqs = clients().dynamodb, clients().sqs
    Friend.create_table(wait=True)  # keys, billing and stream as the model defines them
    table = dynamodb.describe_table(TableName=TEST_TABLE_NAME)["Table"]
    dynamodb.create_table(
        TableName=IDEMPOTENCY_TABLE_NAME,
        KeySchema=[{"AttributeName": KEY_ATTRIBUTE, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": KEY_ATTRIBUTE, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=IDEMPOTENCY_TABLE_NAME,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": EXPIRY_ATTRIBUTE},
    )
    dlq_url = sqs.create_queue(QueueName="friend-front-dlq")["QueueUrl"]
    # Visibility 0: a failed record is visible again at once, like a retry after the timeout.
    queue_url = sqs.create_queue(QueueName="friend-front", Attributes={"VisibilityTimeout": "0"})[
        "QueueUrl"
    ]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    try:
        yield Aws(
            dynamodb=dynamodb,
            streams=clients().streams,
            sqs=sqs,
            stream_arn=table["LatestStreamArn"],
            queue_url=queue_url,
            queue_arn=queue_arn,
            dlq_url=dlq_url,
        )
    finally:
        for name in (TEST_TABLE_NAME, IDEMPOTENCY_TABLE_NAME):
            dynamodb.delete_table(TableName=name)
        for url in (queue_url, dlq_url):
            sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """The resources of :func:`resources` in a fresh moto account, with the front function's
    environment."""
    with mock_aws(), resources() as created:
        monkeypatch.setenv(DLQ_URL_ENV, created.dlq_url)
        yield created


@dataclass(frozen=True)
class FakeLambdaContext:
    """The public attributes of the Lambda context object that Powertools reads, set through a
    stand-in of our own rather than on the private fields of Powertools' stub."""

    function_name: str = "friend-test"
    function_version: str = "$LATEST"
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:friend-test"
    memory_limit_in_mb: int = 256
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    log_group_name: str = "/aws/lambda/friend-test"
    log_stream_name: str = "2026/11/24/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        """Lambda's answer early in an invocation."""
        return 15_000


class ClockedLambdaContext(FakeLambdaContext):
    """A context whose remaining time is what the test says: it runs out as the test spends it
    (see :func:`injected_latency`)."""

    def __init__(self, remaining_ms: int) -> None:
        super().__init__()
        object.__setattr__(self, "remaining_ms", remaining_ms)

    def get_remaining_time_in_millis(self) -> int:
        return int(getattr(self, "remaining_ms"))  # noqa: B009 - set around the frozen fields

    def spend(self, milliseconds: int) -> None:
        object.__setattr__(self, "remaining_ms", self.get_remaining_time_in_millis() - milliseconds)


@contextmanager
def injected_latency(context: ClockedLambdaContext, milliseconds: int) -> Iterator[Counter[str]]:
    """Every call of the handlers' DynamoDB and SQS clients takes ``milliseconds`` of
    ``context``'s time (a slow table or queue, without the test waiting for it). Yields the
    calls made, by operation."""
    from friend_handlers import sqs  # noqa: PLC0415
    from friend_handlers.redelivery import HandledMessage  # noqa: PLC0415

    calls: Counter[str] = Counter()
    targets = [
        Friend._get_connection().connection.client,
        HandledMessage._get_connection().connection.client,
        sqs.client(),
    ]

    def slow(model: Any, **_: Any) -> None:
        calls[model.name] += 1
        context.spend(milliseconds)

    for client in targets:
        client.meta.events.register("after-call", slow, unique_id="test-latency")
    try:
        yield calls
    finally:
        for client in targets:
            client.meta.events.unregister("after-call", unique_id="test-latency")


class HostDied(BaseException):
    """The function's host died mid-invocation: nothing after this point runs, no answer."""


type LostAnswer = Callable[[str, dict[str, Any]], BaseException | None]


@contextmanager
def injected_lost_answers() -> Iterator[list[LostAnswer]]:
    """Let DynamoDB do what the handlers' own client asks, then lose the answer.

    Append ``lost(operation, request)``; when it returns an exception, the call has taken
    effect at DynamoDB and the handler gets that exception instead of the answer: a
    ``ReadTimeoutError`` (the answer lost on the way back) or :class:`HostDied`.
    """
    lost: list[LostAnswer] = []
    client = Friend._get_connection().connection.client

    def before_call(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["test_lost_request"] = json.loads(params["body"])

    def after_call(model: Any, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        if http_response.status_code != 200:
            return
        for answer in lost:
            error = answer(model.name, context["test_lost_request"])
            if error is not None:
                raise error

    client.meta.events.register("before-call.dynamodb", before_call, unique_id="test-lost-in")
    client.meta.events.register("after-call.dynamodb", after_call, unique_id="test-lost")
    try:
        yield lost
    finally:
        client.meta.events.unregister("before-call.dynamodb", unique_id="test-lost-in")
        client.meta.events.unregister("after-call.dynamodb", unique_id="test-lost")


@pytest.fixture
def lost_answers(aws: Aws) -> Iterator[list[LostAnswer]]:  # noqa: ARG001 - moto first
    """:func:`injected_lost_answers` for one test."""
    with injected_lost_answers() as lost:
        yield lost


def make_lambda_context() -> LambdaContext:
    """A context as Lambda hands one to a handler."""
    return cast(LambdaContext, FakeLambdaContext())


@pytest.fixture
def lambda_context() -> LambdaContext:
    return make_lambda_context()


type Fault = Callable[[str, dict[str, Any]], dict[str, Any] | None]


class _HttpStatus:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        self.headers: dict[str, str] = {}


@contextmanager
def injected_dynamodb_faults() -> Iterator[list[Fault]]:
    """Inject DynamoDB errors into the handlers' own client, before the request leaves it.

    Append ``fault(operation, request)`` (``request`` is the JSON request body); when it returns
    an error (``{"Code": ..., ...}``) the call fails with it, exactly as botocore surfaces an
    error response from DynamoDB. Raised before botocore's retry layer, so botocore does not
    retry it even where it would retry the same answer from DynamoDB.
    """
    faults: list[Fault] = []
    client = Friend._get_connection().connection.client

    def before_call(model: Any, params: dict[str, Any], **_: Any) -> Any:
        for fault in faults:
            error = fault(model.name, json.loads(params["body"]))
            if error is not None:
                body = {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}
                if "CancellationReasons" in error:
                    body["CancellationReasons"] = error["CancellationReasons"]
                return _HttpStatus(400), body
        return None

    client.meta.events.register("before-call.dynamodb", before_call, unique_id="test-faults")
    try:
        yield faults
    finally:
        client.meta.events.unregister("before-call.dynamodb", unique_id="test-faults")


@pytest.fixture
def dynamodb_faults(aws: Aws) -> Iterator[list[Fault]]:  # noqa: ARG001 - moto first
    """:func:`injected_dynamodb_faults` for one test."""
    with injected_dynamodb_faults() as faults:
        yield faults


@pytest.fixture
def dynamodb_calls(aws: Aws) -> Iterator[Counter[str]]:  # noqa: ARG001 - moto first
    """How many calls of each DynamoDB operation the handlers' own client makes (one per API
    call, whatever botocore retries inside it), counted from now on."""
    calls: Counter[str] = Counter()
    client = Friend._get_connection().connection.client

    def count(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    client.meta.events.register("before-call.dynamodb", count, unique_id="test-calls")
    yield calls
    client.meta.events.unregister("before-call.dynamodb", unique_id="test-calls")


type Logs = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def log_lines() -> Iterator[Logs]:
    """The JSON log lines the handlers write, as parsed objects.

    Powertools' handler keeps the stream it was created with (the process's stdout at import),
    so the test points it at a buffer of its own for the duration of one test. Assigned rather
    than ``setStream``, which flushes the old stream: when pytest runs more than once in one
    process (mutation testing), that stream is an earlier run's capture, already closed.
    """
    from friend_handlers.observability import logger  # noqa: PLC0415

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous, handler.stream = handler.stream, buffer
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    handler.stream = previous
