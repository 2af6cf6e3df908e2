"""Measure the subprocess Lambda executor on the embedded LocalStack (prints numbers only).

- cold and warm synchronous invoke latency (client-observed) for python3.13 and nodejs22.x;
- warm propagation of the product's chain: SQS -> Python function (writes DynamoDB) -> stream
  -> filtered mapping -> Python function, from ``SendMessage`` to the stream function's start
  (both clocks are this host's).

Run from the repository root (starts an embedded LocalStack on a free port and stops it after,
or uses ``--endpoint`` of one already running):

    uv run --package friend-localstack python benchmarks/localstack_latency.py
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import socket
import statistics
import time
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
from friend_localstack import EmbeddedLocalStack

ROLE = "arn:aws:iam::000000000000:role/bench"

PYTHON_ECHO = """
import boto3

def handler(event, context):
    return {"ok": True}
"""
NODE_ECHO = """
const { SQSClient } = require('@aws-sdk/client-sqs');
exports.handler = async () => ({ ok: true, client: typeof SQSClient });
"""
FRONT = """
import json, os, time
import boto3

TABLE = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])

def handler(event, context):
    reached = time.time()
    for record in event["Records"]:
        body = json.loads(record["body"])
        TABLE.put_item(
            Item={"id": body["id"], "sent_at": str(body["sent_at"]), "front_at": str(reached)}
        )
    return {"batchItemFailures": []}
"""
STREAM = """
import json, os, time
import boto3

SQS = boto3.client("sqs")

def handler(event, context):
    reached = time.time()
    for record in event["Records"]:
        image = record["dynamodb"]["NewImage"]
        SQS.send_message(
            QueueUrl=os.environ["OBSERVER_URL"],
            MessageBody=json.dumps(
                {
                    "sent_at": float(image["sent_at"]["S"]),
                    "front_at": float(image["front_at"]["S"]),
                    "reached": reached,
                }
            ),
        )
