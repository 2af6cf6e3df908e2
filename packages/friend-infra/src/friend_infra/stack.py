"""FriendMicroservicesStack: the production shape of the friend microservice.

client -> front queue -> front -> Friend table -> stream -> four filtered stream handlers;
client -> API: GET -> read -> Friend table; POST /friends -> write -> front queue; GET / -> page.
Environment-agnostic (no account or region), so the same stack deploys to any account, to an
emulator, and into integration tests. Operations are constructs of their own: :mod:`.alarms`
(and the topic they notify), :mod:`.dashboard`.

Each function runs the code it is pinned to (:mod:`friend_infra.pins`): a friend-handlers
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
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from friend_handlers.contract import (
    DLQ_URL_ENV,
    IDEMPOTENCY_EXPIRY_ATTRIBUTE,
    IDEMPOTENCY_KEY_ATTRIBUTE,
    IDEMPOTENCY_TABLE_ENV,
    PLAYER_CLAIM_ENV,
    QUEUE_URL_ENV,
    REMEMBER_SECONDS,
)
from friend_handlers.filters import HANDLERS, STREAM_FILTERS
from friend_models import FRIEND_ID, PLAYER_ID, TABLE_CONTRACT_ID, Friend

from friend_infra.alarms import Alarms
from friend_infra.api import FriendApi
from friend_infra.compatibility import Wiring, check_compatible
from friend_infra.dashboard import Dashboard
from friend_infra.functions import (
    HANDLED_MESSAGE_ACTIONS,
    HandlerFunction,
    allow_send,
    function_environment,
)
from friend_infra.lambda_code import code_by_version
from friend_infra.pins import resolve_pins
from friend_infra.releases import STORE_DIR, ReleaseStore
from friend_infra.workspace import workspace_root

FRONT_TIMEOUT = Duration.seconds(15)
"""Ten conditional single-row writes take well under a second; the rest absorbs a cold start
and DynamoDB's own retries of a throttled write."""
STREAM_TIMEOUT = Duration.seconds(30)
"""Up to STREAM_BATCH_SIZE records, each a read plus a write or a transaction that the handler
may retry on a transaction conflict."""
READ_TIMEOUT = Duration.seconds(10)
"""A query of one page or one GetItem; API Gateway itself gives up after 29 s."""
WRITE_TIMEOUT = Duration.seconds(10)
"""One SendMessage, whose client has the same time budget as a DynamoDB call."""
PAGE_TIMEOUT = Duration.seconds(10)
"""Two files from the bundle; the time is for a cold start on a busy host."""
PAGE_MEMORY_MB = 128
"""The page function imports almost nothing."""
PLAYER_CLAIM = "sub"
"""With ``player_pool``: the token claim that must equal the acting ``player_id``."""
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

