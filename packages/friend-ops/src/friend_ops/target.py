"""Which deployment a command acts on, chosen and checked the way the ``integ`` command does.

Fail closed: without ``--aws-account`` the target is a LocalStack-compatible emulator at
``--endpoint`` (default ``http://127.0.0.1:4566``), reached with test credentials and nothing
from the user's AWS configuration (``friend_target.localstack_environment``). Real AWS
only when the account is named, and the credentials are checked against that account before
anything is read or written (``check_account``).

The command's whole process runs inside that environment (:func:`scoped_environment`), so every
boto3 client it makes sees exactly what integ's tools would see, and nothing else.
"""

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from friend_target import (
    DEFAULT_ENDPOINT,
    REGION,
    Target,
    TargetError,
    aws_target,
    check_account,
    emulator_target,
)

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

TABLE_OUTPUT = "TableName"
FAILURE_QUEUE_OUTPUT = "StreamFailureQueueUrl"
"""Outputs of ``FriendMicroservicesStack`` the commands read; a stack with both is one."""


def choose(
    endpoint: str | None,
    aws_account: str | None,
    base: Mapping[str, str],
    region: str = REGION,
) -> tuple[Target, dict[str, str]]:
    """The target and the exact environment to reach it with (``region``: AWS only; an
    emulator is always addressed in integ's region)."""
    if aws_account:
        if endpoint:
            raise TargetError("--endpoint and --aws-account exclude each other")
        return aws_target(base, aws_account, region)
    if region != REGION:
        raise TargetError(f"--region applies to --aws-account only (emulators use {REGION})")
    # /dev/null is an empty file: no AWS config or credentials file can contribute anything.
    return emulator_target(base, endpoint or DEFAULT_ENDPOINT, Path(os.devnull))


@contextmanager
def scoped_environment(environment: Mapping[str, str]) -> Iterator[None]:
    """Run the body with exactly ``environment`` as the process environment, then restore it."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environment)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def verify(target: Target, session: boto3.session.Session) -> str:
    """The caller's ARN, once its account is the target's; raises TargetError otherwise."""
    try:
        identity = session.client("sts").get_caller_identity()
    except (BotoCoreError, ClientError) as error:
        raise TargetError(f"{target.describe()} did not answer: {error}") from error
    check_account(target, identity.get("Account"))
    return identity["Arn"]


@dataclass(frozen=True)
class Deployment:
    """A deployed FriendMicroservicesStack: its name and outputs."""

    stack: str
    outputs: Mapping[str, str]

    def output(self, key: str) -> str:
        if key not in self.outputs:
            raise TargetError(f"stack {self.stack} has no output {key}: is it this service?")
        return self.outputs[key]


def find_deployment(cloudformation: "CloudFormationClient", stack: str | None) -> Deployment:
    """The stack named ``stack``; without a name, the one stack of the service in the account
    and region (whatever it was named: the app's, an integration test's)."""
    try:
        if stack:
            pages = [cloudformation.describe_stacks(StackName=stack)]
        else:
            pages = list(cloudformation.get_paginator("describe_stacks").paginate())
    except ClientError as error:
        raise TargetError(f"stack {stack}: {error}") from error
    found = [
        Deployment(s["StackName"], {o["OutputKey"]: o["OutputValue"] for o in s.get("Outputs", [])})
        for page in pages
        for s in page["Stacks"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    ]
    if stack:
        return found[0]
    services = [d for d in found if {TABLE_OUTPUT, FAILURE_QUEUE_OUTPUT} <= set(d.outputs)]
    if len(services) != 1:
        names = ", ".join(d.stack for d in services) or "none"
        raise TargetError(f"name the stack with --stack: stacks of this service: {names}")
    return services[0]
