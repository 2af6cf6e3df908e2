"""CloudFormation custom resources on the embedded LocalStack run their ServiceToken functions.

Community LocalStack would deploy each ``Custom::*`` resource as a mock and report success; these
tests deploy real templates through CloudFormation and observe what the handler functions did
(audit messages, DynamoDB items, outputs read with ``Fn::GetAtt``) and how failures surface.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from friend_integ.test_support.emulators import AwsClientFactory
from friend_integ.test_support.stacks import stack_events, wait_deleted, wait_settled

from .lambda_support import receive_all

pytestmark = pytest.mark.emulator

FIXTURES = Path(__file__).parent / "fixtures" / "cfn"
STACK_WAIT_SECONDS = 120.0


class Stacks:
    """Deploys fixture templates and waits for CloudFormation to settle, deleting them after."""

    def __init__(self, aws_client: AwsClientFactory) -> None:
        self.cloudformation = aws_client("cloudformation")
        self.created: list[str] = []

    def create(self, template: str, **parameters: str) -> dict[str, Any]:
        name = f"cr-{uuid.uuid4().hex[:10]}"
        self.cloudformation.create_stack(
            StackName=name,
            TemplateBody=(FIXTURES / template).read_text(),
            Parameters=_parameters(parameters),
        )
        self.created.append(name)
        return self.wait(name)

    def update(self, name: str, template: str, **parameters: str) -> dict[str, Any]:
        """Update through a change set, as CDK deploys do.

        (LocalStack's UpdateStack reports UPDATE_COMPLETE even when a resource failed to
        update; its change set execution reports the failure.)
        """
        change_set = self.cloudformation.create_change_set(
            StackName=name,
            ChangeSetName=f"update-{uuid.uuid4().hex[:10]}",
            ChangeSetType="UPDATE",
            TemplateBody=(FIXTURES / template).read_text(),
            Parameters=_parameters(parameters),
        )["Id"]
        deadline = time.monotonic() + STACK_WAIT_SECONDS
        while time.monotonic() < deadline:
            described = self.cloudformation.describe_change_set(ChangeSetName=change_set)
            if described["Status"] in {"CREATE_COMPLETE", "FAILED"}:
                break
            time.sleep(0.1)
        assert described["Status"] == "CREATE_COMPLETE", described.get("StatusReason")
        self.cloudformation.execute_change_set(ChangeSetName=change_set)
        return self.wait(name)  # the stack is UPDATE_IN_PROGRESS once the call returns

    def delete(self, name: str) -> None:
        self.cloudformation.delete_stack(StackName=name)
        if not wait_deleted(self.cloudformation, name, STACK_WAIT_SECONDS, poll=0.1):
            raise AssertionError(f"stack {name} was not deleted: {self.reasons(name)}")
        self.created.remove(name)

    def wait(self, name: str) -> dict[str, Any]:
        return wait_settled(self.cloudformation, name, STACK_WAIT_SECONDS, poll=0.1)

    def reasons(self, name: str) -> list[tuple[str, str, str]]:
        return stack_events(self.cloudformation, name)

    def physical_id(self, name: str, logical_id: str) -> str:
        resource = self.cloudformation.describe_stack_resource(
            StackName=name, LogicalResourceId=logical_id
        )["StackResourceDetail"]
        physical_id: str = resource["PhysicalResourceId"]
        return physical_id


def _parameters(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"ParameterKey": key, "ParameterValue": value} for key, value in values.items()]


def outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


@pytest.fixture
def stacks(aws_client: AwsClientFactory) -> Iterator[Stacks]:
    deployed = Stacks(aws_client)
    yield deployed
    for name in list(deployed.created):
        deployed.cloudformation.delete_stack(StackName=name)


class AuditQueue:
    """The queue outside the stack where handler functions report each request they receive."""

    def __init__(self, aws_client: AwsClientFactory) -> None:
        self.sqs = aws_client("sqs")
        self.url: str = self.sqs.create_queue(QueueName=f"audit-{uuid.uuid4().hex[:10]}")[
            "QueueUrl"
        ]

    def take(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The next ``count`` requests reported, in the order they were sent."""
        received = [
            json.loads(message["Body"])
            for message in receive_all(self.sqs, self.url, count, timeout)
        ]
        assert len(received) == count, f"expected {count} requests, got {received}"
        return received


