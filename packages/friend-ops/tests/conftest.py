"""Test setup for friend-ops: a deployment's resources on moto, and the real stream handlers.

The environment is set before any handler module is imported: the table name and the Powertools
settings are read once, at import, as in a Lambda cold start. Another package's tests in the same
run may have named the table already; that name is kept.
"""

import importlib
import io
import json
import os
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

REGION = "us-east-1"
ACCOUNT = "123456789012"
"""moto's account."""

for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_SERVICE_NAME": "friend",
    "POWERTOOLS_METRICS_NAMESPACE": "FriendMicroservices",
    "POWERTOOLS_TRACE_DISABLED": "true",
}.items():
    os.environ[_name] = _value
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_name, None)
os.environ.setdefault("FRIEND_TABLE_NAME", "FriendTest")
os.environ.setdefault("FRIEND_IDEMPOTENCY_TABLE_NAME", "FriendIdempotencyTest")

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from friend_handlers.contract import (  # noqa: E402
    ENTRY_POINTS,
    IDEMPOTENCY_EXPIRY_ATTRIBUTE,
    IDEMPOTENCY_KEY_ATTRIBUTE,
    IDEMPOTENCY_TABLE_ENV,
)
from friend_handlers.filters import STREAM_FILTERS  # noqa: E402
from friend_models import FRIEND_ID, PLAYER_ID, STATE, Friend, State  # noqa: E402
from friend_ops.reconcile import Row  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.dynamodb.models import dynamodb_backends  # noqa: E402

TABLE_NAME = Friend.Meta.table_name
"""The name the model read from the environment at import, as a deployed function would."""


@dataclass(frozen=True)
class Aws:
    """What a deployed stack provides, on moto: table and stream, the four stream functions
    with their filtered mappings, and the stream failure queue."""

    dynamodb: Any
    streams: Any
    sqs: Any
    lambda_: Any
    cloudformation: Any
    stream_arn: str
    failure_queue_url: str
    functions: Mapping[str, str]
    """Stream handler name -> function ARN."""


def _package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "")  # the handlers run in-process (HandlerInvoker)
    return buffer.getvalue()


@pytest.fixture
def aws() -> Iterator[Aws]:
    with deployment() as deployed:
        yield deployed


@contextmanager
def deployment() -> Iterator[Aws]:
    """A deployment's resources in a fresh moto account, for as long as the context lasts."""
    with mock_aws(config={"lambda": {"use_docker": False}}):
        dynamodb = boto3.client("dynamodb")
        Friend.create_table(wait=True)  # keys, billing and stream as the model defines them
        stream_arn = dynamodb.describe_table(TableName=TABLE_NAME)["Table"]["LatestStreamArn"]
        # The front's table of handled messages, as the stack builds it.
        handled = os.environ[IDEMPOTENCY_TABLE_ENV]
        dynamodb.create_table(
            TableName=handled,
            KeySchema=[{"AttributeName": IDEMPOTENCY_KEY_ATTRIBUTE, "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": IDEMPOTENCY_KEY_ATTRIBUTE, "AttributeType": "S"}
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.update_time_to_live(
            TableName=handled,
            TimeToLiveSpecification={
                "Enabled": True,
                "AttributeName": IDEMPOTENCY_EXPIRY_ATTRIBUTE,
            },
        )
        sqs = boto3.client("sqs")
        failure_queue_url = sqs.create_queue(QueueName="stream-failures")["QueueUrl"]
        failure_queue_arn = sqs.get_queue_attributes(
            QueueUrl=failure_queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        iam = boto3.client("iam")
        role = iam.create_role(RoleName="stream", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lambda_ = boto3.client("lambda")
        functions = {}
        for handler, pattern in STREAM_FILTERS.items():
            function_arn = lambda_.create_function(
                FunctionName=handler.replace("_", "-"),
                Runtime="python3.13",
                Role=role,
                Handler=ENTRY_POINTS[handler],
                Code={"ZipFile": _package()},
            )["FunctionArn"]
            lambda_.create_event_source_mapping(
                FunctionName=function_arn,
                EventSourceArn=stream_arn,
                StartingPosition="TRIM_HORIZON",
                FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]},
                DestinationConfig={"OnFailure": {"Destination": failure_queue_arn}},
            )
            functions[handler] = function_arn
        # moto would deliver stream records itself (and then drop them from the shard); here the
        # mappings only have to exist, as the test plays their failure.
        dynamodb_backends[ACCOUNT][REGION].tables[TABLE_NAME].lambda_event_source_mappings.clear()
        yield Aws(
            dynamodb=dynamodb,
            # botocore addresses DynamoDB Streams at an account-based endpoint that moto 5.2
            # does not route yet.
            streams=boto3.client(
                "dynamodbstreams", config=Config(account_id_endpoint_mode="disabled")
            ),
            sqs=sqs,
            lambda_=lambda_,
            cloudformation=boto3.client("cloudformation"),
            stream_arn=stream_arn,
            failure_queue_url=failure_queue_url,
            functions=functions,
        )


class HandlerInvoker:
    """Stands in for Lambda: runs the function's real handler in-process, as Lambda reports it
    (an exception is an ``Unhandled`` function error with its message)."""

    def __init__(self, lambda_client: Any) -> None:
        self.lambda_client = lambda_client
        self.events: list[dict[str, Any]] = []
        self.configurations: dict[str, Any] = {}

    def __call__(self, function_arn: str, event: Mapping[str, Any]) -> tuple[str | None, Any]:
        if function_arn not in self.configurations:
            self.configurations[function_arn] = self.lambda_client.get_function_configuration(
                FunctionName=function_arn
            )
        configuration = self.configurations[function_arn]
        module, _, attribute = configuration["Handler"].rpartition(".")
        handler = getattr(importlib.import_module(module), attribute)
        context = InvocationContext(
            function_name=configuration["FunctionName"],
            invoked_function_arn=function_arn,
            memory_limit_in_mb=configuration["MemorySize"],
            log_group_name=f"/aws/lambda/{configuration['FunctionName']}",
        )
        wire = json.loads(json.dumps(event))  # what reaches a function is JSON
        self.events.append(wire)
        try:
            return None, handler(wire, context)
        except Exception as error:  # Lambda reports any exception as a function error
            return "Unhandled", {"errorMessage": str(error), "errorType": type(error).__name__}


@dataclass(frozen=True)
class InvocationContext:
    """The public attributes of the Lambda context object that Powertools reads, set through a
    stand-in of our own rather than on the private fields of Powertools' stub."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    log_group_name: str
    function_version: str = "$LATEST"
    aws_request_id: str = "redrive-test"
    log_stream_name: str = "2026/11/26/[$LATEST]redrive"

    def get_remaining_time_in_millis(self) -> int:
        """Lambda's answer early in an invocation."""
        return 15_000


def item(
    player: str,
    friend: str,
    state: State,
    last_updated: int,
    exchange_id: str | None = None,
    *,
    mirrored: bool | None = None,
) -> dict[str, Any]:
    """A row as DynamoDB holds it."""
    return Row(player, friend, state, last_updated, exchange_id, mirrored).item()


def rows(aws: Aws) -> dict[tuple[str, str], State]:
    """Every row of the table: (player, friend) -> state."""
    items = aws.dynamodb.scan(TableName=TABLE_NAME, ConsistentRead=True)["Items"]
    return {(i[PLAYER_ID]["S"], i[FRIEND_ID]["S"]): State(i[STATE]["S"]) for i in items}
