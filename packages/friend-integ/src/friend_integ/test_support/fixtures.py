"""The pytest fixtures of every test that needs an embedded emulator, in any package.

A pytest plugin (entry point ``pytest11``), so that one emulator of each kind serves a test
session whichever package's tests use it: the launcher's tests and the product's tests on an
emulator lane here, the LocalStack extension's tests in friend-localstack. Each such test file
says so itself (``pytestmark = pytest.mark.emulator``); the test command leaves them out unless
it is asked for them (``-m emulator``).

Under pytest-xdist (``--dist loadgroup``) every test that uses an emulator runs in the process
that holds that emulator: one group per emulator kind, so a session starts each kind once.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from friend_integ.emulators import EMULATORS, Emulator, MiniStack
from friend_integ.test_support.emulators import AwsClientFactory, client_factory, started
from friend_integ.test_support.stacks import SERVICE_STACK, CloudAssembly, Deployment, DeployStack

LOCALSTACK = "localstack"


@pytest.fixture(scope="session")
def localstack() -> Iterator[Emulator]:
    """A started, healthy LocalStack with the project's extension; stopped after the session."""
    yield from started(LOCALSTACK)


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
    """``deployed_stack(emulator, name)``: the service's stack deployed to ``emulator`` as
    ``name``; destroyed after the module.

    The one way a pytest test deploys the stack to an emulator (the integ tests deploy through
    integ-runner): synthesized through the synth cache (once for the same sources), its assets
    uploaded and its template created through CloudFormation
    (:class:`~friend_integ.test_support.stacks.CloudAssembly`).
    """
    assemblies: list[CloudAssembly] = []

    def deploy(emulator: Emulator, name: str) -> Deployment:
        outdir = tmp_path_factory.mktemp("cdk.out")
        assembly = CloudAssembly.of_service(outdir, client_factory(emulator.endpoint))
        assemblies.append(assembly)
        return assembly.deployment(SERVICE_STACK, name)

    yield deploy
    for assembly in assemblies:
        assembly.destroy()


def _emulator_of(item: pytest.Item) -> str | None:
    """The emulator kind a test uses: the ``emulator`` parameter, else the emulator fixture it
    asks for, itself or through another fixture."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "emulator" in callspec.params:
        return str(callspec.params["emulator"])
    names = getattr(item, "fixturenames", ())
    return next((kind for kind in (LOCALSTACK, MiniStack.key) if kind in names), None)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups off the marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put each test that uses an emulator in that emulator's xdist group."""
    for item in items:
        kind = _emulator_of(item)
        if kind is not None:
            item.add_marker(pytest.mark.xdist_group(kind))
