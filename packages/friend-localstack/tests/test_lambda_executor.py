"""Lambda functions run as host processes by the extension's subprocess executor.

Everything goes through LocalStack's own Lambda API (create, invoke, delete) and CloudWatch
Logs, on fixture functions under ``fixtures/lambda``: results, the Lambda environment, errors
and timeouts per the Lambda contract, warm environments, logs, CommonJS and ES-module Node
handlers with the runtime's AWS SDK v3 clients, the https redirect CDK's handlers rely on,
clear failures for what cannot run here, and no process left behind.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from friend_integ.emulators import Emulator
from friend_integ.test_support.emulators import AwsClientFactory

from .lambda_support import Functions, wait_until_gone

pytestmark = pytest.mark.emulator

PYTHON_RUNTIMES = ["python3.13", "python3.12"]
NODE_RUNTIMES = ["nodejs20.x", "nodejs22.x"]


@pytest.fixture(scope="module")
def functions(aws_client: AwsClientFactory) -> Iterator[Functions]:
    created = Functions(aws_client("lambda"))
    yield created
    created.delete_all()


@pytest.fixture(scope="module")
def python_function(functions: Functions) -> str:
    return functions.create(
        "python", "python3.13", "handler.handler", environment={"GREETING": "hello"}
    )


@pytest.fixture(scope="module")
def node_function(functions: Functions) -> str:
    return functions.create("node_cjs", "nodejs22.x", "index.handler")


@pytest.fixture
def queue(aws_client: AwsClientFactory) -> Iterator[str]:
    sqs = aws_client("sqs")
    url: str = sqs.create_queue(QueueName=f"lambda-test-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    yield url
    sqs.delete_queue(QueueUrl=url)


def receive_bodies(aws_client: AwsClientFactory, queue_url: str, count: int) -> list[str]:
    sqs = aws_client("sqs")
    bodies: list[str] = []
    deadline = time.monotonic() + 20
    while len(bodies) < count and time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        bodies += [message["Body"] for message in messages]
    return bodies


# Python ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", PYTHON_RUNTIMES)
@pytest.mark.usefixtures("aws_client")
def test_python_function_runs_on_its_runtime_with_the_lambda_environment(
    functions: Functions,
    localstack: Emulator,
    queue: str,
    runtime: str,
) -> None:
    name = functions.create("python", runtime, "handler.handler", environment={"GREETING": "hi"})
    queue_name = queue.rsplit("/", 1)[1]

    result = functions.invoke(name, {"queue_prefix": queue_name})

    assert result.function_error is None, result.payload
    payload = result.payload
    assert payload["python"] == runtime.removeprefix("python")
    env = payload["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["_HANDLER"] == "handler.handler"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_ENDPOINT_URL"] == localstack.endpoint
    assert env["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{runtime}"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert env["GREETING"] == "hi"
    assert payload["has_credentials"]
    # The code runs from its task root, which is where the handler module was loaded from.
    assert payload["cwd"] == env["LAMBDA_TASK_ROOT"]
    assert payload["handler_file"] == f"{env['LAMBDA_TASK_ROOT']}/handler.py"
    # boto3 comes with the runtime (not with the package) and reaches LocalStack.
    assert payload["boto3"]
    assert payload["queues"] == [queue]
    assert 0 < payload["remaining_ms"] <= 30_000


def test_python_error_follows_the_lambda_contract(
    functions: Functions, python_function: str
) -> None:
    token = uuid.uuid4().hex

    result = functions.invoke(python_function, {"action": "fail", "token": token})

    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "ValueError"
    assert result.payload["errorMessage"] == f"refused: {token}"
    trace = "".join(result.payload["stackTrace"])
    assert "handler.py" in trace
    assert "python_bootstrap" not in trace
    assert f"[ERROR] ValueError: refused: {token}" in result.log_tail


def test_python_timeout_kills_the_invocation_and_the_next_one_starts_fresh(
    functions: Functions,
) -> None:
    name = functions.create("python", "python3.13", "handler.handler", timeout=1)
    before = functions.invoke(name).payload["pid"]

    result = functions.invoke(name, {"action": "sleep", "seconds": 30})

    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in result.payload["errorMessage"]
    assert "Task timed out after 1.00 seconds" in result.log_tail
    assert result.seconds < 10
    assert wait_until_gone([before]) == []
    after = functions.invoke(name)
    assert after.function_error is None
    assert after.payload["pid"] != before
    assert after.payload["invocations"] == 1


def test_runtime_exit_is_an_error_and_the_next_invocation_starts_fresh(
    functions: Functions,
) -> None:
    name = functions.create("python", "python3.13", "handler.handler")
    before = functions.invoke(name).payload["pid"]

    result = functions.invoke(name, {"action": "exit", "status": 3})

    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Runtime.ExitError"
    assert "Runtime exited with error: exit status 3" in result.payload["errorMessage"]
    after = functions.invoke(name)
    assert after.function_error is None
    assert after.payload["pid"] != before


def test_warm_environment_is_reused(functions: Functions, python_function: str) -> None:
    first = functions.invoke(python_function).payload
    second = functions.invoke(python_function).payload

    assert second["pid"] == first["pid"]
    assert second["invocations"] == first["invocations"] + 1
    assert second["request_id"] != first["request_id"]


def test_init_error_is_reported_not_hung(functions: Functions) -> None:
    name = functions.create("python", "python3.13", "missing_module.handler")

    result = functions.invoke(name)

    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Runtime.ImportModuleError"
    assert "missing_module" in result.payload["errorMessage"]


def test_logs_reach_cloudwatch_logs(
    functions: Functions, python_function: str, aws_client: AwsClientFactory
) -> None:
    token = uuid.uuid4().hex
    result = functions.invoke(python_function, {"token": token})
    request_id = result.payload["request_id"]
    logs = aws_client("logs")

    deadline = time.monotonic() + 20
    messages: list[str] = []
    while time.monotonic() < deadline:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{python_function}")["events"]
        messages = [event["message"] for event in events]
        if any(message.startswith(f"REPORT RequestId: {request_id}") for message in messages):
            break
        time.sleep(0.2)

    invocation = [message for message in messages if request_id in message or token in message]
    assert invocation[0].startswith(f"START RequestId: {request_id}")
    assert any(f"action describe token {token}" in message for message in invocation)
    assert any(message.startswith(f"END RequestId: {request_id}") for message in invocation)
    assert "Duration:" in invocation[-1]


# Node.js --------------------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", NODE_RUNTIMES)
def test_commonjs_handler_calls_sqs_with_the_runtime_sdk(
    functions: Functions, aws_client: AwsClientFactory, queue: str, runtime: str
) -> None:
    name = functions.create("node_cjs", runtime, "index.handler")
    token = uuid.uuid4().hex

    result = functions.invoke(name, {"action": "send", "queueUrl": queue, "token": token})

    assert result.function_error is None, result.payload
    assert result.payload["messageId"]
    assert receive_bodies(aws_client, queue, 1) == [token]
    described = functions.invoke(name).payload
    assert described["functionName"] == name
    assert described["executionEnv"] == f"AWS_Lambda_{runtime}"
    assert described["pid"] == result.payload["pid"]
    assert described["invocations"] == result.payload["invocations"] + 1


def test_es_module_handler_imports_the_runtime_sdk(
    functions: Functions, aws_client: AwsClientFactory, queue: str
) -> None:
    name = functions.create("node_esm", "nodejs22.x", "index.handler")
    token = uuid.uuid4().hex

    result = functions.invoke(name, {"queueUrl": queue, "token": token})

    assert result.function_error is None, result.payload
    assert result.payload["module"] == "string"
    assert receive_bodies(aws_client, queue, 1) == [token]


def test_node_error_follows_the_lambda_contract(functions: Functions, node_function: str) -> None:
    token = uuid.uuid4().hex

    result = functions.invoke(node_function, {"action": "fail", "token": token})

    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "TypeError"
    assert result.payload["errorMessage"] == f"refused: {token}"
    assert any("index.js" in line for line in result.payload["trace"])
    assert "Invoke Error" in result.log_tail


def test_node_timeout_kills_the_invocation(functions: Functions) -> None:
    name = functions.create("node_cjs", "nodejs20.x", "index.handler", timeout=1)
    before = functions.invoke(name).payload["pid"]

    result = functions.invoke(name, {"action": "sleep", "seconds": 30})

    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Sandbox.Timedout"
    assert result.seconds < 10
    assert wait_until_gone([before]) == []
    assert functions.invoke(name).payload["invocations"] == 1


def test_https_to_localstack_without_port_reaches_the_gateway(
    functions: Functions, node_function: str
) -> None:
    """CDK's custom resource handlers answer CloudFormation over https on port 443."""
    result = functions.invoke(node_function, {"action": "https"})

    assert result.function_error is None, result.payload
    assert result.payload == {"status": 200}


