"""The read API: a REST API with exactly four declared GET routes.

- ``GET /players/{playerId}/friends`` and ``GET /players/{playerId}/friends/{friendId}``: the
  player's rows and the answer for one pair, for every valid id;
- ``GET /friends/{playerId}`` and ``GET /friends/isFriend/{playerId}/{friendId}``: the seed's
  routes with the same answers, kept for existing clients (a player named ``isFriend`` is
  shadowed there by the static resource).

Declared routes instead of a catch-all proxy: API Gateway answers anything else itself (403/
404) without invoking the function, and the path parameters are validated before it is invoked.
"""

from aws_cdk import Acknowledgment, RemovalPolicy, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from friend_infra.functions import LOG_RETENTION

THROTTLING_RATE_LIMIT = 100
"""Steady requests per second for the stage: far above a game's friend-list reads, far below
what would let one client run up the table's on-demand bill."""
THROTTLING_BURST_LIMIT = 200
"""Burst allowance on top of the rate (a login wave opening friend lists at once)."""


class ReadApi(Construct):
    """The four GET routes of the read API, all served by one function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=LOG_RETENTION, removal_policy=removal_policy
        )
        self.rest_api = apigw.RestApi(
            self,
            "Api",
            description="Friend read API",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # Execution logging needs the account-wide API Gateway CloudWatch role, a setting of
            # the account, not of this stack; access logs plus the function's logs cover requests.
            cloud_watch_role=False,
            deploy_options=apigw.StageOptions(
                stage_name="prod",
                throttling_rate_limit=THROTTLING_RATE_LIMIT,
                throttling_burst_limit=THROTTLING_BURST_LIMIT,
                tracing_enabled=True,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
            ),
        )
        # GETs carry no body, so only the parameters are checked; the body flag costs nothing
        # and keeps the validator complete if a route with a body is ever added.
        validator = self.rest_api.add_request_validator(
            "Requests", validate_request_parameters=True, validate_request_body=True
        )
        integration = apigw.LambdaIntegration(function, allow_test_invoke=False)

        def get(resource: apigw.IResource, *path_parameters: str) -> None:
            resource.add_method(
                "GET",
                integration,
                request_parameters={
                    f"method.request.path.{name}": True for name in path_parameters
                },
                request_validator=validator,
            )

        # The seed's routes, kept for existing clients. Their static `isFriend` resource shadows
        # `{playerId}`: a player named `isFriend` cannot be listed there (API Gateway answers 403).
        friends = self.rest_api.root.add_resource("friends")
        get(friends.add_resource("{playerId}"), "playerId")
        get(
            friends.add_resource("isFriend").add_resource("{playerId}").add_resource("{friendId}"),
            "playerId",
            "friendId",
        )
        # The same two answers where no static path part sits beside an id: every valid id routes.
        player_friends = (
            self.rest_api.root.add_resource("players")
            .add_resource("{playerId}")
            .add_resource("friends")
        )
        get(player_friends, "playerId")
        get(player_friends.add_resource("{friendId}"), "playerId", "friendId")

        Validations.of(self.rest_api).acknowledge(
            Acknowledgment(
                id="AwsSolutions-APIG4",
                reason="Public read API by design (as the original sample): friend lists are "
                "readable by game clients; an authorizer belongs to the game's identity system.",
            ),
            Acknowledgment(
                id="AwsSolutions-COG4",
                reason="No Cognito user pool: see AwsSolutions-APIG4.",
            ),
            Acknowledgment(
                id="AwsSolutions-APIG3",
                reason="No WAF web ACL: stage throttling bounds abuse; WAF is an account-level "
                "choice with its own cost and is not available on LocalStack community.",
            ),
            Acknowledgment(
                id="AwsSolutions-APIG6",
                reason="Execution logging needs the account-wide API Gateway CloudWatch role "
                "(outside this stack); access logging is on and the function logs each request.",
            ),
        )
