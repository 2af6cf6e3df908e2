"""What the ``integ`` command adds to the shared target rules (:mod:`friend_target`).

The rules themselves (fail closed: an emulator gets test credentials and nothing of the user's
AWS configuration; real AWS only for a named, checked account) live in friend-target, which the
recovery commands share. Here: the snapshot-only mode's closed endpoint, the environment every
tool of a run starts from, the CDK's own profile setting, and what a run needs of an emulator.
"""

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from friend_target import LOOPBACK, TargetError

CLOSED_ENDPOINT = f"http://{LOOPBACK}:9"
"""Endpoint of a snapshot-only run: nothing listens there, so a stray AWS call fails at once."""


def base_environment() -> dict[str, str]:
    """The user's environment plus what every tool of the run needs here."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(
        {
            # Node 20 works; its deprecation banners only bury the report.
            "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "18,20",
            "FORCE_COLOR": "0",
            "NO_COLOR": "1",
            "CDK_DISABLE_VERSION_CHECK": "1",
            "CDK_DISABLE_CLI_TELEMETRY": "true",
            # integ-runner sets this for deploys but not for snapshot checks; the same value
            # in both keeps their syntheses identical (bundling is local, Docker is unused).
            "CDK_DOCKER": "docker",
        }
    )
    return env


def check_cdk_profile(user_settings: Path, env: Mapping[str, str]) -> None:
    """Refuse a `profile` in the CDK's user settings (`~/.cdk.json`) that is not the one checked.

    The CDK CLI uses that profile's credentials over the environment's, so the account verified
    with the environment's credentials would not be the one deployed to.
    """
    try:
        settings = json.loads(user_settings.read_text())
    except FileNotFoundError:
        return
    except ValueError as error:
        raise TargetError(f"{user_settings} is not valid JSON: {error}") from error
    profile = settings.get("profile") if isinstance(settings, dict) else None
    if profile and profile != env.get("AWS_PROFILE"):
        raise TargetError(
            f"{user_settings} selects the AWS profile {profile!r}, but the account was checked "
            f"with {env.get('AWS_PROFILE') or 'the default credentials'}: remove it, or set "
            f"AWS_PROFILE={profile}"
        )


REQUIRED_SERVICES: Mapping[str, tuple[str, ...]] = {
    "API Gateway": ("apigateway",),
    "CloudFormation": ("cloudformation",),
    "DynamoDB": ("dynamodb",),
    "DynamoDB Streams": ("dynamodbstreams",),
    "IAM": ("iam",),
    "Lambda": ("lambda",),
    "CloudWatch Logs": ("logs",),
    # Alarms and the dashboard; the metrics endpoint's prefix is `monitoring`.
    "CloudWatch": ("cloudwatch", "monitoring"),
    "KMS": ("kms",),
    "SNS": ("sns",),
    "S3": ("s3",),
    "SQS": ("sqs",),
    "SSM": ("ssm",),
    # integ-tests-alpha's waiters run on Step Functions; its health key is the service's
    # endpoint prefix (`states`) on some emulators, its SDK name on LocalStack.
    "Step Functions": ("stepfunctions", "states"),
    "STS": ("sts",),
}
"""Capabilities the bootstrap stack, the stack under test and the assertion stack use, each with
the names a LocalStack-compatible health report may list it under."""


def missing_services(health: Mapping[str, object]) -> list[str]:
    """Capabilities the run needs that a LocalStack-compatible health report does not offer.

    Emulators report each service as `available` (loads on first use), `running`, or
    `disabled`/`error`; only the first two can serve a deployment.
    """
    services = health.get("services")
    if not isinstance(services, Mapping):
        return list(REQUIRED_SERVICES)
    return [
        capability
        for capability, names in REQUIRED_SERVICES.items()
        if not any(services.get(name) in ("available", "running") for name in names)
    ]


def emulated_api_url(endpoint: str, api_id: str, stage: str = "prod") -> str:
    """A REST API stage as every emulator serves it: by path on its own gateway (the stage's
    ``execute-api`` host name resolves only on AWS)."""
    return f"{endpoint.rstrip('/')}/_aws/execute-api/{api_id}/{stage}/"
