"""Integration test: functions on different releases, deployed side by side.

The stack runs `read` on the oldest friend-handlers release in the store (`releases/`),
`accept_state` on the oldest release whose stream protocol the working tree accepts, and the
other functions on the working tree. That is the mix synth's compatibility check accepts:
`read` writes no rows, so any release serves it; `accept_state` writes the Friend table, so its
release's protocol must be at least the oldest one the working tree's table writers accept
(0.2.0, protocol 2; 0.1.0, protocol 1 without exchange ids, is refused).

Against the live stack it asserts what each function's `live` alias serves (the description of
its published version names the code: `friend-handlers 0.2.0` for accept_state), that an
exchange completes THROUGH the older stream function (Request: Requested and Pending; Accept:
the acceptor's row Friends from the working tree's front, the requester's row Friends only
through accept_state, which no other function writes), and that the read API answers from its
release with its `X-Friend-Handlers-Version`.
"""

from aws_cdk.integ_tests_alpha import ExpectedResult, Match
from friend_handlers.contract import VERSION_HEADER
from friend_handlers.filters import HANDLERS
from friend_infra.compatibility import protocol_disagreement
from friend_infra.pins import HANDLER_PACKAGE, resolve_pins
from friend_infra.releases import STORE_DIR, ReleaseStore
from friend_infra.workspace import workspace_root
from friend_integ.case import FriendCase
from friend_models import FRIEND_ID, STATE, State

ROOT = workspace_root()
STORE = ReleaseStore(ROOT / STORE_DIR)
RELEASES = STORE.versions(HANDLER_PACKAGE)
OLDEST = RELEASES[0]
OLDER_STREAM = next(
    version
    for version in RELEASES
    if not protocol_disagreement(resolve_pins(STORE, ROOT, {"accept_state": version}))
)
"""The oldest release whose accept_state may run beside the working tree's table writers."""
PINS = {"read": OLDEST, "accept_state": OLDER_STREAM}
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

# An exchange through the mix: the requester's row becomes Friends only through accept_state
# on the older release; then the read API (on the oldest release) answers and says so.
(
    send("kim", "lee", "Request")
    .next(row_becomes("lee", "kim", State.PENDING))
    .next(row_becomes("kim", "lee", State.REQUESTED))
    .next(send("lee", "kim", "Accept"))
    .next(row_becomes("lee", "kim", State.FRIENDS))
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
