"""Integration test: the friend microservice deployed, driven and read back, then destroyed.

integ-runner synthesizes this app, deploys the stack under test and an assertion stack whose
custom resources make the calls below against the live resources, then destroys both.

Every scenario uses its own players, so scenarios share nothing and CloudFormation may run
them side by side; `.next()` orders steps only inside a scenario, where order is the point.
Waits poll every second (a local run settles in well under a second per step) with totals
that hold on AWS, where event source mappings can take tens of seconds to deliver.

One file for all scenarios, on purpose: integ-runner deploys each test file as its own pair of
stacks, so a file per scenario would multiply the deployments. The set-up
and the calls the scenarios share are :class:`friend_integ.case.FriendCase`.
"""

import json
from urllib.parse import quote

from aws_cdk.integ_tests_alpha import ExpectedResult, IApiCall, Match
from friend_handlers.logic.message import InvalidReason
from friend_integ.case import FriendCase
from friend_models import FRIEND_ID, LAST_UPDATED, PLAYER_ID, STATE, State

case = FriendCase("FriendMicroservices")
stack, assertions, API = case.stack, case.assertions, case.api
send, row_count, eventually = case.send, case.row_count, case.eventually
row_becomes, row_gone = case.row_becomes, case.row_gone


def get(path: str) -> IApiCall:
    """GET a path of the API."""
    return assertions.http_api_call(API + path)


def post(player: str, friend: str, action: str) -> IApiCall:
    """POST one friend action to the write API, as a client without AWS credentials does."""
    body = {"player_id": player, "friend_id": friend, "friend_action": action}
    return assertions.http_api_call(
        API + "friends",
        method="POST",
        body=json.dumps(body),
        headers={"Content-Type": "application/json"},
    )


# The seed's chain: a request shows on both rows, and accepting it makes both rows Friends.
# Then the read API answers from the settled rows: the list, a friend and a stranger.
accepted = (
    send("alice", "bob", "Request")
    .next(row_becomes("alice", "bob", State.REQUESTED))
    .next(row_becomes("bob", "alice", State.PENDING))
    .next(send("bob", "alice", "Accept"))
    .next(row_becomes("bob", "alice", State.FRIENDS))
    .next(row_becomes("alice", "bob", State.FRIENDS))
)
accepted.next(
    eventually(
        get("friends/alice"),
        ExpectedResult.object_like(
            {
                "status": 200,
                "body": {
                    "items": Match.array_with(
                        [Match.object_like({FRIEND_ID: "bob", STATE: State.FRIENDS.value})]
                    )
                },
            }
        ),
    )
).next(
    eventually(
        get("friends/isFriend/alice/bob"),
        ExpectedResult.object_like({"status": 200, "body": {"isFriend": True}}),
    )
).next(
    eventually(
        get("friends/isFriend/alice/mallory"),
        ExpectedResult.object_like(
            {"status": 200, "body": {FRIEND_ID: "mallory", "isFriend": False}}
        ),
    )
)

# Ids travel percent-encoded in the path, as any client sends them: a name with accents and a
# space, and a player named `isFriend`, whom the seed's `/friends/{playerId}` cannot list (the
# static `/friends/isFriend` resource shadows it) but the `/players/...` routes can.
ZOE = "Zo\u00eb \u00dcnal"
ZOE_IN_PATH = quote(ZOE, safe="")  # Zo%C3%AB%20%C3%9Cnal
(
    send(ZOE, "isFriend", "Request")
    .next(row_becomes("isFriend", ZOE, State.PENDING))
    .next(send("isFriend", ZOE, "Accept"))
    .next(row_becomes(ZOE, "isFriend", State.FRIENDS))
    .next(
        eventually(
            get(f"friends/{ZOE_IN_PATH}"),
            ExpectedResult.object_like(
                {
                    "status": 200,
                    "body": {
                        "items": [
                            Match.object_like(
                                {PLAYER_ID: ZOE, FRIEND_ID: "isFriend", STATE: State.FRIENDS.value}
                            )
                        ]
                    },
                }
            ),
        )
    )
    .next(
        eventually(
            get("players/isFriend/friends"),
            ExpectedResult.object_like(
                {
                    "status": 200,
                    "body": {
                        "items": [
                            Match.object_like(
                                {PLAYER_ID: "isFriend", FRIEND_ID: ZOE, STATE: State.FRIENDS.value}
                            )
                        ]
                    },
                }
            ),
        )
    )
    .next(
        eventually(
            get(f"players/{ZOE_IN_PATH}/friends/isFriend"),
            ExpectedResult.object_like(
                {"status": 200, "body": {PLAYER_ID: ZOE, FRIEND_ID: "isFriend", "isFriend": True}}
            ),
        )
    )
)

# The write API: an action posted over HTTP is queued (202 with the queue's message id) and
# takes the same path as one sent to the queue; the other player's row follows.
(
    post("kim", "leo", "Request")
    .expect(
        ExpectedResult.object_like(
            {"status": 202, "body": {"messageId": Match.string_like_regexp(".+")}}
        )
    )
    .next(row_becomes("kim", "leo", State.REQUESTED))
    .next(row_becomes("leo", "kim", State.PENDING))
)