# What cannot run here -------------------------------------------------------------------------


def test_unsupported_runtime_fails_clearly(functions: Functions) -> None:
    name = functions.create("python", "java21", "example.Handler", wait=False)

    configuration = functions.wait_settled(name)

    assert configuration["State"] == "Failed"
    assert "Runtime java21 is not supported" in configuration["StateReason"]
    started = time.monotonic()
    with pytest.raises(functions.client.exceptions.ResourceConflictException):
        functions.invoke(name)
    assert time.monotonic() - started < 5


def test_container_image_fails_clearly(functions: Functions) -> None:
    name = f"image-{uuid.uuid4().hex[:8]}"
    functions.client.create_function(
        FunctionName=name,
        Role="arn:aws:iam::000000000000:role/lambda-test",
        PackageType="Image",
        Code={"ImageUri": "000000000000.dkr.ecr.us-east-1.amazonaws.com/function:latest"},
    )
    functions.created.append(name)

    configuration = functions.wait_settled(name)

    assert configuration["State"] == "Failed"
    assert "Package type Image is not supported" in configuration["StateReason"]


# Processes ------------------------------------------------------------------------------------


def test_stopping_an_environment_ends_the_function_and_its_children(
    functions: Functions,
) -> None:
    name = functions.create("python", "python3.13", "handler.handler")
    spawned: dict[str, Any] = functions.invoke(name, {"action": "spawn"}).payload
    pids = [spawned["pid"], spawned["child"]]
    assert wait_until_gone(pids, timeout=0.5) == pids

    functions.client.delete_function(FunctionName=name)
    functions.created.remove(name)

    assert wait_until_gone(pids) == []


def test_unicode_survives_event_and_logs(functions: Functions, python_function: str) -> None:
    token = "ünïcødé ✓ 漢字"

    result = functions.invoke(python_function, {"token": token})

    assert result.function_error is None
    assert f"action describe token {token}" in result.log_tail
