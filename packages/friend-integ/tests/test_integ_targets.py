"""What the integ command adds to the target rules: the CDK's profile, the emulator's services."""

from pathlib import Path

import pytest
from friend_integ.targets import (
    REQUIRED_SERVICES,
    check_cdk_profile,
    missing_services,
)
from friend_target import TargetError


def test_a_cdk_profile_other_than_the_checked_one_is_refused(tmp_path: Path) -> None:
    settings = tmp_path / ".cdk.json"
    check_cdk_profile(settings, {})  # no settings file: nothing to refuse

    settings.write_text('{"profile": "production"}')
    with pytest.raises(TargetError, match="'production'"):
        check_cdk_profile(settings, {})
    with pytest.raises(TargetError, match="'production'"):
        check_cdk_profile(settings, {"AWS_PROFILE": "staging"})
    check_cdk_profile(settings, {"AWS_PROFILE": "production"})

    settings.write_text('{"requireApproval": "never"}')
    check_cdk_profile(settings, {})


def test_missing_services_are_read_by_capability_under_any_known_name() -> None:
    localstack = {name: "available" for names in REQUIRED_SERVICES.values() for name in names[:1]}
    assert missing_services({"services": localstack}) == []
    # MiniStack lists Step Functions under its endpoint prefix.
    ministack = dict(localstack, states="running")
    del ministack["stepfunctions"]
    assert missing_services({"services": ministack}) == []

    localstack["apigateway"] = "disabled"
    del localstack["stepfunctions"]
    assert missing_services({"services": localstack}) == ["API Gateway", "Step Functions"]
    assert missing_services({}) == list(REQUIRED_SERVICES)