# A body outside the request model is refused by API Gateway itself with its JSON gateway
# response (AWS, LocalStack). MiniStack 1.5.33 drops a method's request validator when
# CloudFormation creates the method, so there the write function refuses it, in the model's
# words. One the model refuses for a rule JSON Schema cannot state is always the function's.
# A JSON 400 either way, and nothing reaches the queue.
post("mia", "ned", "Poke").expect(
    ExpectedResult.object_like(
        {
            "status": 400,
            "body": {
                "message": Match.string_like_regexp(
                    "^(Invalid request body|InvalidFields: friend_action: )"
                )
            },
        }
    )
).next(row_count("mia").expect(ExpectedResult.object_like({"Count": 0})))
post("oli", "oli", "Request").expect(
    ExpectedResult.object_like(
        {
            "status": 400,
            "body": {
                "reason": InvalidReason.SELF_REQUEST.value,
                "message": Match.string_like_regexp("player_id and friend_id must differ"),
            },
        }
    )
).next(row_count("oli").expect(ExpectedResult.object_like({"Count": 0})))

# Reject: the invitee deletes its Pending row, and the stream removes the requester's row.
(
    send("carol", "dave", "Request")
    .next(row_becomes("dave", "carol", State.PENDING))
    .next(send("dave", "carol", "Reject"))
    .next(row_gone("dave", "carol"))
    .next(row_gone("carol", "dave"))
)

# Unfriend: either friend leaves, and the stream removes the other side.
(
    send("erin", "frank", "Request")
    .next(row_becomes("frank", "erin", State.PENDING))
    .next(send("frank", "erin", "Accept"))
    .next(row_becomes("erin", "frank", State.FRIENDS))
    .next(send("erin", "frank", "Unfriend"))
    .next(row_gone("erin", "frank"))
    .next(row_gone("frank", "erin"))
)

# Mutual request: both players asked before the stream caught up, so both rows are Requested.
# Two queued messages cannot force that interleaving (the second request is refused once the
# reverse Pending row exists), so the crossing requests are written in one transaction, as the
# front function leaves them when it handles both first; the stream settles them as Friends.
# IAM has no TransactWriteItems action (integ-tests-alpha grants the call's name all the same):
# AWS authorizes each Put of a transaction as PutItem, so that is granted, on the table only.
crossing_requests = assertions.aws_api_call(
    "DynamoDB",
    "transactWriteItems",
    {
        "TransactItems": [
            {
                "Put": {
                    "TableName": stack.table_name,
                    "Item": {
                        PLAYER_ID: {"S": player},
                        FRIEND_ID: {"S": friend},
                        STATE: {"S": State.REQUESTED.value},
                        LAST_UPDATED: {"N": "1"},
                    },
                }
            }
            for player, friend in (("grace", "heidi"), ("heidi", "grace"))
        ]
    },
)
crossing_requests.provider.add_to_role_policy(
    {"Effect": "Allow", "Action": ["dynamodb:PutItem"], "Resource": [stack.table.table_arn]}
)
crossing_requests.next(row_becomes("grace", "heidi", State.FRIENDS)).next(
    row_becomes("heidi", "grace", State.FRIENDS)
)


def dead_lettered(marker: str, reason: InvalidReason) -> IApiCall:
    """Wait until a message whose body contains `marker` sits in the dead-letter queue,
    parked by the front function with `reason`.

    A zero visibility timeout leaves the message visible, so this wait and the other one on
    the same queue never hide a message from each other.
    """
    return eventually(
        assertions.aws_api_call(
            "SQS",
            "receiveMessage",
            {
                "QueueUrl": stack.dead_letter_queue_url,
                "MaxNumberOfMessages": 10,
                "VisibilityTimeout": 0,
                "WaitTimeSeconds": 1,
                "MessageAttributeNames": ["reason"],
            },
        ),
        ExpectedResult.object_like(
            {
                "Messages": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Body": Match.string_like_regexp(marker),
                                "MessageAttributes": {
                                    "reason": Match.object_like({"StringValue": reason.value})
                                },
                            }
                        )
                    ]
                )
            }
        ),
    )


# A self-request is refused: it ends in the dead-letter queue and writes nothing.
send("ivan", "ivan", "Request").next(dead_lettered("ivan", InvalidReason.SELF_REQUEST)).next(
    row_count("ivan").expect(ExpectedResult.object_like({"Count": 0}))
)

# A message that is not even JSON is never retried forever nor lost: it is dead-lettered.
assertions.aws_api_call(
    "SQS",
    "sendMessage",
    {"QueueUrl": stack.queue_url, "MessageBody": "judy wants to be friends with everyone"},
).next(dead_lettered("judy wants to be friends", InvalidReason.NOT_JSON))

case.app.synth()
