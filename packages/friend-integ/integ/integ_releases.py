"""Integration test: functions on different releases, deployed side by side.

The stack runs `read` on the oldest friend-handlers release in the store (`releases/`),
`accept_state` on the newest, and the other functions on the working tree. Against the live
stack it asserts what each function's `live` alias serves (the description of its published
version names the code), that the read API answers with its release's
`X-Friend-Handlers-Version`, and that the seed's chain still settles through the mix: front and
request_state from the working tree, accept_state from the newest release, read from the oldest.
"""

from aws_cdk.integ_tests_alpha import ExpectedResult, Match
from friend_handlers.contract import VERSION_HEADER
from friend_handlers.filters import HANDLERS
from friend_infra.pins import HANDLER_PACKAGE
from friend_infra.releases import STORE_DIR, ReleaseStore
from friend_infra.workspace import workspace_root
from friend_integ.case import FriendCase
from friend_models import FRIEND_ID, STATE, State

RELEASES = ReleaseStore(workspace_root() / STORE_DIR).versions(HANDLER_PACKAGE)
OLDEST, NEWEST = RELEASES[0], RELEASES[-1]
PINS = {"read": OLDEST, "accept_state": NEWEST}
"""Functions pinned to releases; the others run the working tree."""

case = FriendCase("FriendReleases", pins=PINS)
stack, assertions = case.stack, case.assertions
send, row_becomes, eventually = case.send, case.row_becomes, case.eventually


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
            assertions.http_api_call(case.api + "players/kim/friends"),
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

case.app.synth()
