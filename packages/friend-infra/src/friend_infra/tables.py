"""The service's two DynamoDB tables: the Friend table, and the front's record of handled messages.

The Friend table is built as friend-models defines it (key names, billing, stream view), since
the stream filters match on both images and every handler reads and writes through the model.
The idempotency table is the front function's alone: it remembers the messages it has handled,
so that a redelivered copy acts no more. Both hold data, so both take the stack's removal policy
and keep point-in-time recovery.
"""

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct
from friend_handlers.contract import IDEMPOTENCY_EXPIRY_ATTRIBUTE, IDEMPOTENCY_KEY_ATTRIBUTE
from friend_models import FRIEND_ID, PLAYER_ID, Friend


def friend_table(scope: Construct, removal_policy: RemovalPolicy) -> dynamodb.Table:
    """The Friend table (construct id ``Table``), with the stream the stream handlers read."""
    return dynamodb.Table(
        scope,
        "Table",
        partition_key=dynamodb.Attribute(name=PLAYER_ID, type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name=FRIEND_ID, type=dynamodb.AttributeType.STRING),
        # As the model defines them (the stream filters match on both images).
        billing_mode=dynamodb.BillingMode(Friend.Meta.billing_mode),
        stream=dynamodb.StreamViewType(Friend.Meta.stream_view_type),
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        removal_policy=removal_policy,
    )


def idempotency_table(scope: Construct, removal_policy: RemovalPolicy) -> dynamodb.Table:
    """The messages the front function has handled (construct id ``IdempotencyTable``).

    So that a redelivered copy acts no more (friend_handlers.redelivery, Powertools
    Idempotency); DynamoDB's TTL forgets them.
    """
    return dynamodb.Table(
        scope,
        "IdempotencyTable",
        partition_key=dynamodb.Attribute(
            name=IDEMPOTENCY_KEY_ATTRIBUTE, type=dynamodb.AttributeType.STRING
        ),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        time_to_live_attribute=IDEMPOTENCY_EXPIRY_ATTRIBUTE,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        removal_policy=removal_policy,
    )
