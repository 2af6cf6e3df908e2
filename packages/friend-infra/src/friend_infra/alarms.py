"""Alarms on every path where work can be lost or delayed, and the topic they notify.

Each loss path of the service ends somewhere an alarm watches: a front message that could not be
applied waits in the dead-letter queue, a stream batch given up on waits in the on-failure queue,
a stuck shard shows as iterator age, and players feel read failures as API 5xx and latency.
Function errors and throttles are the early warnings of all of these.

Every rule (statistic, period, threshold, how many periods) and the reason for it is in
:data:`RULES`, in one place, and applies to each resource :meth:`.Watched.metrics` names for it
(every function, each failure queue, the API). The alarms notify :attr:`Alarms.topic`; who
listens (e-mail, chat, paging) is the operator's choice, made by subscribing to the topic, never
hard-coded here.
README.md ("Operating it") says what each alarm means and what to run when it fires.
"""

from collections.abc import Mapping
from dataclasses import dataclass, replace

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from friend_infra.watched import Watch, Watched

__all__ = ["RULES", "RUNBOOK", "Alarms", "Rule", "Watch"]

RUNBOOK = "README.md, 'Operating it'"
"""Where the alarm descriptions send the operator."""


@dataclass(frozen=True)
class Rule:
    """When an alarm fires: ``statistic`` of its metric over ``period`` reaches ``threshold`` in
    ``datapoints`` of the last ``evaluation_periods`` periods."""

    statistic: str
    period: Duration
    threshold: float
    datapoints: int
    evaluation_periods: int
    reason: str

    def alarm(
        self, scope: Construct, construct_id: str, metric: cloudwatch.Metric, subject: str
    ) -> cloudwatch.Alarm:
        return cloudwatch.Alarm(
            scope,
            construct_id,
            metric=metric.with_(statistic=self.statistic, period=self.period),
            threshold=self.threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=self.evaluation_periods,
            datapoints_to_alarm=self.datapoints,
            # No data means no messages, no errors, no traffic: never a reason to alarm.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"{subject}: {self.reason} Runbook: {RUNBOOK}.",
        )


# No handled input raises (invalid messages are parked, read failures are answered 503), so an
# error is a bug, a timeout or an outage. Retries hide a single transient one; errors in two of
# three 5-minute periods are not a blip.
_FUNCTION_ERRORS = Rule(
    statistic=cloudwatch.Stats.SUM,
    period=Duration.minutes(5),
    threshold=1,
    datapoints=2,
    evaluation_periods=3,
    reason="invocations keep failing; records are being retried towards the failure queues.",
)

RULES: Mapping[Watch, Rule] = {
    # Nothing drains the two failure queues but an operator, so one message is already work
    # that was not done: a friend action not applied, or a pair left half-updated.
    Watch.QUEUE_NOT_EMPTY: Rule(
        statistic=cloudwatch.Stats.MAXIMUM,
        period=Duration.minutes(1),
        threshold=1,
        datapoints=1,
        evaluation_periods=1,
        reason="messages are waiting: work that was given up on and is lost until replayed.",
    ),
    Watch.FUNCTION_ERRORS: _FUNCTION_ERRORS,
    # With reserved concurrency and the front mapping's cap nothing should throttle. A throttled
    # stream invocation delays propagation, a throttled read is a 5xx for a player, a throttled
    # front invocation uses up one of its message's receives. The same rule as errors.
    Watch.FUNCTION_THROTTLES: replace(
        _FUNCTION_ERRORS,
        reason="invocations are throttled: concurrency is exhausted or set too low.",
    ),
    # Normally well under a second. A failing batch is retried for a minute or two before it is
    # given up on; five minutes, three minutes in a row, means a shard is stuck on something
    # else (throttling, an outage). Records older than the mappings' maximum record age (1 h)
    # go to the failure queue, so this leaves most of an hour to act before anything is dropped.
    Watch.ITERATOR_AGE: Rule(
        statistic=cloudwatch.Stats.MAXIMUM,
        period=Duration.minutes(1),
        threshold=Duration.minutes(5).to_milliseconds(),
        datapoints=3,
        evaluation_periods=3,
        reason="stream records wait more than 5 minutes: the other player's row lags behind.",
    ),
    # Bad input is a 4xx by design, so a 5xx is a failure of ours; a single one can be one
    # DynamoDB hiccup answered as 503, a handful in five minutes is not.
    Watch.API_SERVER_ERRORS: Rule(
        statistic=cloudwatch.Stats.SUM,
        period=Duration.minutes(5),
        threshold=5,
        datapoints=1,
        evaluation_periods=1,
        reason="the read API answers 5xx.",
    ),
    # A read is one Query or GetItem, tens of milliseconds warm. A cold start takes a second or
    # two and at low traffic can set one period's p99 alone, so the alarm needs 15 minutes in a
    # row above 2 s.
    Watch.API_LATENCY_P99: Rule(
        statistic=cloudwatch.Stats.percentile(99),
        period=Duration.minutes(5),
        threshold=2000,
        datapoints=3,
        evaluation_periods=3,
        reason="the read API's p99 latency stays above 2 s.",
    ),
}
"""Every alarm rule and why, by what it watches."""


class Alarms(Construct):
    """The alarms of the service and the encrypted SNS topic they notify (alarm and recovery)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        watched: Watched,
        removal_policy: RemovalPolicy,
    ) -> None:
        """Every rule of :data:`RULES`, applied to each resource of ``watched`` it watches."""
        super().__init__(scope, construct_id)
        self.topic = self._topic(removal_policy)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        """Every alarm by a readable name: ``front Errors``, ``DeadLetterQueue QueueNotEmpty``."""
        for watch in RULES:
            for subject, metric in watched.metrics(watch).items():
                self._add(subject, watch, metric)

    def _add(self, subject: str, watch: Watch, metric: cloudwatch.Metric) -> None:
        name = f"{subject} {watch.value}"
        construct_id = "".join(part[:1].upper() + part[1:] for part in subject.split("_"))
        construct_id += watch.value
        alarm = RULES[watch].alarm(self, construct_id, metric, name)
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        self.alarms[name] = alarm

    def _topic(self, removal_policy: RemovalPolicy) -> sns.Topic:
        """An SNS topic encrypted with a key of our own: CloudWatch cannot publish to a topic
        encrypted with the AWS-managed SNS key, so the key grants CloudWatch its use."""
        key = kms.Key(
            self,
            "TopicKey",
            description="Encrypts the friend microservice's alarm topic",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        cloudwatch_principal = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        key.grant(cloudwatch_principal, "kms:Decrypt", "kms:GenerateDataKey")
        topic = sns.Topic(
            self,
            "Topic",
            display_name="Friend microservice alarms",
            master_key=key,
            enforce_ssl=True,
        )
        # The topic policy that enforce_ssl creates replaces SNS's default policy, so the
        # alarms' publisher must be allowed explicitly, and only for alarms of this account.
        stack = Stack.of(self)
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["sns:Publish"],
                principals=[cloudwatch_principal],
                resources=[topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:"
                        f"{stack.account}:alarm:*"
                    },
                },
            )
        )
        return topic
