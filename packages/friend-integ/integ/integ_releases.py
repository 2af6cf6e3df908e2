"""Integration test: functions on different releases, deployed side by side.

The stack runs `read` on the oldest friend-handlers release in the store (`releases/`),
`accept_state` on the newest, and the other functions on the working tree. Against the live
stack it asserts what each function's `live` alias serves (the description of its published
version names the code), that the read API answers with its release's
`X-Friend-Handlers-Version`, and that the seed's chain still settles through the mix: front and
request_state from the working tree, accept_state from the newest release, read from the oldest.
"""

import json

from aws_cdk import App, Duration, RemovalPolicy, Stack
from aws_cdk import cloud_assembly_schema as cas
from aws_cdk.integ_tests_alpha import ExpectedResult, IApiCall, IntegTest, Match
from friend_handlers.contract import VERSION_HEADER
from friend_handlers.filters import HANDLERS
from friend_infra.bundling import workspace_root
from friend_infra.releases import HANDLER_PACKAGE, STORE_DIR, ReleaseStore
from friend_infra.stack import FriendMicroservicesStack
from friend_integ.stage import api_base_url
from friend_models import FRIEND_ID, PLAYER_ID, STATE, State

POLL = Duration.seconds(1)
PATIENCE = Duration.minutes(3)
RELEASES = ReleaseStore(workspace_root() / STORE_DIR).versions(HANDLER_PACKAGE)
OLDEST, NEWEST = RELEASES[0], RELEASES[-1]
PINS = {"read": OLDEST, "accept_state": NEWEST}
"""Functions pinned to releases; the others run the working tree."""

app = App()
stack = FriendMicroservicesStack(
    app,
    "FriendReleasesInteg",
    removal_policy=RemovalPolicy.DESTROY,
    pins=PINS,
)
assertion_stack = Stack(app, "FriendReleasesIntegAssertions")
integ = IntegTest(
    app,
    "FriendReleases",
    test_cases=[stack],
    assertion_stack=assertion_stack,
    regions=["us-east-1"],
    cdk_command_options=cas.CdkCommands(
        destroy=cas.DestroyCommand(args=cas.DestroyOptions(force=True))
    ),
    stack_update_workflow=False,
)
assertions = integ.assertions


def eventually(call: IApiCall, expected: ExpectedResult) -> IApiCall:
    return call.expect(expected).wait_for_assertions(
        interval=POLL, total_timeout=PATIENCE, backoff_rate=1
    )


def send(player: str, friend: str, action: str) -> IApiCall:
    body = {"player_id": player, "friend_id": friend, "friend_action": action}
    return assertions.aws_api_call(
        "SQS", "sendMessage", {"QueueUrl": stack.queue_url, "MessageBody": json.dumps(body)}
    )


def row_becomes(player: str, friend: str, state: State) -> IApiCall:
    item = {PLAYER_ID: {"S": player}, FRIEND_ID: {"S": friend}, STATE: {"S": state.value}}
    return eventually(
        assertions.aws_api_call(
            "DynamoDB",
            "getItem",
            {
                "TableName": stack.table_name,
                "Key": {PLAYER_ID: {"S": player}, FRIEND_ID: {"S": friend}},
                "ConsistentRead": True,
            },
        ),
        ExpectedResult.object_like({"Item": Match.object_like(item)}),
    )


# What each function's live alias serves: the published version names the code it runs.
# (GetFunction: LocalStack's GetFunctionConfiguration does not resolve an alias qualifier.)
for handler in HANDLERS:
    assertions.aws_api_call(
        "Lambda",
        "getFunction",
        {"FunctionName": stack.functions[handler].function.function_name, "Qualifier": "live"},
    ).expect(
        ExpectedResult.object_like(
            {
                "Configuration": {
                    "Description": stack.pinned[handler].label,  # friend-handlers 0.1.0[+workspace]
                    "Version": Match.string_like_regexp("^[0-9]+$"),  # a published version
                }
            }
        )
    )

# The seed's chain through the mix, then the read API (on the oldest release) answers and says
# so.
(
    send("kim", "lee", "Request")
    .next(row_becomes("lee", "kim", State.PENDING))
    .next(send("lee", "kim", "Accept"))
    .next(row_becomes("kim", "lee", State.FRIENDS))
    .next(
        eventually(
            assertions.http_api_call(api_base_url(assertion_stack, stack) + "players/kim/friends"),
            ExpectedResult.object_like(
                {
                    "status": 200,
                    "headers": {VERSION_HEADER.lower(): [OLDEST]},
                    "body": {
                        "items": [Match.object_like({FRIEND_ID: "lee", STATE: State.FRIENDS.value})]
                    },
                }
            ),
        )
    )
)

app.synth()
