"""Generated requests (schemathesis) against the app deployed on each emulator lane: no 5xx,
and every answer as the document the deployment serves says, beyond the lane's named
allowance (MiniStack has one, LocalStack none)."""

from pathlib import Path

import pytest
from friend_infra.app import MANIFEST_CONTEXT
from friend_infra.pins import WORKSPACE
from friend_integ.deploy import deploy_app
from friend_integ.emulators import Emulator
from friend_integ.generated_requests import run

pytestmark = pytest.mark.emulator

OPERATIONS = 7
"""Every operation of the document but ``GET /openapi.json``, which schemathesis reads the
document from rather than tests."""


@pytest.mark.parametrize("lane", ["ministack", "localstack"])
def test_every_generated_request_is_answered_as_documented(
    request: pytest.FixtureRequest, tmp_path: Path, lane: str
) -> None:
    emulator: Emulator = request.getfixturevalue(lane)
    deployment = deploy_app(
        emulator.endpoint, tmp_path / "deploy", context={MANIFEST_CONTEXT: WORKSPACE}
    )
    figures, log = run(deployment.api_url, lane, tmp_path)
    print("\n".join(figures.lines(lane)))
    assert figures.operations == OPERATIONS
    assert figures.requests >= 20 * OPERATIONS
    assert figures.failures == {}, f"see {log}"
    if lane == "localstack":
        assert figures.allowed == 0
