"""Operations end to end on the embedded LocalStack: the real stack, a lost stream batch, redrive
and reconcile run as the ``friend-ops`` command.

The stack is the product's own ``FriendMicroservicesStack``, deployed by the ``deployed_stack``
fixture with its Lambda bundle: reserved concurrency,
the capped front mapping, the alarms, their encrypted topic and the dashboard all deploy here.
This LocalStack honours the stream mappings' retry limit, so a stream function that keeps
failing really gives its batch up to the on-failure queue, as on AWS:

1. ``request_state`` is pointed at a table that does not exist; a friend request's mirror row
   is never written and its batch lands in the stream failure queue;
2. the function is fixed; ``friend-ops redrive`` replays the batch, the pair is whole again and
   the queue empty; a second run has nothing to do;
3. a row written straight into the table breaks another pair; ``friend-ops reconcile`` lists it,
   ``--apply`` repairs it, and a last run finds nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from friend_handlers.contract import ENTRY_POINTS
from friend_integ.emulators import Emulator
from friend_integ.test_support.emulators import AwsClientFactory, client_factory
from friend_integ.test_support.stacks import Deployment, DeployStack
from friend_models import FRIEND_ID, PLAYER_ID
from friend_ops.redrive import messages_waiting

pytestmark = pytest.mark.emulator


def key(player: str, friend: str) -> dict[str, Any]:
    """The Friend table's key of the row (player, friend), in DynamoDB's wire form."""
    return {PLAYER_ID: {"S": player}, FRIEND_ID: {"S": friend}}


STACK = "FriendOperations"
SETTLE_SECONDS = 60.0
"""Bound on every wait for the stack to act (records take well under a second; a batch that
keeps failing takes its six attempts with backoff, about ten seconds here)."""
COMMAND_TIMEOUT_SECONDS = 300
ONE_HOUR_MS = 3_600_000


def eventually(what: str, condition: Callable[[], Any], timeout: float = SETTLE_SECONDS) -> Any:
    """``condition()`` once it is truthy; fails after ``timeout`` with its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            assert value, f"{what}: still {value!r} after {timeout}s"
            return value
        time.sleep(0.2)


class Deployed:
    """The deployed stack: its outputs, functions and the clients to drive it."""

    def __init__(self, deployment: Deployment, aws_client: AwsClientFactory) -> None:
        self.template = deployment.template
        self.outputs = deployment.outputs
        self.dynamodb = aws_client("dynamodb")
        self.sqs = aws_client("sqs")
        self.lambda_ = aws_client("lambda")
        self.cloudwatch = aws_client("cloudwatch")
        cloudformation = aws_client("cloudformation")
        names = [
            resource["PhysicalResourceId"]
            for resource in cloudformation.describe_stack_resources(StackName=STACK)[
                "StackResources"
            ]
            if resource["ResourceType"] == "AWS::Lambda::Function"
        ]
        handler_of = {entry_point: name for name, entry_point in ENTRY_POINTS.items()}
        self.functions = {
            handler_of[self.lambda_.get_function_configuration(FunctionName=name)["Handler"]]: name
            for name in names
        }

    @property
    def table(self) -> str:
        return self.outputs["TableName"]

    @property
    def failure_queue(self) -> str:
        return self.outputs["StreamFailureQueueUrl"]

    def act(self, player: str, friend: str, action: str) -> None:
        body = {"player_id": player, "friend_id": friend, "friend_action": action}
        self.sqs.send_message(QueueUrl=self.outputs["QueueUrl"], MessageBody=json.dumps(body))

    def state(self, player: str, friend: str) -> str | None:
        found = self.dynamodb.get_item(
            TableName=self.table, Key=key(player, friend), ConsistentRead=True
        ).get("Item")
        return found["state"]["S"] if found else None

    def pair(self, a: str, b: str) -> tuple[str | None, str | None]:
        return self.state(a, b), self.state(b, a)

    def failures_waiting(self) -> int:
        return messages_waiting(self.sqs, self.failure_queue)

    def set_table_name(self, handler: str, table: str) -> None:
        """Point ``handler``'s function at ``table`` and wait until the change is live: as a
        deployment would, publish the changed configuration and move the ``live`` alias, which
        is what the stream mapping invokes."""
        name = self.functions[handler]
        variables = self.lambda_.get_function_configuration(FunctionName=name)["Environment"][
            "Variables"
        ]
        self.lambda_.update_function_configuration(
            FunctionName=name, Environment={"Variables": {**variables, "FRIEND_TABLE_NAME": table}}
        )
        eventually(
            f"{name} updated",
            lambda: (
                self.lambda_.get_function_configuration(FunctionName=name)["LastUpdateStatus"]
                == "Successful"
            ),
        )
        version = self.lambda_.publish_version(FunctionName=name)["Version"]
        self.lambda_.update_alias(FunctionName=name, Name="live", FunctionVersion=version)


