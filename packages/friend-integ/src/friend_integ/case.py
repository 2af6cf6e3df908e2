"""What every integ test of the friend stack sets up, once: the stack under test beside its
assertion stack, the ``IntegTest`` that deploys both, and the calls its assertions make on the
live resources (a friend action on the front queue, a row read back, a wait, the API's URL).
"""

import json
import sys
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from aws_cdk import App, Aws, CfnCondition, CfnResource, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import cloud_assembly_schema as cas
from aws_cdk.integ_tests_alpha import ExpectedResult, IApiCall, IDeployAssert, IntegTest, Match
from friend_infra.stack import FriendMicroservicesStack
from friend_models import FRIEND_ID, PLAYER_ID, STATE, State

from friend_integ import waits
from friend_integ.diagnose import ASSERTION_METADATA

POLL = Duration.seconds(waits.POLL_SECONDS)
PATIENCE = Duration.seconds(waits.patience())
"""Total of every wait, by target (see :mod:`friend_integ.waits`)."""
REPLACED_ON_EVERY_CHANGE = ["AWS::Lambda::Version", "AWS::ApiGateway::Deployment"]
"""Resources a change replaces by design, so integ-runner must not call their replacement
destructive: a published version is immutable (a code change publishes another and the alias
moves to it), and the API's deployment is a snapshot of its routes (a route change creates
another and the stage moves to it)."""


class FriendCase:
    """``<name>Integ`` (the stack under test, destroyed with its data) and
    ``<name>IntegAssertions``, deployed to ``us-east-1`` by the ``IntegTest`` ``<name>``.

    Every run deploys from scratch (there is no earlier version worth updating from), and
    destroy is forced so that a failed run leaves no stack behind asking for confirmation.
    """

    def __init__(self, name: str, *, pins: Mapping[str, str] | None = None) -> None:
        self.app = App()
        self.stack = FriendMicroservicesStack(
            self.app, f"{name}Integ", removal_policy=RemovalPolicy.DESTROY, pins=pins
        )
        self.assertion_stack = Stack(self.app, f"{name}IntegAssertions")
        self.integ = IntegTest(
            self.app,
            name,
            test_cases=[self.stack],
            assertion_stack=self.assertion_stack,
            cdk_command_options=cas.CdkCommands(
                destroy=cas.DestroyCommand(args=cas.DestroyOptions(force=True))
            ),
            stack_update_workflow=False,
            allow_destroy=REPLACED_ON_EVERY_CHANGE,
        )
        self.assertions = LabelledAssertions(self.integ.assertions)

    def send(self, player: str, friend: str, action: str) -> IApiCall:
        """Put one friend action on the front queue, in the client's wire format."""
        body = {"player_id": player, "friend_id": friend, "friend_action": action}
        return self.assertions.aws_api_call(
            "SQS",
            "sendMessage",
            {"QueueUrl": self.stack.queue_url, "MessageBody": json.dumps(body)},
            players=(player, friend),
        )

    def row_count(self, player: str, friend: str | None = None) -> IApiCall:
        """Count a player's rows, or the one row of a pair: absence is a count of zero."""
        condition = f"{PLAYER_ID} = :p"
        values = {":p": {"S": player}}
        if friend is not None:
            condition += f" AND {FRIEND_ID} = :f"
            values[":f"] = {"S": friend}
        return self.assertions.aws_api_call(
            "DynamoDB",
            "query",
            {
                "TableName": self.stack.table_name,
                "KeyConditionExpression": condition,
                "ExpressionAttributeValues": values,
                "ConsistentRead": True,
            },
            players=(player,) if friend is None else (player, friend),
        )

    @staticmethod
    def eventually(call: IApiCall, expected: ExpectedResult) -> IApiCall:
        """Poll ``call`` until its result matches ``expected``."""
        return call.expect(expected).wait_for_assertions(
            interval=POLL, total_timeout=PATIENCE, backoff_rate=1
        )

    def row_becomes(self, player: str, friend: str, state: State) -> IApiCall:
        """Wait until the row (player, friend) exists in ``state``."""
        item = {PLAYER_ID: {"S": player}, FRIEND_ID: {"S": friend}, STATE: {"S": state.value}}
        return self.eventually(
            self.row_count(player, friend),
            ExpectedResult.object_like({"Count": 1, "Items": [Match.object_like(item)]}),
        )

    def row_gone(self, player: str, friend: str) -> IApiCall:
        """Wait until the row (player, friend) no longer exists."""
        return self.eventually(
            self.row_count(player, friend), ExpectedResult.object_like({"Count": 0})
        )

    @cached_property
    def api(self) -> str:
        """Base URL of the API's stage, as the assertion functions reach it (see
        :func:`api_base_url`); one condition per assertion stack, hence cached."""
        return api_base_url(self.assertion_stack, self.stack)