"""


def _zip(name: str, source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, source)
    return buffer.getvalue()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def _endpoint(given: str | None) -> Iterator[str]:
    if given:
        yield given
        return
    localstack = EmbeddedLocalStack(port=_free_port())
    started = time.perf_counter()
    localstack.start(timeout=180)
    print(f"embedded LocalStack started in {time.perf_counter() - started:.1f} s")
    try:
        yield localstack.endpoint
    finally:
        localstack.stop()


class Bench:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.suffix = uuid.uuid4().hex[:8]

    def client(self, service: str) -> Any:
        session: Any = boto3.session.Session()  # any service, chosen at run time
        return session.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",  # noqa: S106 - LocalStack's fixed test credentials
        )

    def function(
        self, name: str, runtime: str, handler: str, code: bytes, env: dict[str, str] | None = None
    ) -> str:
        lambda_ = self.client("lambda")
        full_name = f"bench-{name}-{self.suffix}"
        lambda_.create_function(
            FunctionName=full_name,
            Runtime=runtime,
            Role=ROLE,
            Handler=handler,
            Code={"ZipFile": code},
            Timeout=30,
            Environment={"Variables": env or {}},
        )
        lambda_.get_waiter("function_active_v2").wait(
            FunctionName=full_name, WaiterConfig={"Delay": 1, "MaxAttempts": 180}
        )
        return full_name

    def invoke_latency(self, runtime: str, handler: str, code: bytes, warm: int = 30) -> None:
        lambda_ = self.client("lambda")
        name = self.function(runtime.replace(".", ""), runtime, handler, code)
        timings = []
        for _ in range(warm + 1):
            started = time.perf_counter()
            response = lambda_.invoke(FunctionName=name, Payload=b"{}")
            timings.append((time.perf_counter() - started) * 1000)
            assert "FunctionError" not in response, response["Payload"].read()
        cold, warm_timings = timings[0], timings[1:]
        print(
            f"{runtime:<11} invoke: cold {cold:.0f} ms, warm p50 {_pct(warm_timings, 50):.1f} ms"
            f" p95 {_pct(warm_timings, 95):.1f} ms (n={warm})"
        )

    def propagation(self, messages: int, warmup: int = 5) -> None:
        sqs, dynamodb, lambda_ = self.client("sqs"), self.client("dynamodb"), self.client("lambda")
        table = f"bench-{self.suffix}"
        stream_arn = dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]["LatestStreamArn"]
        source = sqs.create_queue(QueueName=f"bench-source-{self.suffix}")["QueueUrl"]
        source_arn = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        observer = sqs.create_queue(QueueName=f"bench-observer-{self.suffix}")["QueueUrl"]
        front = self.function(
            "front", "python3.13", "front.handler", _zip("front.py", FRONT), {"TABLE_NAME": table}
        )
        stream = self.function(
            "stream",
            "python3.13",
            "stream.handler",
            _zip("stream.py", STREAM),
            {"OBSERVER_URL": observer},
        )
        mappings = [
            lambda_.create_event_source_mapping(
                FunctionName=stream,
                EventSourceArn=stream_arn,
                StartingPosition="LATEST",
                BatchSize=10,
                FilterCriteria={"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}]},
            )["UUID"],
            lambda_.create_event_source_mapping(
                FunctionName=front,
                EventSourceArn=source_arn,
                BatchSize=10,
                FunctionResponseTypes=["ReportBatchItemFailures"],
            )["UUID"],
        ]
        for mapping in mappings:
            while lambda_.get_event_source_mapping(UUID=mapping)["State"] != "Enabled":
                time.sleep(0.1)
        try:
            to_front: list[float] = []
            to_stream: list[float] = []
            to_observer: list[float] = []
            for index in range(warmup + messages):
                sent_at = time.time()
                sqs.send_message(
                    QueueUrl=source,
                    MessageBody=json.dumps({"id": f"m{index}", "sent_at": sent_at}),
                )
                received = _receive_one(sqs, observer, timeout=60)
                if index >= warmup:
                    to_front.append((received["front_at"] - sent_at) * 1000)
                    to_stream.append((received["reached"] - sent_at) * 1000)
                    to_observer.append((time.time() - sent_at) * 1000)
        finally:
            for mapping in mappings:
                lambda_.delete_event_source_mapping(UUID=mapping)
        print(
            f"SQS -> Lambda -> DynamoDB -> stream -> Lambda (warm, n={messages}): "
            f"p50 {_pct(to_stream, 50):.0f} ms, p95 {_pct(to_stream, 95):.0f} ms, "
            f"max {max(to_stream):.0f} ms"
        )
        print(
            f"  of which SQS -> front function start: p50 {_pct(to_front, 50):.0f} ms,"
            f" p95 {_pct(to_front, 95):.0f} ms"
        )
        print(
            f"  ... and on to an SQS observer read by this script: p50 {_pct(to_observer, 50):.0f}"
            f" ms, p95 {_pct(to_observer, 95):.0f} ms"
        )


def _receive_one(sqs: Any, queue_url: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=5)
        for message in page.get("Messages", []):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            body: dict[str, Any] = json.loads(message["Body"])
            return body
    raise TimeoutError("no message reached the observer queue")


def _pct(values: list[float], percentile: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[percentile - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", help="use this running LocalStack instead of starting one")
    parser.add_argument("--messages", type=int, default=40, help="chain messages to time")
    args = parser.parse_args()
    with _endpoint(args.endpoint) as endpoint:
        bench = Bench(endpoint)
        bench.invoke_latency("python3.13", "echo.handler", _zip("echo.py", PYTHON_ECHO))
        bench.invoke_latency("nodejs22.x", "index.handler", _zip("index.js", NODE_ECHO))
        bench.propagation(args.messages)


if __name__ == "__main__":
    main()
