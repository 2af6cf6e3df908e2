"""One Lambda entry point of friend-handlers, with its own role, log group, version and alias.

Every function gets a role of its own with exactly the table actions its handler performs, so a
bug or a compromised dependency in one handler cannot write what that handler never writes; a
handler that never touches the table gets neither its name nor a table permission.

Every function publishes a Lambda version named after the friend-handlers version it runs, and a
``live`` alias on it; its event source or the API targets the alias, never ``$LATEST``. A new pin
publishes a new version and moves the alias: at once by default, or (``canary=True``, real AWS
only: no emulator has CodeDeploy) 10 % of the traffic for 5 minutes first, rolled back
automatically when the function's error alarm fires.
"""

from collections.abc import Mapping

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from friend_models import TABLE_NAME_ENV

SERVICE_NAME = "friend"
"""``POWERTOOLS_SERVICE_NAME`` of every function: one service, told apart by function name."""
METRICS_NAMESPACE = "FriendMicroservices"
"""``POWERTOOLS_METRICS_NAMESPACE``: where the action and transition counts land."""
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
"""Long enough to investigate an incident, short enough not to keep player ids indefinitely."""
ALIAS_NAME = "live"
"""The alias every trigger invokes: it names the version that serves."""
CANARY_CONFIG = codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_5_MINUTES
"""A new version takes a tenth of the invocations for five minutes before it takes all."""


def log_group(scope: Construct, construct_id: str, removal_policy: RemovalPolicy) -> logs.LogGroup:
    """A log group of the service's, kept for ``LOG_RETENTION``."""
    return logs.LogGroup(
        scope, construct_id, retention=LOG_RETENTION, removal_policy=removal_policy
    )


