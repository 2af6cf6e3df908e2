"""Fixtures for every test of this package that needs an embedded emulator.

One emulator of each kind per test session, shared by the launcher's tests (``tests/emulators``),
the product's tests on an emulator lane (``tests/stack``) and the browser test of the page
(``tests/browser``). Each of those test files says so itself (``pytestmark =
pytest.mark.emulator``), so the fast lane (``-m "not emulator and not slow"``) leaves them out.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from friend_integ.emulators import EMULATORS, Emulator, MiniStack
from friend_integ.test_support.emulators import AwsClientFactory, client_factory, started
from friend_integ.test_support.stacks import CloudAssembly, Deployment, DeployStack

FRIEND_STACK_APP = Path(__file__).parent / "tests" / "friend_stack_app.py"
"""The service's stack as a CDK app for tests: ``python friend_stack_app.py <outdir> <stack>``."""


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


@pytest.fixture(scope="module")
def deployed_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployStack]:
    """``deployed_stack(emulator, name)``: the service's stack (``FRIEND_STACK_APP``) synthesized
    and deployed to ``emulator`` as ``name``; destroyed after the module.

    The one way a pytest test deploys the stack to an emulator (the integ tests deploy through
    integ-runner): synthesized in a fresh interpreter, its assets uploaded and its template
    created through CloudFormation (:class:`~friend_integ.test_support.stacks.CloudAssembly`).
    """
    assemblies: list[CloudAssembly] = []

    def deploy(emulator: Emulator, name: str) -> Deployment:
        outdir = tmp_path_factory.mktemp("cdk.out")
        aws_client = client_factory(emulator.endpoint)
        assembly = CloudAssembly.synthesize(FRIEND_STACK_APP, outdir, aws_client, name)
        assemblies.append(assembly)
        return assembly.deployment(name)

    yield deploy
    for assembly in assemblies:
        assembly.destroy()
