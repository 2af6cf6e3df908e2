"""The CDK app: ``cdk synth`` / ``cdk deploy`` from ``packages/friend-infra`` (see cdk.json).

It deploys what the deployment manifest pins (``deploy/functions.toml``). Context keys:

- ``friend:manifest``: another manifest (a path, relative to the workspace root), or
  ``workspace`` to build every function from the working tree;
- ``friend:canary``: ``true`` to shift traffic to new versions through CodeDeploy (real AWS);
- ``friend:openWriteApi``: ``true`` to deploy ``POST /friends`` without the authorizer, so that
  anyone who reaches the API may act for any player (the emulator lanes do; nothing else should).

Closed by default: without ``friend:openWriteApi=true`` the app also deploys the players' user
pool (stack ``FriendPlayers``, deployed first by ``cdk deploy FriendMicroservices``), and the
write route asks for a token of it whose ``sub`` is the acting player.
"""

import sys
from pathlib import Path
from typing import Any

from aws_cdk import Acknowledgment, App, CfnOutput, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_cognito as cognito
from cdk_nag import AwsSolutionsChecks
from constructs import Construct, IConstruct
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
OPEN_WRITE_API_CONTEXT = "friend:openWriteApi"
PLAYERS_STACK_NAME = "FriendPlayers"


class PlayersStack(Stack):
    """The players' Cognito user pool, which the write route's authorizer trusts. A stack of its
    own, retained: it holds the players' accounts, which outlive any deployment of the service.

    Players are created by the game's back end (``admin-create-user``): no self sign-up, so a
    stranger cannot mint tokens. A game with its own pool passes it to
    :class:`~friend_infra.stack.FriendMicroservicesStack` (``player_pool``) instead.
    """

    def __init__(self, scope: Construct, construct_id: str, **stack_kwargs: Any) -> None:
        super().__init__(scope, construct_id, **stack_kwargs)
        self.pool = cognito.UserPool(
            self,
            "Players",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(username=True),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            account_recovery=cognito.AccountRecovery.NONE,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.client = self.pool.add_client(
            "Game", auth_flows=cognito.AuthFlow(user_srp=True), generate_secret=False
        )
        CfnOutput(self, "PlayerPoolId", value=self.pool.user_pool_id, description="Players")
        CfnOutput(
            self,
            "GameClientId",
            value=self.client.user_pool_client_id,
            description="App client the game signs players in with",
        )
        Validations.of(self).acknowledge(
            Acknowledgment(
                id="AwsSolutions-COG2",
                reason="MFA is the game's sign-in choice; the pool only carries who a player "
                "is to the write route.",
            ),
            Acknowledgment(
                id="AwsSolutions-COG8",
                reason="Threat protection is a paid Cognito feature plan: the game's choice.",
            ),
        )


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


def build(app: App) -> FriendMicroservicesStack:
    """The app's stacks, as the context asks: the service, and its players' pool unless the
    write API is deployed open."""
    reserve = context_flag(app.node.try_get_context(RESERVE_CONCURRENCY_CONTEXT), default=True)
    open_write = context_flag(app.node.try_get_context(OPEN_WRITE_API_CONTEXT), default=False)
    players = (
        None
        if open_write
        else PlayersStack(app, PLAYERS_STACK_NAME, description="Players of the friend microservice")
    )
    return FriendMicroservicesStack(
        app,
        STACK_NAME,
        description="Friend-request microservice",
        reserve_concurrency=reserve,
        player_pool=None if players is None else players.pool,
        pins=pins(app),
        canary=str(app.node.try_get_context(CANARY_CONTEXT)).lower() == "true",
    )


def main() -> None:
    """Synthesize the stacks, then fail (exit 1) on any unacknowledged cdk-nag finding."""
    app = App()
    build(app)
    app.synth()
    findings = nag_findings(app)
    if findings:
        sys.stderr.write("cdk-nag AwsSolutions findings:\n" + "\n".join(findings) + "\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
