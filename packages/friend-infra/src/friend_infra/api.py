"""The friend API: one REST API, one stage, exactly these declared routes.

Reads (the read function):

- ``GET /players/{playerId}/friends`` and ``GET /players/{playerId}/friends/{friendId}``: the
  player's rows and the answer for one pair, for every valid id;
- ``GET /friends/{playerId}`` and ``GET /friends/isFriend/{playerId}/{friendId}``: the seed's
  routes with the same answers, kept for existing clients (a player named ``isFriend`` is
  shadowed there by the static resource).

Write (the write function): ``POST /friends`` with a body in the queue's wire format, checked
first by API Gateway against a request model generated from the message model
(:mod:`friend_handlers.logic.message_schema`); a body it refuses is answered with the
``BAD_REQUEST_BODY`` gateway response, a JSON 400, without invoking the function. Its own stage
throttle, and, with ``player_pool``, a Cognito user pool authorizer. A function rather than API
Gateway's SQS service integration because the model says more than JSON Schema draft 4 can
(``player_id != friend_id``, the characters of an id): without it those bodies would be answered
202 and parked in the dead-letter queue instead of refused with a 400.

Page (the page function): ``GET /`` and ``GET /app.js``, on the API's own origin, so the page
needs no CORS.

The API's OpenAPI document (the write function, which knows whether its route asks for a
token): ``GET /openapi.json``, so a client can read the contract from the deployment itself.

Declared routes instead of a catch-all proxy: API Gateway answers anything else itself (403/
404) without invoking a function, and path parameters and bodies are validated before one is.
"""

from aws_cdk import Acknowledgment, RemovalPolicy, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from constructs import Construct
from friend_handlers.contract import API_DOCUMENT_PATH, PAGE_FILES
from friend_handlers.logic.message_schema import request_model_schema

from friend_infra.functions import log_group

THROTTLING_RATE_LIMIT = 100
"""Steady requests per second for the stage: far above a game's friend-list reads, far below
what would let one client run up the table's on-demand bill."""
THROTTLING_BURST_LIMIT = 200
"""Burst allowance on top of the rate (a login wave opening friend lists at once)."""
WRITE_ROUTE = "/friends/POST"
WRITE_THROTTLING_RATE_LIMIT = 50
"""Steady writes per second: each one becomes a queue message, a front invocation and up to two
stream invocations, and players act at the pace of clicks, so writes get half the reads' rate."""
WRITE_THROTTLING_BURST_LIMIT = 100

MESSAGE_MODEL = "FriendMessage"
BAD_REQUEST_BODY_TEMPLATE = '{"message":$context.error.messageString}'
"""JSON like every other error of the API: ``{"message": "Invalid request body"}``."""


class FriendApi(Construct):
    """The REST API with its read routes, write route and page, each served by its function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        read: lambda_.IFunction,
        write: lambda_.IFunction,
        page: lambda_.IFunction,
        removal_policy: RemovalPolicy,
        player_pool: cognito.IUserPool | None = None,
    ) -> None:
        """``player_pool``: require on ``POST /friends`` a Cognito token of this user pool (the
        write function then checks that its ``sub`` is the body's ``player_id``)."""
        super().__init__(scope, construct_id)
        self.access_logs = log_group(self, "AccessLogs", removal_policy)
        self.rest_api = apigw.RestApi(
            self,
            "Api",
            description="Friend API: reads, writes and the page",
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
                method_options={
                    WRITE_ROUTE: apigw.MethodDeploymentOptions(
                        throttling_rate_limit=WRITE_THROTTLING_RATE_LIMIT,
                        throttling_burst_limit=WRITE_THROTTLING_BURST_LIMIT,
                    )
                },
            ),
        )
        # Path parameters of the GETs, the body of the POST.
        self.validator = self.rest_api.add_request_validator(
            "Requests", validate_request_parameters=True, validate_request_body=True
        )
        self._read_routes(read)
        self._write_route(write, player_pool)
        self.rest_api.root.add_resource(API_DOCUMENT_PATH.lstrip("/")).add_method(
            "GET", apigw.LambdaIntegration(write, allow_test_invoke=False)
        )
        self._page_routes(page)
        self._acknowledge()

    def _read_routes(self, function: lambda_.IFunction) -> None:
        integration = apigw.LambdaIntegration(function, allow_test_invoke=False)

        def get(resource: apigw.IResource, *path_parameters: str) -> None:
            resource.add_method(
                "GET",
                integration,
                request_parameters={
                    f"method.request.path.{name}": True for name in path_parameters
                },
                request_validator=self.validator,
            )

        # The seed's routes, kept for existing clients. Their static `isFriend` resource shadows
        # `{playerId}`: a player named `isFriend` cannot be listed there (API Gateway answers 403).
        self.friends = self.rest_api.root.add_resource("friends")
        get(self.friends.add_resource("{playerId}"), "playerId")
        get(
            self.friends.add_resource("isFriend")
            .add_resource("{playerId}")
            .add_resource("{friendId}"),
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

    def _write_route(
        self, function: lambda_.IFunction, player_pool: cognito.IUserPool | None
    ) -> None:
        schema = request_model_schema()
        model = apigw.CfnModel(
            self,
            "FriendMessageModel",
            rest_api_id=self.rest_api.rest_api_id,
            name=MESSAGE_MODEL,
            content_type="application/json",
            description="A friend action in the front queue's wire format",
            schema=schema,
        )
        deployment = self.rest_api.latest_deployment
        assert deployment is not None  # RestApi deploys by default
        # A stage validates with the models of its deployment: a changed schema must deploy anew.
        deployment.add_to_logical_id({MESSAGE_MODEL: schema})
        bad_body = self.rest_api.add_gateway_response(
            "BadRequestBody",
            type=apigw.ResponseType.BAD_REQUEST_BODY,
            status_code="400",
            templates={"application/json": BAD_REQUEST_BODY_TEMPLATE},
        )
        # Gateway responses, too, take effect through a deployment made after them.
        deployment.node.add_dependency(bad_body)
        deployment.add_to_logical_id({"BadRequestBody": BAD_REQUEST_BODY_TEMPLATE})
        authorizer = (
            None
            if player_pool is None
            else apigw.CognitoUserPoolsAuthorizer(
                self, "PlayerAuthorizer", cognito_user_pools=[player_pool]
            )
        )
        self.friends.add_method(
            "POST",
            apigw.LambdaIntegration(function, allow_test_invoke=False),
            request_validator=self.validator,
            request_models={
                "application/json": apigw.Model.from_model_name(self, "FriendMessage", model.ref)
            },
            authorizer=authorizer,
            authorization_type=None if authorizer is None else apigw.AuthorizationType.COGNITO,
        )

    def _page_routes(self, function: lambda_.IFunction) -> None:
        integration = apigw.LambdaIntegration(function, allow_test_invoke=False)
        for path in PAGE_FILES:
            self.rest_api.root.resource_for_path(path).add_method("GET", integration)

    def _acknowledge(self) -> None:
        Validations.of(self.rest_api).acknowledge(
            Acknowledgment(
                id="AwsSolutions-APIG4",
                reason="Reads and the page are public by design (as the original sample): "
                "friend lists are readable by game clients, and so are the page and the API's "
                "document. POST /friends asks for a token of player_pool (a Cognito authorizer "
                "whose subject must be the acting player), which the app gives it unless it "
                "is deployed with friend:openWriteApi=true.",
            ),
            Acknowledgment(
                id="AwsSolutions-COG4",
                reason="Cognito only on POST /friends and only with player_pool: see "
                "AwsSolutions-APIG4.",
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
