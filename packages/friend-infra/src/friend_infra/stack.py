"""FriendMicroservicesStack: the production shape of the friend microservice.

client -> front queue -> front -> Friend table -> stream -> four filtered stream handlers;
client -> API: GET -> read -> Friend table; POST /friends -> write -> front queue; GET / -> page.
Environment-agnostic (no account or region), so the same stack deploys to any account, to an
emulator, and into integration tests. The stack wires the parts together; each part is built
in a module of its own: :mod:`.tables`, :mod:`.queues`, :mod:`.functions` (sized by
:mod:`.sizing`), :mod:`.event_sources`, :mod:`.api`, and for operations :mod:`.alarms` (and the
topic they notify) and :mod:`.dashboard`, which both read :mod:`.watched`. Construct ids and
nesting are those the stack was first deployed with: each part is created directly in the
stack, so no logical id changes.

Each function runs the code it is pinned to (:mod:`friend_infra.pins`): a friend-handlers
release from the store, or the working tree (the default, what tests deploy). Functions pinned
alike share one asset; a mix of releases is checked against what this stack wires before
anything is bundled.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from constructs import Construct
from friend_handlers.contract import (
    DLQ_URL_ENV,
    IDEMPOTENCY_TABLE_ENV,
    PLAYER_CLAIM_ENV,
    QUEUE_URL_ENV,
)
from friend_handlers.filters import HANDLERS, STREAM_FILTERS
from friend_models import TABLE_CONTRACT_ID

from friend_infra.alarms import Alarms
from friend_infra.api import FriendApi
from friend_infra.compatibility import Wiring, check_compatible
from friend_infra.dashboard import Dashboard
from friend_infra.event_sources import consume_queue, consume_stream
from friend_infra.functions import (
    HANDLED_MESSAGE_ACTIONS,
    HandlerFunction,
    allow_send,
    function_environment,
)
from friend_infra.lambda_code import code_by_version
from friend_infra.pins import resolve_pins
from friend_infra.queues import failure_queue, front_queue, stream_failure_queue
from friend_infra.releases import STORE_DIR, ReleaseStore
from friend_infra.sizing import (
    FRONT_MAX_CONCURRENCY,
    FRONT_TIMEOUT,
    MEMORY_MB,
    PAGE_MEMORY_MB,
    PAGE_TIMEOUT,
    READ_RESERVED_CONCURRENCY,
    READ_TIMEOUT,
    STREAM_RESERVED_CONCURRENCY,
    STREAM_TIMEOUT,
    WRITE_TIMEOUT,
)
from friend_infra.tables import friend_table, idempotency_table
from friend_infra.watched import Watched
from friend_infra.workspace import workspace_root

PLAYER_CLAIM = "sub"
"""With ``player_pool``: the token claim that must equal the acting ``player_id``."""


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

        self.table = friend_table(self, removal_policy)
        self.idempotency_table = idempotency_table(self, removal_policy)

        self.dead_letter_queue = failure_queue(self, "DeadLetterQueue", removal_policy)
        self.queue = front_queue(self, self.dead_letter_queue)
        self.stream_failure_queue = stream_failure_queue(self, removal_policy)

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
        consume_queue(front.alias, self.queue)

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
            consume_stream(stream_function.alias, self.table, self.stream_failure_queue, pattern)
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
        watched = Watched(
            functions=functions,
            stream_functions={name: functions[name] for name in STREAM_FILTERS},
            queue=self.queue,
            dead_letter_queue=self.dead_letter_queue,
            stream_failure_queue=self.stream_failure_queue,
            api_stage=self.api.deployment_stage,
        )
        alarms = Alarms(self, "Alarms", watched=watched, removal_policy=removal_policy)
        self.alarms = alarms.alarms
        self.alarm_topic = alarms.topic
        self.dashboard = Dashboard(
            self, "Dashboard", watched=watched, alarms=self.alarms.values()
        ).dashboard

        outputs = {
            "QueueUrl": (self.queue_url, "Send friend actions here"),
            "DeadLetterQueueUrl": (
                self.dead_letter_queue_url,
                "Front messages that could not be applied",
            ),
            "StreamFailureQueueUrl": (
                self.stream_failure_queue.queue_url,
                "Stream batches given up on",
            ),
            "TableName": (self.table_name, "Friend table"),
            "ApiUrl": (
                self.api_url,
                "API base URL: the page, POST friends, GET players/{playerId}/friends",
            ),
            "ApiId": (
                self.api.rest_api_id,
                "API id (emulators: <endpoint>/_aws/execute-api/<id>/prod/)",
            ),
            "AlarmTopicArn": (
                self.alarm_topic.topic_arn,
                "Every alarm notifies this topic: subscribe to it",
            ),
            "DashboardName": (self.dashboard.dashboard_name, "CloudWatch dashboard of the service"),
        }
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)

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
