"""Test setup for friend-models: fake AWS credentials and a moto Friend table.

The environment is set before the model is imported, because ``Friend.Meta.table_name`` is read
from ``FRIEND_TABLE_NAME`` once, at import time, just as in a Lambda cold start.
"""

import os
from collections.abc import Iterator
from typing import Any

import pytest
from friend_moto.environment import use_moto_environment

use_moto_environment()
# Another package's tests in the same run may have named the table already: keep that name.
os.environ.setdefault("FRIEND_TABLE_NAME", "FriendTest")

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
