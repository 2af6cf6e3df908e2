"""Fixtures of the extension's tests: one LocalStack with the extension per test session.

Every test here carries the ``emulator`` mark (``pytestmark`` in its file), so the fast lane
(``-m "not emulator and not slow"``) leaves them out.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from friend_integ.emulators import Emulator
from friend_integ.test_support.emulators import AwsClientFactory, client_factory, started
from friend_localstack import EmbeddedLocalStack


@pytest.fixture(scope="session")
def localstack() -> Iterator[Emulator]:
    """A started, healthy LocalStack with the project's extension; stopped after the session."""
    yield from started(EmbeddedLocalStack.key)


@pytest.fixture(scope="session")
def aws_client(localstack: Emulator) -> AwsClientFactory:
    """``aws_client("dynamodb")``: a boto3 client for the session's LocalStack."""
    return client_factory(localstack.endpoint)
