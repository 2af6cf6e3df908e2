"""Look into stacks kept on a LocalStack (`integ --no-clean`) without the AWS CLI.

    uv run --package friend-integ python -m friend_integ.inspect_stacks --endpoint URL [--scan]
        [--dlq]

Lists the stacks with their outputs, and for a stack with an `ApiId` the URL of its page as the
emulator serves it; `--scan` prints every row of each stack's `TableName` output, `--dlq` the
messages waiting in each `DeadLetterQueueUrl` (left visible). Uses test credentials against the
endpoint only, like the integ command's LocalStack targets.
"""

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import boto3
from friend_target import DEFAULT_ENDPOINT, REGION, normalize_endpoint

from friend_integ.targets import emulated_api_url


def _session() -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106 - LocalStack's fixed test credentials
        region_name=REGION,
    )


def _plain(item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A DynamoDB item without its type tags ({'S': 'x'} -> 'x')."""
    return {name: next(iter(value.values())) for name, value in item.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m friend_integ.inspect_stacks")
    parser.add_argument("--endpoint", default=DEFAULT_ENDPOINT)
    parser.add_argument("--scan", action="store_true", help="print the rows of each table")
    parser.add_argument("--dlq", action="store_true", help="print dead-lettered messages")
    args = parser.parse_args(argv)
    endpoint = normalize_endpoint(args.endpoint)

    session = _session()
    cloudformation = session.client("cloudformation", endpoint_url=endpoint)
    for stack in cloudformation.describe_stacks()["Stacks"]:
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        print(f"{stack['StackName']}  {stack['StackStatus']}")
        for key, value in sorted(outputs.items()):
            # Skip the plumbing: assertion results and cross-stack exports.
            if not key.startswith(("AssertionResults", "ExportsOutput")):
                print(f"    {key} = {value}")
        if "ApiId" in outputs:
            print(f"    page (open in a browser) = {emulated_api_url(endpoint, outputs['ApiId'])}")
        if args.scan and "TableName" in outputs:
            pages = session.client("dynamodb", endpoint_url=endpoint).get_paginator("scan")
            for page in pages.paginate(TableName=outputs["TableName"]):
                for item in page["Items"]:
                    print("    row " + json.dumps(_plain(item), sort_keys=True))
        if args.dlq and "DeadLetterQueueUrl" in outputs:
            received = session.client("sqs", endpoint_url=endpoint).receive_message(
                QueueUrl=outputs["DeadLetterQueueUrl"],
                MaxNumberOfMessages=10,
                VisibilityTimeout=0,
            )
            for message in received.get("Messages", []):
                print(f"    dead-lettered {message['Body']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
