"""What invokes the queue and stream functions: their event source mappings, and how each retries.

The front function takes the front queue; each stream function takes the Friend table's stream
through its own filter. Every mapping targets the function's ``live`` alias and reports partial
batch failures, so only what failed is retried; what is given up on waits in a failure queue
(:mod:`friend_infra.queues`) instead of being lost.
"""

import json
from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs

from friend_infra.sizing import FRONT_MAX_CONCURRENCY

FRONT_BATCH_SIZE = 10
"""The SQS maximum without a batching window. Each message is one conditional write, so ten fit
easily in FRONT_TIMEOUT, and partial batch responses retry only the failed ones."""

STREAM_BATCH_SIZE = 25
"""Records per stream invocation: small, so a failing record and the records after it (partial
batch response) are retried quickly, yet enough to keep up with bursts on a busy shard."""
STREAM_RETRY_ATTEMPTS = 5
"""Retries of a failing batch before it goes to the on-failure queue. A stream shard blocks
behind a failing record, so retries must be bounded; bisecting isolates the bad record first."""
STREAM_MAX_RECORD_AGE = Duration.hours(1)
"""A record older than this goes to the on-failure queue instead of holding up its shard for the
stream's 24 h retention: a friend request settled an hour late is worse than an alert."""


def consume_queue(alias: lambda_.Alias, queue: sqs.IQueue) -> None:
    """Let the front function (its ``alias``) take the front queue's messages in batches."""
    alias.add_event_source(
        sources.SqsEventSource(
            queue,
            batch_size=FRONT_BATCH_SIZE,
            # No batching window: an interactive action should apply at once, and the
            # queue's traffic is not large enough for batching to save meaningful cost.
            max_batching_window=Duration.seconds(0),
            report_batch_item_failures=True,
            max_concurrency=FRONT_MAX_CONCURRENCY,
        )
    )


def consume_stream(
    alias: lambda_.Alias, table: dynamodb.ITable, failure_queue: sqs.IQueue, pattern: Any
) -> None:
    """Let a stream function (its ``alias``) take the records of ``table``'s stream that match
    its filter ``pattern``; batches given up on go to ``failure_queue``."""
    alias.add_event_source(
        sources.DynamoEventSource(
            table,
            # Every record from the stream's oldest: a mapping created or replaced after
            # writes began loses nothing, and replays are harmless because every
            # transition is a conditional write.
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=STREAM_BATCH_SIZE,
            max_batching_window=Duration.seconds(0),
            bisect_batch_on_error=True,
            retry_attempts=STREAM_RETRY_ATTEMPTS,
            max_record_age=STREAM_MAX_RECORD_AGE,
            # Records given up on are kept (their stream coordinates) for replay.
            on_failure=sources.SqsDlq(failure_queue),
            report_batch_item_failures=True,
            filters=[_filter(pattern)],
        )
    )


def _filter(pattern: Any) -> Mapping[str, Any]:
    """A stream filter pattern (Lambda/EventBridge syntax) as ``FilterCriteria``."""
    plain: dict[str, Any] = json.loads(json.dumps(pattern))  # Mapping -> dict for jsii
    return lambda_.FilterCriteria.filter(plain)
