"""What a synth loads of the Lambda code: the contract, never the runtime libraries."""

import json
import subprocess
import sys

import pytest

PROBE = """
import json, sys
from aws_cdk import App
from friend_infra.stack import FriendMicroservicesStack
FriendMicroservicesStack(App(), "Probe")
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


@pytest.mark.slow  # a fresh interpreter that loads jsii and the CDK: 6-9 s
def test_synth_imports_neither_powertools_nor_boto3() -> None:
    """The stack reads handler names, filters and environment names from
    ``friend_handlers.contract``; Powertools, the X-Ray SDK and boto3 are the functions' own.
    (The table is built from the PynamoDB model, which brings botocore, and the API's request
    model is generated from the message model, which brings pydantic: both on purpose.)"""
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(result.stdout.splitlines()[-1]))
    assert {"friend_infra", "friend_handlers", "aws_cdk"} <= loaded
    assert not loaded & {"aws_lambda_powertools", "aws_xray_sdk", "boto3"}
