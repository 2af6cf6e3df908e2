"""Generated requests (schemathesis) against the stack deployed on each emulator lane: no 5xx,
and every answer as the document the deployment serves says, beyond the lane's named
allowances (see ``friend_integ.generated_requests.ALLOWANCES``)."""

from pathlib import Path

import pytest
from friend_integ.emulators import Emulator
from friend_integ.generated_requests import run
from friend_integ.test_support.stacks import DeployStack

pytestmark = pytest.mark.emulator

OPERATIONS = 7
"""Every operation of the document but ``GET /openapi.json``, which schemathesis reads the
document from rather than tests."""


@pytest.mark.parametrize("lane", ["ministack", "localstack"])
def test_every_generated_request_is_answered_as_documented(
    request: pytest.FixtureRequest, deployed_stack: DeployStack, tmp_path: Path, lane: str
) -> None:
    emulator: Emulator = request.getfixturevalue(lane)
    deployment = deployed_stack(emulator, f"FriendGeneratedRequests{lane.capitalize()}")
    figures, log = run(deployment.api_url, lane, tmp_path)
    print("\n".join(figures.lines(lane)))
    assert figures.operations == OPERATIONS
    assert figures.requests >= 20 * OPERATIONS
    assert figures.failures == {}, f"see {log}"