@pytest.fixture
def audit(aws_client: AwsClientFactory) -> Iterator[AuditQueue]:
    queue = AuditQueue(aws_client)
    yield queue
    queue.sqs.delete_queue(QueueUrl=queue.url)


def test_node_custom_resource_calls_dynamodb_and_sqs_through_create_update_delete(
    stacks: Stacks, audit: AuditQueue, aws_client: AwsClientFactory
) -> None:
    created = stacks.create("node_custom_resource.yaml", AuditQueueUrl=audit.url, Name="one")
    name = created["StackName"]
    assert created["StackStatus"] == "CREATE_COMPLETE", stacks.reasons(name)
    out = outputs(created)
    assert out["Greeting"] == "hello one"  # read back from DynamoDB by the handler
    assert out["PhysicalResourceId"] == "greeter-Greeting"
    assert out["CountType"] == "string"  # properties reach the handler as CloudFormation sends them
    (create,) = audit.take(1)
    assert create["RequestType"] == "Create"
    assert create["ResourceType"] == "Custom::Greeting"
    assert out["MessageId"]  # the audit message's id, returned as Data
    assert create["ResourceProperties"]["Name"] == "one"
    assert create["ResourceProperties"]["Count"] == "3"
    assert "PhysicalResourceId" not in create
    table = stacks.physical_id(name, "Table")
    item = aws_client("dynamodb").get_item(TableName=table, Key={"pk": {"S": "greeting"}})
    assert item["Item"]["name"] == {"S": "one"}

    updated = stacks.update(name, "node_custom_resource.yaml", AuditQueueUrl=audit.url, Name="two")
    assert updated["StackStatus"] == "UPDATE_COMPLETE", stacks.reasons(name)
    assert outputs(updated)["Greeting"] == "hello two"
    assert outputs(updated)["PhysicalResourceId"] == "greeter-Greeting"
    (update,) = audit.take(1)
    assert update["RequestType"] == "Update"
    assert update["PhysicalResourceId"] == "greeter-Greeting"
    assert update["ResourceProperties"]["Name"] == "two"
    assert update["OldResourceProperties"]["Name"] == "one"

    stacks.delete(name)
    (delete,) = audit.take(1)
    assert delete["RequestType"] == "Delete"
    assert delete["PhysicalResourceId"] == "greeter-Greeting"
    assert delete["ResourceProperties"]["Name"] == "two"


def test_python_custom_resource_replacement_deletes_the_old_physical_resource(
    stacks: Stacks, audit: AuditQueue
) -> None:
    created = stacks.create("python_custom_resource.yaml", AuditQueueUrl=audit.url)
    name = created["StackName"]
    assert created["StackStatus"] == "CREATE_COMPLETE", stacks.reasons(name)
    assert outputs(created) == {
        "Doubled": "42",  # computed by the handler from Number=21
        "Dotted": "dotted-1",  # a Data key with a dot, as CDK's flattened responses have
        "PhysicalResourceId": "item-1",
    }
    assert [r["RequestType"] for r in audit.take(1)] == ["Create"]

    updated = stacks.update(
        name, "python_custom_resource.yaml", AuditQueueUrl=audit.url, Generation="2"
    )
    assert updated["StackStatus"] == "UPDATE_COMPLETE", stacks.reasons(name)
    assert outputs(updated)["PhysicalResourceId"] == "item-2"
    assert outputs(updated)["Dotted"] == "dotted-2"
    update, delete_old = audit.take(2)
    assert (update["RequestType"], update["PhysicalResourceId"]) == ("Update", "item-1")
    assert update["OldResourceProperties"]["Generation"] == "1"
    # A new physical id means replacement: the old one is deleted, with its own properties.
    assert (delete_old["RequestType"], delete_old["PhysicalResourceId"]) == ("Delete", "item-1")
    assert delete_old["ResourceProperties"]["Generation"] == "1"

    stacks.delete(name)
    (delete,) = audit.take(1)
    assert (delete["RequestType"], delete["PhysicalResourceId"]) == ("Delete", "item-2")


