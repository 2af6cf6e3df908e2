"""The service's SQS queues: the front queue clients send actions to, and where failed work waits.

Two failure queues keep what could not be done for investigation and replay: the front queue's
dead-letter queue (messages that could not be applied) and the stream mappings' on-failure
queue (stream batches given up on). All three are encrypted by SQS and refuse plain HTTP.
"""

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from friend_handlers.contract import REMEMBER_SECONDS

from friend_infra.sizing import FRONT_TIMEOUT

FRONT_MAX_RECEIVE_COUNT = 5
"""Deliveries before the redrive policy moves a message to the DLQ. Invalid messages go there
directly (sent by the front function), so only a transient error or a bug retries: five
attempts ride out a throttling burst or a short outage (AWS recommends at least 5 for Lambda
consumers) while a genuinely poisoned message reaches the DLQ within minutes."""


def failure_queue(scope: Construct, construct_id: str, removal_policy: RemovalPolicy) -> sqs.Queue:
    """A queue where failed work waits to be investigated and replayed."""
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),  # the maximum: time to investigate and replay
        removal_policy=removal_policy,
    )


def front_queue(scope: Construct, dead_letter_queue: sqs.IQueue) -> sqs.Queue:
    """The front queue (construct id ``Queue``), redriving to ``dead_letter_queue``."""
    return sqs.Queue(
        scope,
        "Queue",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        # AWS: at least six times the function timeout, so a batch that is being retried
        # inside Lambda does not become visible to a second consumer.
        visibility_timeout=Duration.seconds(6 * FRONT_TIMEOUT.to_seconds()),
        # SQS's default, stated because the front remembers handled messages exactly this
        # long: no copy of a message outlives the record of its first delivery.
        retention_period=Duration.seconds(REMEMBER_SECONDS),
        dead_letter_queue=sqs.DeadLetterQueue(
            queue=dead_letter_queue, max_receive_count=FRONT_MAX_RECEIVE_COUNT
        ),
    )


def stream_failure_queue(scope: Construct, removal_policy: RemovalPolicy) -> sqs.Queue:
    """The stream mappings' on-failure destination (construct id ``StreamFailureQueue``)."""
    queue = failure_queue(scope, "StreamFailureQueue", removal_policy)
    Validations.of(queue).acknowledge(
        Acknowledgment(
            id="AwsSolutions-SQS3",
            reason="This queue is the stream mappings' on-failure destination, a dead-letter "
            "queue that cdk-nag does not recognize as one (it only sees redrive policies).",
        )
    )
    return queue
