"""The CDK app: ``cdk synth`` / ``cdk deploy`` from ``packages/friend-infra`` (see cdk.json).

It deploys what the deployment manifest pins (``deploy/functions.toml``). Context keys:

- ``friend:manifest``: another manifest (a path, relative to the workspace root), or
  ``workspace`` to build every function from the working tree;
- ``friend:canary``: ``true`` to shift traffic to new versions through CodeDeploy (real AWS).
"""

import sys
from pathlib import Path

from aws_cdk import App
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct
from friend_handlers.filters import HANDLERS

from friend_infra.pins import MANIFEST_PATH, WORKSPACE, read_manifest
from friend_infra.stack import FriendMicroservicesStack
from friend_infra.workspace import workspace_root

STACK_NAME = "FriendMicroservices"
RESERVE_CONCURRENCY_CONTEXT = "friend:reserveConcurrency"
"""``cdk deploy -c friend:reserveConcurrency=false`` deploys without reserved concurrency, for
an account whose concurrency quota leaves no room for it (a new account's 10)."""
MANIFEST_CONTEXT = "friend:manifest"
CANARY_CONTEXT = "friend:canary"


def nag_findings(scope: IConstruct) -> list[str]:
    """cdk-nag AwsSolutions findings in ``scope`` that no acknowledgment covers, one per line.

    cdk-nag 3 is meant to run as a CDK validation plugin, but aws-cdk-lib 2.257 does not give
    plugins the construct tree: the plugin then reports itself failed, and synthesis still
    succeeds, checking nothing. So the pack is run directly on the synthesized tree instead.
    """
    report = AwsSolutionsChecks().validate_scope(scope)
    return [
        f"{violation.rule_name} at {resource.template_path}#{resource.resource_logical_id}: "
        f"{violation.description}"
        for violation in report.violations
        for resource in violation.violating_resources
    ]


def context_flag(value: object, *, default: bool) -> bool:
    """A boolean from CDK context: ``-c key=false`` arrives as a string, cdk.json as a bool."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def pins(app: App) -> dict[str, str]:
    """Each function's pin, from the manifest the context names (default: the committed one)."""
    chosen = app.node.try_get_context(MANIFEST_CONTEXT) or MANIFEST_PATH
    if chosen == WORKSPACE:
        return dict.fromkeys(HANDLERS, WORKSPACE)
    path = Path(chosen)
    return read_manifest(path if path.is_absolute() else workspace_root() / path, HANDLERS)


def main() -> None:
    """Synthesize the stack, then fail (exit 1) on any unacknowledged cdk-nag finding."""
    app = App()
    reserve = context_flag(app.node.try_get_context(RESERVE_CONCURRENCY_CONTEXT), default=True)
    FriendMicroservicesStack(
        app,
        STACK_NAME,
        description="Friend-request microservice",
        reserve_concurrency=reserve,
        pins=pins(app),
        canary=str(app.node.try_get_context(CANARY_CONTEXT)).lower() == "true",
    )
    app.synth()
    findings = nag_findings(app)
    if findings:
        sys.stderr.write("cdk-nag AwsSolutions findings:\n" + "\n".join(findings) + "\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
