"""Test setup for friend-models: fake AWS credentials and a moto Friend table.

The environment is set before the model is imported, because ``Friend.Meta.table_name`` is read
from ``FRIEND_TABLE_NAME`` once, at import time, just as in a Lambda cold start.
"""

import os
from collections.abc import Iterator
from typing import Any

import pytest

for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}.items():
    os.environ[_name] = _value
os.environ.pop("AWS_PROFILE", None)
# Another package's tests in the same run may have named the table already: keep that name.
os.environ.setdefault("FRIEND_TABLE_NAME", "FriendTest")
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3  # noqa: E402
from friend_models import Friend  # noqa: E402

TEST_TABLE_NAME = Friend.Meta.table_name
"""The name the model read from the environment at import, as a deployed function would."""
from moto import mock_aws  # noqa: E402


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    """A moto DynamoDB client holding a Friend table built from the exported key names."""
    with mock_aws():
        client = boto3.client("dynamodb")
        Friend.create_table(wait=True)  # keys, billing and stream as the model defines them
        yield client
