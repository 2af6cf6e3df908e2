"""A rig's environment: nothing left that reaches a real account or another endpoint."""

import os

import pytest
from friend_moto.environment import FAKE_CREDENTIALS, REGION, use_moto_environment

SET = [*FAKE_CREDENTIALS, "AWS_DEFAULT_REGION", "AWS_REGION", "POWERTOOLS_SERVICE_NAME"]


def test_a_real_profile_endpoint_and_credentials_are_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in SET:
        monkeypatch.setenv(name, "real")  # also restores each name after the test
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")

    use_moto_environment(POWERTOOLS_SERVICE_NAME="friend")

    assert {name: os.environ[name] for name in SET} == {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "POWERTOOLS_SERVICE_NAME": "friend",
    }
    assert "AWS_PROFILE" not in os.environ
    assert "AWS_ENDPOINT_URL" not in os.environ


def test_without_a_profile_or_endpoint_there_is_nothing_to_remove(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [*SET, "AWS_PROFILE", "AWS_ENDPOINT_URL"]:
        monkeypatch.delenv(name, raising=False)

    use_moto_environment()

    assert os.environ["AWS_REGION"] == REGION
    assert "AWS_PROFILE" not in os.environ
    assert "POWERTOOLS_SERVICE_NAME" not in os.environ
