"""Fixtures for every test of this package that needs an embedded emulator.

One emulator of each kind per test session, shared by the launcher's tests (``tests/emulators``),
the product's tests on an emulator lane (``tests/stack``) and the browser test of the page
(``tests/browser``).
Those tests carry the ``emulator`` mark, so the fast lane (``-m "not emulator and not slow"``)
leaves them out.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from friend_integ.emulators import EMULATORS, Emulator, MiniStack
from friend_integ.test_support.emulators import AwsClientFactory, client_factory, started

_EMULATOR_TESTS = (
    Path(__file__).parent / "tests" / "emulators",
    Path(__file__).parent / "tests" / "stack",
    Path(__file__).parent / "tests" / "browser",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that run against an emulator, so the fast lane can leave them out."""
    for item in items:
        if any(item.path.is_relative_to(folder) for folder in _EMULATOR_TESTS):
            item.add_marker(pytest.mark.emulator)


@pytest.fixture(scope="session")
def localstack() -> Iterator[Emulator]:
    """A started, healthy LocalStack with the project's extension; stopped after the session."""
    yield from started("localstack")


@pytest.fixture(scope="session")
def ministack() -> Iterator[Emulator]:
    """A started MiniStack; stopped after the session."""
    yield from started(MiniStack.key)


@pytest.fixture(scope="session", params=sorted(EMULATORS))
def emulator(request: pytest.FixtureRequest) -> Emulator:
    """Each embedded emulator in turn (the same instances as the fixtures named after them)."""
    instance: Emulator = request.getfixturevalue(request.param)
    return instance


@pytest.fixture(scope="session")
def aws_client(localstack: Emulator) -> AwsClientFactory:
    """``aws_client("dynamodb")``: a boto3 client for the session's LocalStack."""
    return client_factory(localstack.endpoint)
