"""Shared fixtures: one embedded emulator of each kind per test session, and boto3 clients.

Emulators run on free ports (never the default 4566, which may be the user's own emulator) with
their state under ``.state/<emulator>-tests``. Sessions running side by side share that folder's
environment and keep their processes apart by port.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from friend_integ.emulators import EMULATORS, EmbeddedLocalStack, Emulator, MiniStack, create
from friend_integ.emulators import default_state_dir as emulator_state_dir

TEST_REGION = "us-east-1"
TEST_ACCOUNT = "000000000000"

AwsClientFactory = Callable[..., Any]


def free_port() -> int:
    """A loopback port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def state_dir_for_tests(key: str = EmbeddedLocalStack.key) -> Path:
    return emulator_state_dir(f"{key}-tests")


def _started(key: str) -> Iterator[Emulator]:
    instance = create(key, port=free_port(), state_dir=state_dir_for_tests(key))
    instance.start(timeout=120)
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="session")
def localstack() -> Iterator[Emulator]:
    """A started, healthy LocalStack with the project's extension; stopped after the session."""
    yield from _started(EmbeddedLocalStack.key)


@pytest.fixture(scope="session")
def ministack() -> Iterator[Emulator]:
    """A started MiniStack; stopped after the session."""
    yield from _started(MiniStack.key)


@pytest.fixture(scope="session", params=sorted(EMULATORS))
def emulator(request: pytest.FixtureRequest) -> Emulator:
    """Each embedded emulator in turn (the same instances as the fixtures named after them)."""
    instance: Emulator = request.getfixturevalue(request.param)
    return instance


@pytest.fixture(scope="session")
def aws_client(localstack: Emulator) -> AwsClientFactory:
    """``aws_client("dynamodb")``: a boto3 client for the session's LocalStack (us-east-1 unless
    ``region_name`` says otherwise).

    Test credentials and an explicit endpoint, so a user's profile or real account is never
    reached whatever the environment holds.
    """

    def make(service: str, region_name: str = TEST_REGION, **kwargs: Any) -> Any:
        return boto3.session.Session().client(
            service,
            endpoint_url=localstack.endpoint,
            region_name=region_name,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 2, "mode": "standard"}),
            **kwargs,
        )

    return make