@pytest.fixture(scope="module")
def deployed(localstack: Emulator, deployed_stack: DeployStack) -> Deployed:
    return Deployed(deployed_stack(localstack, STACK), client_factory(localstack.endpoint))


def friend_ops(localstack: Emulator, *args: str) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it, against this LocalStack (stack found by its outputs)."""
    return subprocess.run(
        [sys.executable, "-m", "friend_ops", *args, "--endpoint", localstack.endpoint],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )


def test_the_stack_deploys_with_its_operations(deployed: Deployed) -> None:
    """The emulator accepts every operations resource of the template."""
    front = deployed.functions["front"]
    (mapping,) = deployed.lambda_.list_event_source_mappings(FunctionName=front)[
        "EventSourceMappings"
    ]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 5}
    # Reserved concurrency is accepted: the stack deployed with it. (This LocalStack's
    # CloudFormation provider does not apply it to the functions; AWS does.)
    reserved = [
        resource["Properties"].get("ReservedConcurrentExecutions")
        for resource in deployed.template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
    ]
    # write and page draw from the unreserved pool (the API's throttling bounds them).
    assert sorted(count for count in reserved if count is not None) == [5, 5, 5, 5, 5, 20]
    assert reserved.count(None) == 2
    topic = deployed.outputs["AlarmTopicArn"]
    alarms = [
        alarm
        for page in deployed.cloudwatch.get_paginator("describe_alarms").paginate()
        for alarm in page["MetricAlarms"]
        if alarm.get("AlarmActions") == [topic]
    ]
    assert len(alarms) == 24
    # The dashboard deploys as well; community LocalStack's CloudFormation has no provider for
    # AWS::CloudWatch::Dashboard and stands in a placeholder (its Ref is "unknown").
    assert deployed.outputs["DashboardName"]


def test_a_lost_stream_batch_is_redriven(deployed: Deployed, localstack: Emulator) -> None:
    deployed.act("ann", "bob", "Request")
    eventually(
        "the stream completes a request",
        lambda: (
            deployed.pair("ann", "bob")
            == (
                "Requested",
                "Pending",
            )
        ),
    )

    deployed.set_table_name("request_state", "no-such-table")
    try:
        deployed.act("cat", "dan", "Request")
        eventually("the batch is given up on", deployed.failures_waiting)
    finally:
        deployed.set_table_name("request_state", deployed.table)
    assert deployed.pair("cat", "dan") == ("Requested", None)  # the invariant is broken

    first = friend_ops(localstack, "redrive")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "summary: 1 redriven (1 record), 0 left in the queue" in first.stdout
    assert deployed.pair("cat", "dan") == ("Requested", "Pending")
    assert deployed.failures_waiting() == 0

    second = friend_ops(localstack, "redrive")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "summary: 0 redriven (0 records), 0 left in the queue" in second.stdout
    assert deployed.pair("cat", "dan") == ("Requested", "Pending")


def test_a_pair_broken_by_hand_is_reconciled(deployed: Deployed, localstack: Emulator) -> None:
    # A Friends row without its mirror, written an hour ago (no stream function reacts to an
    # inserted Friends row, so it stays broken).
    an_hour_ago = int(time.time() * 1000) - ONE_HOUR_MS
    deployed.dynamodb.put_item(
        TableName=deployed.table,
        Item={
            **key("eve", "fay"),
            "state": {"S": "Friends"},
            "last_updated": {"N": str(an_hour_ago)},
        },
    )

    listed = friend_ops(localstack, "reconcile")
    assert listed.returncode == 1, listed.stdout + listed.stderr
    assert "(eve,fay)=Friends, (fay,eve) absent; repair: (eve,fay) deleted" in listed.stdout
    assert "1 to repair (1 unfriend); 0 left alone" in listed.stdout
    assert deployed.pair("eve", "fay") == ("Friends", None)  # a dry run writes nothing

    repaired = friend_ops(localstack, "reconcile", "--apply")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "1 repaired (1 unfriend), 0 changed since the scan" in repaired.stdout
    assert deployed.pair("eve", "fay") == (None, None)

    again = friend_ops(localstack, "reconcile")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 to repair; 0 left alone" in again.stdout
