"""The environments a command hands its tools: emulator targets fail closed."""

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from friend_target import (
    LOCALSTACK_ACCOUNT,
    Target,
    TargetError,
    TargetKind,
    aws_environment,
    aws_target,
    check_account,
    emulator_target,
    localstack_environment,
    normalize_endpoint,
)

USER_ENV = {
    "HOME": "/home/user",
    "PATH": "/usr/bin",
    "AWS_PROFILE": "production",
    "AWS_DEFAULT_PROFILE": "production",
    "AWS_ACCESS_KEY_ID": "AKIAREALKEY",
    "AWS_SECRET_ACCESS_KEY": "real-secret",
    "AWS_SESSION_TOKEN": "real-token",
    "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/deployer",
    "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.2/creds",
    "AWS_CONFIG_FILE": "/home/user/.aws/config",
    "AWS_SHARED_CREDENTIALS_FILE": "/home/user/.aws/credentials",
    "AWS_ENDPOINT_URL_SQS": "https://sqs.eu-west-1.amazonaws.com",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
    "AWS_REGION": "eu-west-1",
    "CDK_DEFAULT_ACCOUNT": "123456789012",
    "HTTPS_PROXY": "http://proxy.corp:3128",
    "NO_PROXY": "internal.corp",
}


def test_localstack_environment_keeps_nothing_of_the_users_aws_setup(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    env = localstack_environment(USER_ENV, "http://127.0.0.1:4566", empty)

    assert {k: v for k, v in env.items() if k.startswith("AWS_")} == {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    assert "CDK_DEFAULT_ACCOUNT" not in env
    assert env["HOME"] == "/home/user"
    assert env["PATH"] == "/usr/bin"


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:4566", "http://ls.corp:4566"])
def test_emulator_traffic_never_goes_through_a_proxy(tmp_path: Path, endpoint: str) -> None:
    env = localstack_environment(USER_ENV, endpoint, tmp_path / "empty")

    host = urlsplit(endpoint).hostname
    for name in ("NO_PROXY", "no_proxy"):
        bypassed = env[name].split(",")
        assert {"internal.corp", "127.0.0.1", "localhost", "::1", host} <= set(bypassed)
    # The proxy stays for what really goes out (package downloads during bundling).
    assert env["HTTPS_PROXY"] == "http://proxy.corp:3128"


def test_aws_environment_keeps_credentials_but_no_endpoint_override() -> None:
    env = aws_environment(USER_ENV, "us-east-1", "210987654321")

    assert env["AWS_PROFILE"] == "production"
    assert env["AWS_SESSION_TOKEN"] == "real-token"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert "AWS_ENDPOINT_URL_SQS" not in env
    assert "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS" not in env
    assert env["CDK_DEFAULT_ACCOUNT"] == "210987654321"  # the named account, not the user's
    assert env["CDK_DEFAULT_REGION"] == "us-east-1"


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("http://localhost:4566", "http://127.0.0.1:4566"),
        ("http://127.0.0.1:4510/", "http://127.0.0.1:4510"),
        ("https://ls.example.internal:443", "https://ls.example.internal:443"),
        ("http://[::1]:4566", "http://[::1]:4566"),
    ],
)
def test_endpoint_is_normalized_to_what_the_cdk_toolkit_can_use(given: str, used: str) -> None:
    assert normalize_endpoint(given) == used


@pytest.mark.parametrize(
    "bad", ["127.0.0.1:4566", "http://127.0.0.1", "ftp://127.0.0.1:21", "http://h:1/path"]
)
def test_malformed_endpoints_are_refused(bad: str) -> None:
    with pytest.raises(TargetError):
        normalize_endpoint(bad)


def test_account_mismatch_is_refused() -> None:
    target = Target(TargetKind.AWS, "123456789012")
    check_account(target, "123456789012")
    with pytest.raises(TargetError, match="not 123456789012"):
        check_account(target, "210987654321")
    with pytest.raises(TargetError, match="could not resolve"):
        check_account(target, None)


def test_a_localstack_target_must_answer_for_the_localstack_account() -> None:
    target = Target(TargetKind.EMULATOR, LOCALSTACK_ACCOUNT, endpoint="http://127.0.0.1:4566")
    with pytest.raises(TargetError):
        check_account(target, "123456789012")


def test_a_named_emulator_is_reached_at_its_normalized_endpoint_only(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    target, env = emulator_target(USER_ENV, "http://localhost:4567", empty)
    assert target == Target(
        TargetKind.EMULATOR, LOCALSTACK_ACCOUNT, endpoint="http://127.0.0.1:4567"
    )
    assert env == localstack_environment(USER_ENV, "http://127.0.0.1:4567", empty)


def test_a_named_account_is_the_target_and_the_cdk_s_account() -> None:
    target, env = aws_target(USER_ENV, "123456789012", "eu-west-1")
    assert target == Target(TargetKind.AWS, "123456789012", "eu-west-1")
    assert env == aws_environment(USER_ENV, "eu-west-1", "123456789012")
    assert env["CDK_DEFAULT_ACCOUNT"] == "123456789012"
