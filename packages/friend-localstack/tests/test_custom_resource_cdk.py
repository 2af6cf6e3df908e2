"""CDK's custom resource handlers on the embedded LocalStack: integ-tests-alpha and Provider.

The app in ``fixtures/cfn/integ_assertions_app.py`` is synthesized once, its assets are
published to the bootstrap bucket's name and its templates are deployed through CloudFormation
(integ-runner itself is exercised by the project's ``integ`` command). What must hold:

- a correct assertion, and a correct ``wait_for_assertions`` (the Step Functions waiter),
  deploy and report success;
- a wrong expectation reports failure, the signal integ-runner fails a test on;
- a wrong ``wait_for_assertions`` fails its stack once the waiter gives up;
- CDK's Provider framework (Node.js framework functions in front of Python user functions)
  completes with and without its ``is_complete`` waiter, Data reaching the outputs.

On a LocalStack that mocks custom resources, every one of these stacks would reach
CREATE_COMPLETE with placeholder outputs, and the failure checks here would fail.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from friend_integ.test_support.emulators import AwsClientFactory
from friend_integ.test_support.stacks import CloudAssembly

pytestmark = pytest.mark.emulator

APP = Path(__file__).parent / "fixtures" / "cfn" / "integ_assertions_app.py"


@pytest.fixture(scope="module")
def assembly(
    tmp_path_factory: pytest.TempPathFactory, aws_client: AwsClientFactory
) -> Iterator[CloudAssembly]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    deployed = CloudAssembly.synthesize(APP, outdir, aws_client)
    yield deployed
    deployed.destroy()


def assertion_results(stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """integ-tests-alpha's verdicts: the ``AssertionResults*`` outputs integ-runner reads."""
    return {
        output["OutputKey"]: json.loads(output["OutputValue"])
        for output in stack.get("Outputs", [])
        if output["OutputKey"].startswith("AssertionResults")
    }


def test_correct_assertions_and_waiter_succeed(assembly: CloudAssembly) -> None:
    assert assembly.deploy("PassSubject")["StackStatus"] == "CREATE_COMPLETE"
    stack = assembly.deploy("PassAssertions")
    assert stack["StackStatus"] == "CREATE_COMPLETE", assembly.reasons("PassAssertions")
    results = assertion_results(stack)
    assert len(results) == 2  # the waited receiveMessage and the plain getQueueAttributes
    assert all(result == {"status": "success"} for result in results.values()), results


def test_a_wrong_expectation_reports_failure(assembly: CloudAssembly) -> None:
    assert assembly.deploy("WrongExpectationSubject")["StackStatus"] == "CREATE_COMPLETE"
    stack = assembly.deploy("WrongExpectationAssertions")
    assert stack["StackStatus"] == "CREATE_COMPLETE", assembly.reasons("WrongExpectationAssertions")
    (result,) = assertion_results(stack).values()
    assert result["status"] == "fail"
    assert "31" in result["message"]  # the mismatch is rendered: expected 31, actual 30
    assert "30" in result["message"]


def test_a_wrong_waiter_expectation_fails_the_stack(assembly: CloudAssembly) -> None:
    assert assembly.deploy("WrongWaiterSubject")["StackStatus"] == "CREATE_COMPLETE"
    started = time.monotonic()
    stack = assembly.deploy("WrongWaiterAssertions")
    elapsed = time.monotonic() - started
    assert stack["StackStatus"] in {"CREATE_FAILED", "ROLLBACK_COMPLETE"}
    failed = [
        reason
        for _, status, reason in assembly.reasons("WrongWaiterAssertions")
        if status == "CREATE_FAILED" and reason
    ]
    assert any("Operation timed out" in reason for reason in failed), failed
    assert elapsed < 60  # the waiter's 4 s total, not a default timeout of minutes


def test_provider_framework_with_and_without_its_waiter(assembly: CloudAssembly) -> None:
    stack = assembly.deploy("ProviderFramework")
    assert stack["StackStatus"] == "CREATE_COMPLETE", assembly.reasons("ProviderFramework")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["PlainGreeting"] == "hello plain"
    assert outputs["PlainId"] == "provided-plain"
    assert outputs["CompleteGreeting"] == "hello waited"
    assert outputs["CompleteReady"] == "ready provided-waited"
