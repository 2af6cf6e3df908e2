"""What a Lambda function sees on each embedded emulator: the runtime's SDK and nothing else.

A function's bundle must carry its own dependencies (a missing one fails with an import error,
as on AWS), and nothing of the user who started the emulator (AWS variables, ``~/.aws``,
instance metadata) may reach the function.
"""

from __future__ import annotations

import io
import json
import os
import pwd
import zipfile
from pathlib import Path
from typing import Any

import pytest
from friend_integ.emulators import EMULATORS, Emulator, create
from friend_integ.test_support.emulators import client_factory, free_port

pytestmark = pytest.mark.emulator

_IMPORTS_A_PACKAGE_IT_DOES_NOT_SHIP = """
import yaml  # the emulator's own dependency, not part of the Lambda runtime nor of this bundle


def handler(event, context):
    return {"yaml": yaml.__version__}
"""

_REPORTS_ITS_ENVIRONMENT = """
import os

import boto3
import botocore


def handler(event, context):
    credentials = boto3.Session().get_credentials()
    return {
        "environ": dict(os.environ),
        "home": os.path.expanduser("~"),
        "access_key": credentials.access_key if credentials else None,
        "botocore": botocore.__version__,
    }
"""

_PLANTED = {
    "AWS_PROFILE": "planted",
    "AWS_DEFAULT_PROFILE": "planted",
    "AWS_ACCESS_KEY_ID": "AKIAPLANTEDKEY",
    "AWS_SECRET_ACCESS_KEY": "planted-secret",
    "AWS_SESSION_TOKEN": "planted-token",
    "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/planted",
    "AWS_WEB_IDENTITY_TOKEN_FILE": "/planted/token",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.2/planted",
    "AWS_ENDPOINT_URL_SQS": "https://planted.example",
    "HTTPS_PROXY": "http://planted-proxy:3128",
    "VIRTUAL_ENV": "/planted/venv",
    "PYTHONPATH": "/planted/path",
}


def _lambda(emulator: Emulator) -> Any:
    return client_factory(emulator.endpoint)("lambda")


def _invoke(emulator: Emulator, name: str, source: str) -> tuple[dict[str, Any], str | None]:
    """Create a python3.13 function from ``source`` and invoke it: its answer and error kind."""
    client = _lambda(emulator)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("probe.py", source)
    client.create_function(
        FunctionName=name,
        Runtime="python3.13",
        Handler="probe.handler",
        Role="arn:aws:iam::000000000000:role/probe",
        Code={"ZipFile": archive.getvalue()},
        Timeout=30,
    )
    client.get_waiter("function_active_v2").wait(FunctionName=name)
    response = client.invoke(FunctionName=name)
    answer: dict[str, Any] = json.loads(response["Payload"].read())
    return answer, response.get("FunctionError")


def test_a_package_missing_from_the_bundle_fails_as_on_aws(emulator: Emulator) -> None:
    answer, error = _invoke(emulator, "missing-package", _IMPORTS_A_PACKAGE_IT_DOES_NOT_SHIP)

    assert error is not None
    assert "No module named 'yaml'" in answer["errorMessage"]


@pytest.mark.parametrize("key", sorted(EMULATORS))
def test_nothing_of_the_users_aws_setup_reaches_a_function(
    key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(
        "[default]\naws_access_key_id = AKIAPLANTEDFILE\naws_secret_access_key = planted\n"
    )
    emulator = create(key, port=free_port())
    with monkeypatch.context() as planted:  # the user's environment while the emulator starts
        planted.setenv("HOME", str(home))
        planted.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "credentials"))
        planted.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / ".aws" / "credentials"))
        for name, value in _PLANTED.items():
            planted.setenv(name, value)
        emulator.start(timeout=120)
    try:
        answer, error = _invoke(emulator, "environment", _REPORTS_ITS_ENVIRONMENT)
    finally:
        emulator.stop()

    assert error is None, answer
    environ = answer["environ"]
    for name, value in _PLANTED.items():
        assert environ.get(name) != value, name
    assert str(home) not in json.dumps(environ)
    assert not answer["home"].startswith(str(home))
    assert not answer["home"].startswith(pwd.getpwuid(os.getuid()).pw_dir)
    assert answer["access_key"] not in {"AKIAPLANTEDKEY", "AKIAPLANTEDFILE"}
    assert environ.get("AWS_EC2_METADATA_DISABLED") == "true"