def function_environment(
    handler: str, table: dynamodb.ITable, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The variables the stack sets on a function: the table (for a handler that uses it),
    Powertools' settings, ``extra``."""
    return {
        **({TABLE_NAME_ENV: table.table_name} if TABLE_ACTIONS[handler] else {}),
        "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": "INFO",
        **(extra or {}),
    }


TABLE_ACTIONS: Mapping[str, tuple[str, ...]] = {
    # One compare-and-set of the sender's own row per message, in a transaction with the
    # record of the message (authorized per contained action): Request puts it if absent,
    # Accept updates Pending -> Friends, Reject and Unfriend delete it if Pending / Friends.
    "front": ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
    # GET /friends/{playerId} queries the player's rows; isFriend reads one row.
    "read": ("dynamodb:GetItem", "dynamodb:Query"),
    # POST /friends puts the action on the front queue; the front function writes the row.
    "write": (),
    # Serves the page's two files from its own bundle.
    "page": (),
    # Reads both rows (strongly consistent), then one transaction: check the request still
    # stands and put the Pending mirror, or update both rows to Friends (mutual request), or
    # update a stale Friends mirror to Pending. A transaction is authorized per contained
    # action: there is no separate permission for TransactWriteItems.
    "request_state": (
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:ConditionCheckItem",
    ),
    # Transaction: check the accepted row is still Friends, update the requester's row to
    # Friends.
    "accept_state": ("dynamodb:ConditionCheckItem", "dynamodb:UpdateItem"),
    # Transaction: check the rejected row is still gone, delete the requester's Requested row.
    "reject_state": ("dynamodb:ConditionCheckItem", "dynamodb:DeleteItem"),
    # Reads both rows, then a transaction: check the removed row is still gone, delete the
    # other row.
    "unfriend_state": (
        "dynamodb:GetItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:DeleteItem",
    ),
}
"""Handler name -> the DynamoDB actions it performs on the Friend table, and nothing more.

Read from what friend_handlers.dal does for each handler (single conditional writes, reads,
guarded transactions); a handler that starts doing more fails with AccessDenied in the
integration tests, which is the point."""


HANDLED_MESSAGE_ACTIONS: tuple[str, ...] = (
    "dynamodb:PutItem",
    "dynamodb:GetItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
)
"""What the front function does on its table of handled messages: put a message's record unless
one exists (in the transaction that applies the message, or alone), read it before parking an
invalid message. Update and delete are what releases before 0.3.0 need (Powertools Idempotency:
an in-progress record updated to completed, deleted when the delivery failed), and a pin may
still run one of those on the front."""


class HandlerFunction(Construct):
    """One friend-handlers entry point on python3.13 with tracing, JSON logs and metrics."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        entry_point: str,
        code: lambda_.Code,
        table: dynamodb.ITable,
        timeout: Duration,
        memory_size: int,
        removal_policy: RemovalPolicy,
        version: str,
        environment: Mapping[str, str] | None = None,
        reserved_concurrency: int | None = None,
        canary: codedeploy.ILambdaApplication | None = None,
    ) -> None:
        """``handler``: the function's name in the contract; ``entry_point``: the Lambda
        ``handler`` setting that runs it in ``code``. ``version``: what the code reports
        (``friend-handlers 0.1.0``), the description of the Lambda version it publishes.
        ``reserved_concurrency``: invocations kept for this function alone, and its cap
        (``None``: it shares the account's unreserved pool).
        ``canary``: the CodeDeploy application that shifts traffic to each new version (none:
        the alias moves at once)."""
        super().__init__(scope, construct_id)
        self.log_group = log_group(self, "Logs", removal_policy)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{handler}: its own log group and table actions only",
        )
        # Our own log statement instead of the AWSLambdaBasicExecutionRole managed policy, which
        # may write to every log group of the account.
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.X86_64,  # the bundle's wheels are x86_64
            code=code,
            handler=entry_point,
            role=self.role,
            timeout=timeout,
            memory_size=memory_size,
            reserved_concurrent_executions=reserved_concurrency,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            environment=function_environment(handler, table, environment),
            description=entry_point,
            current_version_options=lambda_.VersionOptions(description=version),
        )
        self.alias = lambda_.Alias(
            self, "Live", alias_name=ALIAS_NAME, version=self.function.current_version
        )
        if canary is not None:
            self._canary(canary)
        if TABLE_ACTIONS[handler]:
            self.role.add_to_policy(
                iam.PolicyStatement(
                    actions=list(TABLE_ACTIONS[handler]), resources=[table.table_arn]
                )
            )
        Validations.of(self.function).acknowledge(
            Acknowledgment(
                id="AwsSolutions-L1",
                reason="python3.13 on purpose: the workspace, its lock and the bundle's wheels "
                "target 3.13, and the embedded LocalStack runs it; moving is one coordinated "
                "change of .python-version, the lock and PYTHON_VERSION in bundling.",
            ),
        )
        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="Only actions without resource-level permissions, where AWS requires "
                "Resource '*': X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) and, "
                "for stream mappings, dynamodb:ListStreams (granted by DynamoEventSource).",
            ),
        )

    def _canary(self, application: codedeploy.ILambdaApplication) -> None:
        """Shift traffic to a new version through CodeDeploy, rolled back on errors."""
        self.errors = cloudwatch.Alarm(
            self,
            "Errors",
            alarm_description=f"{self.function.node.path}: errors of the live alias",
            metric=self.alias.metric_errors(period=Duration.minutes(1)),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.deployment = codedeploy.LambdaDeploymentGroup(
            self,
            "Deployment",
            application=application,
            alias=self.alias,
            deployment_config=CANARY_CONFIG,
            alarms=[self.errors],
            auto_rollback=codedeploy.AutoRollbackConfig(
                failed_deployment=True, stopped_deployment=True, deployment_in_alarm=True
            ),
        )
        # The finding's id holds the policy's ARN, and Validations.acknowledge refuses ids with
        # more than one "::"; so the acknowledgment is recorded as acknowledge records it.
        self.deployment.role.node.add_metadata(
            Validations.ACKNOWLEDGED_RULES_METADATA_KEY,
            {
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSCodeDeployRoleForLambdaLimited]": "CodeDeploy's service role for Lambda "
                "deployments: AWS's managed policy limited to what one does (read alarms, move "
                "the alias, invoke CodeDeployHook_* functions).",
            },
        )


def allow_send(role: iam.IRole, queue: sqs.IQueue) -> None:
    """Let ``role`` send to ``queue`` and do nothing else with it: ``sqs:SendMessage`` on that
    queue only (``grant_send_messages`` would add GetQueueAttributes and GetQueueUrl), and, when a
    KMS key of ours encrypts the queue, the two key actions SendMessage needs. SQS-managed
    encryption needs no key permission."""
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn])
    )
    if queue.encryption_master_key is not None:
        queue.encryption_master_key.grant(role, "kms:GenerateDataKey", "kms:Decrypt")