class LabelledAssertions:
    """The test's assertions (integ-tests-alpha's ``IDeployAssert``), each call labelled with
    the line of the test file that built it and its players, so that a failure report can name
    it and show those players' logs (see :mod:`friend_integ.diagnose`)."""

    def __init__(self, assertions: IDeployAssert) -> None:
        self._assertions = assertions

    def aws_api_call(
        self,
        service: str,
        api: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        players: Sequence[str] = (),
    ) -> IApiCall:
        """An AWS SDK call against the live resources."""
        return _labelled(self._assertions.aws_api_call(service, api, parameters), players)

    def http_api_call(self, url: str, *, players: Sequence[str] = (), **options: Any) -> IApiCall:
        """An HTTP request (``options``: method, body, headers) to the deployed API."""
        return _labelled(self._assertions.http_api_call(url, **options), players)


def _call_site() -> str:
    """`<test file>:<line>` of the statement of the test app being run that is building now.

    The app runs as ``__main__``; its module-level frame is at the line of the statement (of
    the sub-expression, for a chain spread over several lines) that led here.
    """
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == "__main__":
            return f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return "unknown"


def _labelled(call: IApiCall, players: Sequence[str]) -> IApiCall:
    label = {"source": _call_site(), "players": list(players)}
    for child in call.node.find_all():
        if CfnResource.is_cfn_resource(child):
            resource: CfnResource = child  # type: ignore[assignment]
            if resource.cfn_resource_type.startswith("Custom::DeployAssert"):
                resource.add_metadata(ASSERTION_METADATA, label)
    return call


def api_base_url(assertion_stack: Stack, stack: FriendMicroservicesStack) -> str:
    """Base URL of the API's stage, as the assertion functions can reach it.

    On AWS that is the stage URL. An emulator hands out the same URL with its own host in
    place of `amazonaws.com` (LocalStack: `https://<id>.execute-api.127.0.0.1:4566/prod/`),
    which resolves only where the emulator runs a DNS server for it (LocalStack in Docker),
    and not at all for an emulator on the host. Every emulator of API Gateway also serves a
    stage on its own gateway by path (`/_aws/execute-api/<id>/<stage>/` in LocalStack), and
    its gateway's host and port are those of the queue URLs it hands out. CloudFormation
    picks the branch at deploy time, so the template is the same for every target.
    """
    on_aws = CfnCondition(
        assertion_stack,
        "OnAws",
        expression=Fn.condition_or(
            Fn.condition_equals(Aws.URL_SUFFIX, "amazonaws.com"),
            Fn.condition_equals(Aws.URL_SUFFIX, "amazonaws.com.cn"),
        ),
    )
    gateway = Fn.select(2, Fn.split("/", stack.queue_url))
    emulated = Fn.join(
        "",
        [
            "http://",
            gateway,
            "/_aws/execute-api/",
            stack.api.rest_api_id,
            "/",
            stack.api.deployment_stage.stage_name,
            "/",
        ],
    )
    return Fn.condition_if(on_aws.logical_id, stack.api_url, emulated).to_string()