def _failed_resource(stacks: Stacks, name: str, logical_id: str) -> str:
    """The reason CloudFormation recorded for the resource's failed creation."""
    reasons = [
        reason
        for resource, status, reason in stacks.reasons(name)
        if resource == logical_id and status == "CREATE_FAILED"
    ]
    assert reasons, stacks.reasons(name)
    return reasons[0]


def test_failed_response_fails_the_stack_with_the_handlers_reason(
    stacks: Stacks, audit: AuditQueue
) -> None:
    stack = stacks.create("failing_custom_resource.yaml", Mode="fail", AuditQueueUrl=audit.url)
    assert stack["StackStatus"] in {"CREATE_FAILED", "ROLLBACK_COMPLETE"}
    reason = _failed_resource(stacks, stack["StackName"], "Widget")
    assert "Received response status [FAILED] from custom resource" in reason
    assert "the widget is broken (Widget)" in reason
    assert [r["RequestType"] for r in audit.take(1)] == ["Create"]

    # As on AWS, the resource the handler named in its FAILED answer is sent a Delete.
    stacks.delete(stack["StackName"])
    (delete,) = audit.take(1)
    assert (delete["RequestType"], delete["PhysicalResourceId"]) == ("Delete", "widget")


def test_a_failed_update_keeps_the_resource_for_its_delete(
    stacks: Stacks, audit: AuditQueue
) -> None:
    created = stacks.create("failing_custom_resource.yaml", Mode="ok", AuditQueueUrl=audit.url)
    name = created["StackName"]
    assert created["StackStatus"] == "CREATE_COMPLETE", stacks.reasons(name)
    assert [r["RequestType"] for r in audit.take(1)] == ["Create"]

    updated = stacks.update(
        name, "failing_custom_resource.yaml", Mode="fail", AuditQueueUrl=audit.url
    )
    assert updated["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE", stacks.reasons(name)
    failed = [r for _, status, r in stacks.reasons(name) if status == "UPDATE_FAILED" and r]
    assert any("the widget is broken (Widget)" in reason for reason in failed), failed
    (update,) = audit.take(1)
    assert (update["RequestType"], update["PhysicalResourceId"]) == ("Update", "widget")

    # The physical resource still exists after the failed update: deleting the stack deletes it.
    stacks.delete(name)
    (delete,) = audit.take(1)
    assert (delete["RequestType"], delete["PhysicalResourceId"]) == ("Delete", "widget")


def test_a_handler_that_never_answers_fails_after_its_service_timeout(stacks: Stacks) -> None:
    started = time.monotonic()
    stack = stacks.create("failing_custom_resource.yaml", Mode="silent", ServiceTimeout="2")
    elapsed = time.monotonic() - started
    assert stack["StackStatus"] in {"CREATE_FAILED", "ROLLBACK_COMPLETE"}
    reason = _failed_resource(stacks, stack["StackName"], "Widget")
    assert "did not receive a response from your Custom Resource within 2 seconds" in reason
    assert elapsed < 30  # bounded by ServiceTimeout, not by a default of minutes
    stacks.delete(stack["StackName"])


def test_a_service_token_that_is_no_function_fails_the_stack(stacks: Stacks) -> None:
    template = {
        "Resources": {
            "Orphan": {
                "Type": "Custom::Orphan",
                "Properties": {
                    "ServiceToken": "arn:aws:lambda:us-east-1:000000000000:function:missing"
                },
            }
        }
    }
    name = f"cr-{uuid.uuid4().hex[:10]}"
    stacks.cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))
    stacks.created.append(name)
    stack = stacks.wait(name)
    assert stack["StackStatus"] in {"CREATE_FAILED", "ROLLBACK_COMPLETE"}
    reason = _failed_resource(stacks, name, "Orphan")
    assert "Could not invoke the ServiceToken function" in reason
    assert "Function not found" in reason
