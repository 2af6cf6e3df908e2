"""Read-only questions to a target, asked with exactly the environment the tools will get.

The integ command runs this module as a child process with the target's environment, so the
answer (which account, is it bootstrapped, are stacks left over) comes from the same
credentials and endpoint that integ-runner and the CDK CLI will use, not from whatever the
command's own process happens to have.

Usage: ``python -m friend_integ.probe [STACK ...]``; prints one JSON object.
"""

import json
import sys
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from friend_integ.cloudformation import describe

BOOTSTRAP_STACK = "CDKToolkit"


def probe(stack_names: list[str]) -> dict[str, Any]:
    """Caller identity, bootstrap version and the status of each named stack."""
    session = boto3.session.Session()
    identity = session.client("sts").get_caller_identity()
    cloudformation = session.client("cloudformation")
    bootstrap = describe(cloudformation, BOOTSTRAP_STACK)
    version = None
    if bootstrap is not None:
        outputs = {o["OutputKey"]: o["OutputValue"] for o in bootstrap.get("Outputs", [])}
        version = int(outputs["BootstrapVersion"]) if "BootstrapVersion" in outputs else None
    stacks = {}
    for name in stack_names:
        stack = describe(cloudformation, name)
        if stack is not None:
            stacks[name] = stack["StackStatus"]
    return {
        "account": identity["Account"],
        "arn": identity["Arn"],
        "bootstrap_status": bootstrap["StackStatus"] if bootstrap else None,
        "bootstrap_version": version,
        "stacks": stacks,
    }


def main() -> int:
    try:
        result = probe(sys.argv[1:])
    except (BotoCoreError, ClientError) as error:
        print(json.dumps({"error": str(error)}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
