"""Helpers for tests and benchmarks that run against an embedded emulator (the test fixtures
are in ``fixtures``).

Test emulators run on free ports (never the default 4566, which may be the user's own emulator)
from the environment the integ command installs (``.state/<emulator>``), so it is built once for
both; every file of a running emulator (its run folder, log, pid file) is named by its port, so
sessions side by side and the integ command's emulator stay apart.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import boto3
from botocore.config import Config

from friend_integ.emulators import DEFAULT_PORT, Emulator, create

TEST_REGION = "us-east-1"
TEST_ACCOUNT = "000000000000"

AwsClientFactory = Callable[..., Any]


def free_port() -> int:
    """A loopback port that nothing listens on right now, never the default one (a run of the
    integ command, or the user's own emulator, may take that at any moment)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port != DEFAULT_PORT:
            return port


def started(key: str) -> Iterator[Emulator]:
    """A started emulator on a free port, stopped when the generator is closed."""
    instance = create(key, port=free_port())
    instance.start(timeout=120)
    try:
        yield instance
    finally:
        instance.stop()


def client_factory(endpoint: str) -> AwsClientFactory:
    """``make("dynamodb")``: a boto3 client for ``endpoint`` (us-east-1 unless ``region_name``
    says otherwise), with test credentials, so a user's profile or real account is never
    reached whatever the environment holds."""

    def make(service: str, region_name: str = TEST_REGION, **kwargs: Any) -> Any:
        session: Any = boto3.session.Session()  # any service, chosen at run time
        return session.client(
            service,
            endpoint_url=endpoint,
            region_name=region_name,
            aws_access_key_id="test",
            aws_secret_access_key="test",  # noqa: S106 - the emulators' fixed test credentials
            config=Config(retries={"max_attempts": 2, "mode": "standard"}),
            **kwargs,
        )

    return make
