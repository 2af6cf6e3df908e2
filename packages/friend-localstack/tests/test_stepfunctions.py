"""Step Functions on the embedded LocalStack runs Lambda tasks (the waiter of integ-tests-alpha).

``wait_for_assertions`` deploys a state machine whose task invokes a Lambda function, retries it
while the assertion does not hold yet and hands over to a timeout function when it gives up;
this test runs that shape: a task result flowing into the output, and a failing task that is
retried, then caught.
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

pytestmark = pytest.mark.emulator

TEMPLATE = Path(__file__).parent / "fixtures" / "cfn" / "stepfunctions_lambda_task.yaml"


@pytest.fixture(scope="module")
def state_machine(aws_client: AwsClientFactory) -> Iterator[str]:
    cloudformation = aws_client("cloudformation")
    name = f"sfn-{uuid.uuid4().hex[:10]}"
    cloudformation.create_stack(StackName=name, TemplateBody=TEMPLATE.read_text())
    deadline = time.monotonic() + 120
    while True:
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    yield stack["Outputs"][0]["OutputValue"]
    cloudformation.delete_stack(StackName=name)


def _run(aws_client: AwsClientFactory, state_machine: str, payload: Any) -> dict[str, Any]:
    stepfunctions = aws_client("stepfunctions")
    execution = stepfunctions.start_execution(
        stateMachineArn=state_machine, input=json.dumps(payload)
    )["executionArn"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        described: dict[str, Any] = stepfunctions.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            described["history"] = stepfunctions.get_execution_history(executionArn=execution)[
                "events"
            ]
            return described
        time.sleep(0.05)
    raise AssertionError(f"execution {execution} still running after 60 s")


def test_lambda_task_result_becomes_the_execution_output(
    aws_client: AwsClientFactory, state_machine: str
) -> None:
    first = _run(aws_client, state_machine, {"numbers": [1, 2, 3]})
    second = _run(aws_client, state_machine, {"numbers": [40, 2]})
    assert first["status"] == second["status"] == "SUCCEEDED"
    first_output, second_output = json.loads(first["output"]), json.loads(second["output"])
    assert (first_output["sum"], second_output["sum"]) == (6, 42)
    # Two real invocations, each with its own Lambda request id.
    assert first_output["request_id"] != second_output["request_id"]


def test_a_failing_task_is_retried_then_caught(
    aws_client: AwsClientFactory, state_machine: str
) -> None:
    execution = _run(aws_client, state_machine, {"fail": "on purpose"})
    assert execution["status"] == "FAILED"
    assert (execution["error"], execution["cause"]) == ("TaskFailed", "the Lambda task failed")
    failures = [e for e in execution["history"] if e["type"] == "TaskFailed"]
    assert len(failures) == 2  # the first attempt and its one retry
    assert "asked to fail: on purpose" in failures[-1]["taskFailedEventDetails"]["cause"]
