"""FriendMicroservicesStack: the production shape of the friend microservice.

client -> front queue -> front -> Friend table -> stream -> four filtered stream handlers;
client -> read API -> read -> Friend table. Environment-agnostic (no account or region), so the
same stack deploys to any account, to LocalStack, and into integration tests.

Each function runs the code it is pinned to (:mod:`friend_infra.releases`): a friend-handlers
release from the store, or the working tree (the default, what tests deploy). Functions pinned
alike share one asset; a mix of releases is checked against what this stack wires before
anything is bundled.
"""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import (
    Acknowledgment,
    CfnOutput,
    Duration,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from friend_handlers import contract
from friend_handlers.dead_letter import DLQ_URL_ENV
from friend_handlers.filters import HANDLERS, STREAM_FILTERS
from friend_models import FRIEND_ID, PLAYER_ID, TABLE_CONTRACT_ID

from friend_infra.api import ReadApi
from friend_infra.bundling import package_code, release_code, workspace_root
from friend_infra.functions import HandlerFunction, function_environment
from friend_infra.releases import (
    HANDLER_PACKAGE,
    MODELS_PACKAGE,
    STORE_DIR,
    WORKSPACE,
    Pinned,
    ReleaseStore,
    Wiring,
    check_compatible,
    pinned_release,
    workspace_version,
)

FRONT_TIMEOUT = Duration.seconds(15)
"""Ten conditional single-row writes take well under a second; the rest absorbs a cold start
and DynamoDB's own retries of a throttled write."""
STREAM_TIMEOUT = Duration.seconds(30)
"""Up to STREAM_BATCH_SIZE records, each a read plus a write or a transaction that the handler
may retry on a transaction conflict."""
READ_TIMEOUT = Duration.seconds(10)
"""A query of one page or one GetItem; API Gateway itself gives up after 29 s."""
MEMORY_MB = 256
"""Powertools, pydantic and PynamoDB import in well under a second at this size; Lambda's CPU
share grows with memory, so less would slow cold starts more than it saves."""

FRONT_BATCH_SIZE = 10
"""The SQS maximum without a batching window. Each message is one conditional write, so ten fit
easily in FRONT_TIMEOUT, and partial batch responses retry only the failed ones."""
FRONT_MAX_RECEIVE_COUNT = 5
"""Deliveries before the redrive policy moves a message to the DLQ. Invalid messages go there
directly (sent by the front function), so only a transient error or a bug retries: five
attempts ride out a throttling burst or a short outage (AWS recommends at least 5 for Lambda
consumers) while a genuinely poisoned message reaches the DLQ within minutes."""

STREAM_BATCH_SIZE = 25
"""Records per stream invocation: small, so a failing record and the records after it (partial
batch response) are retried quickly, yet enough to keep up with bursts on a busy shard."""
STREAM_RETRY_ATTEMPTS = 5
"""Retries of a failing batch before it goes to the on-failure queue. A stream shard blocks
behind a failing record, so retries must be bounded; bisecting isolates the bad record first."""
STREAM_MAX_RECORD_AGE = Duration.hours(1)
"""A record older than this goes to the on-failure queue instead of holding up its shard for the
stream's 24 h retention: a friend request settled an hour late is worse than an alert."""


def _filter(pattern: Any) -> Mapping[str, Any]:
    """A stream filter pattern (Lambda/EventBridge syntax) as ``FilterCriteria``."""
    plain: dict[str, Any] = json.loads(json.dumps(pattern))  # Mapping -> dict for jsii
    return lambda_.FilterCriteria.filter(plain)


class FriendMicroservicesStack(Stack):
    """Friend table, front queue with its DLQ, six functions, stream mappings and the read API."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        pins: Mapping[str, str] | None = None,
        release_store: Path | None = None,
        canary: bool = False,
        **stack_kwargs: Any,
    ) -> None:
        """``removal_policy`` applies to what holds data (table, failure queues, log groups):
        retain in production, destroy for test stacks.

        ``pins``: function (handler name) -> a released friend-handlers version or
        ``"workspace"``; functions not named run the working tree. ``release_store``: where the
        releases are (default: ``releases/`` of the workspace). ``canary``: shift traffic to a
        new version through CodeDeploy with alarms and rollback (real AWS only).
        """
        super().__init__(scope, construct_id, **stack_kwargs)
        root = workspace_root()
        store = ReleaseStore(release_store or root / STORE_DIR)
        unknown = sorted(set(pins or {}) - set(HANDLERS))
        if unknown:
            raise ValueError(f"pins for unknown functions {unknown}; the functions: {HANDLERS}")
        self.pinned: dict[str, Pinned] = {
            handler: _pinned(store, root, (pins or {}).get(handler, WORKSPACE))
            for handler in HANDLERS
        }

        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PLAYER_ID, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=FRIEND_ID, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            # The stream handlers need both images: the filters match on old and new state.
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=removal_policy,
        )

        self.dead_letter_queue = self._failure_queue("DeadLetterQueue", removal_policy)
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            # AWS: at least six times the function timeout, so a batch that is being retried
            # inside Lambda does not become visible to a second consumer.
            visibility_timeout=Duration.seconds(6 * FRONT_TIMEOUT.to_seconds()),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=FRONT_MAX_RECEIVE_COUNT
            ),
        )
        self.stream_failure_queue = self._failure_queue("StreamFailureQueue", removal_policy)
        Validations.of(self.stream_failure_queue).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="This queue is the stream mappings' on-failure destination, a dead-letter "
                "queue that cdk-nag does not recognize as one (it only sees redrive policies).",
            )
        )

        extra_environment = {
            handler: {DLQ_URL_ENV: self.dead_letter_queue.queue_url} if handler == "front" else {}
            for handler in HANDLERS
        }
        check_compatible(
            self.pinned,
            Wiring(
                table_contract=TABLE_CONTRACT_ID,
                stream_filters=STREAM_FILTERS,
                environment={
                    handler: frozenset(function_environment(self.table, extra))
                    for handler, extra in extra_environment.items()
                },
            ),
        )
        deployments = codedeploy.LambdaApplication(self, "Deployments") if canary else None
        # One asset per distinct pin: functions on the same release share it.
        codes: dict[str, lambda_.Code] = {}
        for pinned in self.pinned.values():
            if pinned.version not in codes:
                codes[pinned.version] = (
                    package_code(HANDLER_PACKAGE, root=root)
                    if pinned.release is None
                    else release_code(pinned.release, store, root=root)
                )

        def function(handler: str, timeout: Duration) -> HandlerFunction:
            pinned = self.pinned[handler]
            return HandlerFunction(
                self,
                handler.title().replace("_", ""),
                handler=handler,
                code=codes[pinned.version],
                table=self.table,
                timeout=timeout,
                memory_size=MEMORY_MB,
                removal_policy=removal_policy,
                version=pinned.label,
                environment=extra_environment[handler],
                canary=deployments,
            )

        front = function("front", FRONT_TIMEOUT)
        # Invalid messages are sent straight to the DLQ: SendMessage only (SQS-managed
        # encryption needs no KMS permission).
        front.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sqs:SendMessage"], resources=[self.dead_letter_queue.queue_arn]
            )
        )
        front.alias.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=FRONT_BATCH_SIZE,
                # No batching window: an interactive action should apply at once, and the
                # queue's traffic is not large enough for batching to save meaningful cost.
                max_batching_window=Duration.seconds(0),
                report_batch_item_failures=True,
            )
        )

        self.functions: dict[str, HandlerFunction] = {"front": front}
        # One mapping per stream handler, as the design routes by filter. Known trade-off: AWS
        # advises at most two readers per stream shard; four pollers share the GetRecords limit
        # and may see throttled reads (retried by Lambda, adding latency under load). If that
        # shows, the remedy is one mapping with an in-code dispatch on the same patterns, or
        # Kinesis Data Streams for DynamoDB with enhanced fan-out.
        for handler, pattern in STREAM_FILTERS.items():
            stream_function = function(handler, STREAM_TIMEOUT)
            stream_function.alias.add_event_source(
                sources.DynamoEventSource(
                    self.table,
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
                    on_failure=sources.SqsDlq(self.stream_failure_queue),
                    report_batch_item_failures=True,
                    filters=[_filter(pattern)],
                )
            )
            self.functions[handler] = stream_function

        read = function("read", READ_TIMEOUT)
        self.functions["read"] = read
        read_api = ReadApi(self, "ReadApi", function=read.alias, removal_policy=removal_policy)
        self.api = read_api.rest_api

        CfnOutput(self, "QueueUrl", value=self.queue_url, description="Send friend actions here")
        CfnOutput(
            self,
            "DeadLetterQueueUrl",
            value=self.dead_letter_queue_url,
            description="Front messages that could not be applied",
        )
        CfnOutput(
            self,
            "StreamFailureQueueUrl",
            value=self.stream_failure_queue.queue_url,
            description="Stream batches given up on",
        )
        CfnOutput(self, "TableName", value=self.table_name, description="Friend table")
        CfnOutput(self, "ApiUrl", value=self.api_url, description="Read API base URL")
        CfnOutput(
            self,
            "ApiId",
            value=self.api.rest_api_id,
            description="Read API id (LocalStack: /restapis/<id>/prod/_user_request_/...)",
        )

    def _failure_queue(self, construct_id: str, removal_policy: RemovalPolicy) -> sqs.Queue:
        """A queue where failed work waits to be investigated and replayed."""
        return sqs.Queue(
            self,
            construct_id,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),  # the maximum: time to investigate and replay
            removal_policy=removal_policy,
        )

    @property
    def queue_url(self) -> str:
        """URL of the front queue, where clients send friend actions."""
        return self.queue.queue_url

    @property
    def dead_letter_queue_url(self) -> str:
        """URL of the front queue's dead-letter queue."""
        return self.dead_letter_queue.queue_url

    @property
    def table_name(self) -> str:
        """Name of the Friend table (generated by CloudFormation)."""
        return self.table.table_name

    @property
    def api_url(self) -> str:
        """Base URL of the read API's stage, ending in ``/``."""
        return self.api.url


def _pinned(store: ReleaseStore, root: Path, pin: str) -> Pinned:
    """What a function pinned to ``pin`` runs: a verified release, or the working tree (whose
    contract is the one this stack imports)."""
    if pin != WORKSPACE:
        return pinned_release(store.get(HANDLER_PACKAGE, pin))
    return Pinned(
        version=workspace_version(root, HANDLER_PACKAGE),
        contract=contract.describe(),
        requires={MODELS_PACKAGE: workspace_version(root, MODELS_PACKAGE)},
    )