FRONT_MAX_CONCURRENCY = 5
"""Most front invocations the queue's mapping runs at once (SQS mappings allow 2-1000). One
applies up to FRONT_BATCH_SIZE conditional writes in well under a second, so five apply hundreds
of actions per second, far above a game's friend traffic. A flood beyond that waits in the queue
(actions are asynchronous by design) instead of taking concurrency from the stream functions,
and the table's write rate, hence the stream's, stays bounded with it. It is also the front
function's reservation (when reserving), so the mapping is never throttled: a throttled
invocation would use up its messages' receives towards the dead-letter queue."""
STREAM_RESERVED_CONCURRENCY = 5
"""Invocations kept for each stream function. A stream mapping runs one invocation per shard at
a time (parallelization factor 1), and an on-demand table starts with about four partitions, one
shard each: five covers them with one to spare, whatever floods of actions or reads take from
the account. A table that grows more shards shows as iterator age: raise this then."""
READ_RESERVED_CONCURRENCY = 20
"""Invocations kept for the read function, and its cap. The stage admits 100 requests/s (burst
200); a warm read takes tens of milliseconds, so full rate needs about five concurrent
invocations, and 20 still serves it with DynamoDB answering in 200 ms. A read flood beyond that
is throttled (5xx, alarmed) instead of draining what the other functions draw from."""
# Reserved in all when reserving: 5 + 4 * 5 + 20 = 45 of an account's concurrency.

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
    """Friend table, front queue with its DLQ, the front function's table of handled messages,
    the functions, stream mappings, the API, alarms and a dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        reserve_concurrency: bool = True,
        player_pool: cognito.IUserPool | None = None,
        pins: Mapping[str, str] | None = None,
        release_store: Path | None = None,
        canary: bool = False,
        **stack_kwargs: Any,
    ) -> None:
        """``removal_policy`` applies to what holds data (tables, failure queues, log groups):
        retain in production, destroy for test stacks.

        ``reserve_concurrency`` keeps FRONT_MAX_CONCURRENCY, STREAM_RESERVED_CONCURRENCY (each)
        and READ_RESERVED_CONCURRENCY for the functions, 45 in all. Lambda only allows it while
        100 of the account's concurrency stays unreserved: a new account's quota of 10 has no
        room, and the deploy fails there. Pass False for such an account (until its quota is
        raised): the front mapping's maximum concurrency still caps the front function, but a
        read flood can then slow the stream functions down.

        ``player_pool`` turns on who may act: ``POST /friends`` then needs a token of this
        Cognito user pool, and the token's ``sub`` must be the body's ``player_id``. Without it
        (the default, and the emulator lanes) anyone who reaches the API may act for any player.

        ``pins``: function (handler name) -> a released friend-handlers version or
        ``"workspace"``; functions not named run the working tree. ``release_store``: where the
        releases are (default: ``releases/`` of the workspace). ``canary``: shift traffic to a
        new version through CodeDeploy with alarms and rollback (real AWS only).
        """
        super().__init__(scope, construct_id, **stack_kwargs)
        root = workspace_root()
        store = ReleaseStore(release_store or root / STORE_DIR)
        self.pinned = resolve_pins(store, root, pins or {})

        self.table = dynamodb.Table(
            self,
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

        # The messages the front function has handled, so that a redelivered copy acts no more
        # (friend_handlers.redelivery, Powertools Idempotency); DynamoDB's TTL forgets them.
        self.idempotency_table = dynamodb.Table(
            self,
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

        self.dead_letter_queue = self._failure_queue("DeadLetterQueue", removal_policy)
        self.queue = sqs.Queue(
            self,
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

        extra_environment: dict[str, dict[str, str]] = {handler: {} for handler in HANDLERS}
        extra_environment["front"] = {
            DLQ_URL_ENV: self.dead_letter_queue.queue_url,
            IDEMPOTENCY_TABLE_ENV: self.idempotency_table.table_name,
        }
        extra_environment["write"] = {QUEUE_URL_ENV: self.queue.queue_url}
        if player_pool is not None:
            extra_environment["write"][PLAYER_CLAIM_ENV] = PLAYER_CLAIM
        check_compatible(
            self.pinned,
            Wiring(
                table_contract=TABLE_CONTRACT_ID,
                stream_filters=STREAM_FILTERS,
                environment={
                    handler: frozenset(function_environment(handler, self.table, extra))
                    for handler, extra in extra_environment.items()
                },
            ),
        )
        deployments = codedeploy.LambdaApplication(self, "Deployments") if canary else None
        codes = code_by_version(self.pinned, store, root)

        def function(
            handler: str,
            timeout: Duration,
            *,
            reserved: int | None = None,
            memory_size: int = MEMORY_MB,
        ) -> HandlerFunction:
            pinned = self.pinned[handler]
            return HandlerFunction(
                self,
                handler.title().replace("_", ""),
                handler=handler,
                entry_point=pinned.entry_point(handler),
                code=codes[pinned.version],
                table=self.table,
                timeout=timeout,
                memory_size=memory_size,
                removal_policy=removal_policy,
                version=pinned.label,
                environment=extra_environment[handler],
                reserved_concurrency=reserved if reserve_concurrency else None,
                canary=deployments,
            )

        front = function("front", FRONT_TIMEOUT, reserved=FRONT_MAX_CONCURRENCY)
        # Invalid messages are sent straight to the DLQ.
        allow_send(front.role, self.dead_letter_queue)
        front.role.add_to_policy(
            iam.PolicyStatement(
                actions=list(HANDLED_MESSAGE_ACTIONS),
                resources=[self.idempotency_table.table_arn],
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
                max_concurrency=FRONT_MAX_CONCURRENCY,
            )
        )

        self.functions: dict[str, HandlerFunction] = {"front": front}
        # One mapping per stream handler, as the design routes by filter. Known trade-off: AWS
        # advises at most two readers per stream shard; four pollers share the GetRecords limit
        # and may see throttled reads (retried by Lambda, adding latency under load). If that
        # shows, the remedy is one mapping with an in-code dispatch on the same patterns, or
        # Kinesis Data Streams for DynamoDB with enhanced fan-out.
        for handler, pattern in STREAM_FILTERS.items():
            stream_function = function(
                handler, STREAM_TIMEOUT, reserved=STREAM_RESERVED_CONCURRENCY
            )
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

        read = function("read", READ_TIMEOUT, reserved=READ_RESERVED_CONCURRENCY)
        # The write route only queues (the front function is capped by its mapping), and the
        # page is static: both are bounded by the API's throttling, not by reservations.
        write = function("write", WRITE_TIMEOUT)
        allow_send(write.role, self.queue)
        page = function("page", PAGE_TIMEOUT, memory_size=PAGE_MEMORY_MB)
        self.functions.update(read=read, write=write, page=page)
        # The construct id predates the write route and the page: renaming it would replace the
        # deployed REST API, and with it the URL every client knows.
        friend_api = FriendApi(
            self,
            "ReadApi",
            read=read.alias,
            write=write.alias,
            page=page.alias,
            removal_policy=removal_policy,
            player_pool=player_pool,
        )
        self.api = friend_api.rest_api

        functions = {name: handler.function for name, handler in self.functions.items()}
        stream_functions = {name: functions[name] for name in STREAM_FILTERS}
        alarms = Alarms(
            self,
            "Alarms",
            functions=functions,
            stream_functions=stream_functions,
            dead_letter_queue=self.dead_letter_queue,
            stream_failure_queue=self.stream_failure_queue,
            api_stage=self.api.deployment_stage,
            removal_policy=removal_policy,
        )
        self.alarms = alarms.alarms
        self.alarm_topic = alarms.topic
        self.dashboard = Dashboard(
            self,
            "Dashboard",
            functions=functions,
            stream_functions=stream_functions,
            queue=self.queue,
            dead_letter_queue=self.dead_letter_queue,
            stream_failure_queue=self.stream_failure_queue,
            api_stage=self.api.deployment_stage,
            alarms=self.alarms.values(),
        ).dashboard

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
        CfnOutput(
            self,
            "ApiUrl",
            value=self.api_url,
            description="API base URL: the page, POST friends, GET players/{playerId}/friends",
        )
        CfnOutput(
            self,
            "ApiId",
            value=self.api.rest_api_id,
            description="API id (emulators: <endpoint>/_aws/execute-api/<id>/prod/)",
        )
        CfnOutput(
            self,
            "AlarmTopicArn",
            value=self.alarm_topic.topic_arn,
            description="Every alarm notifies this topic: subscribe to it",
        )
        CfnOutput(
            self,
            "DashboardName",
            value=self.dashboard.dashboard_name,
            description="CloudWatch dashboard of the service",
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
        """Base URL of the API's stage, ending in ``/``: the page is served there."""
        return self.api.url
