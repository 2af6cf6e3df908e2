"""The CloudWatch dashboard: what goes in, what the stream does with it, and where it waits.

Read top to bottom it follows a friend action: actions the front applied, ignored or refused;
the transitions each stream function made of them; how far behind the stream is (iterator age);
what waits in the queues; then the read API, function errors and throttles, and every alarm.

The custom metric names come from friend-handlers' own constants (actions, outcomes,
transitions, the invalid-message count and the dimension that names a stream function), so a
renamed metric changes the dashboard with it instead of leaving an empty graph.
"""

from collections.abc import Iterable

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct
from friend_handlers.contract import FUNCTION_DIMENSION, INVALID_METRIC
from friend_handlers.logic.actions import Outcome
from friend_handlers.logic.message import FriendAction
from friend_handlers.logic.reactions import Transition

from friend_infra.alarms import RULES
from friend_infra.functions import METRICS_NAMESPACE, SERVICE_NAME
from friend_infra.watched import Watch, Watched

SERVICE_DIMENSION = "service"
"""The dimension Powertools Metrics adds to every metric, valued POWERTOOLS_SERVICE_NAME."""
PERIOD = Duration.minutes(1)
"""Resolution of every graph: the finest that standard Lambda, SQS and API Gateway metrics have."""
WIDTH = 24
"""Dashboard grid width (CloudWatch's)."""
HEIGHT = 6


def _count(name: str, **dimensions: str) -> cloudwatch.Metric:
    """One of the handlers' EMF counts, summed per period."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={SERVICE_DIMENSION: SERVICE_NAME, **dimensions},
        statistic=cloudwatch.Stats.SUM,
        period=PERIOD,
        label=name,
    )


def _alarmed(watched: Watched, watch: Watch) -> dict[str, cloudwatch.Metric]:
    """What ``watch``'s alarms read, by resource, in their statistic: the graph shows what fires."""
    statistic = RULES[watch].statistic
    return {
        name: metric.with_(statistic=statistic) for name, metric in watched.metrics(watch).items()
    }


def _graph(
    title: str,
    metrics: Iterable[cloudwatch.IMetric],
    width: int,
    *,
    annotation: tuple[float, str] | None = None,
) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(
        title=title,
        left=list(metrics),
        width=width,
        height=HEIGHT,
        period=PERIOD,
        left_annotations=(
            [cloudwatch.HorizontalAnnotation(value=annotation[0], label=annotation[1])]
            if annotation
            else None
        ),
    )


class Dashboard(Construct):
    """One dashboard for the whole service (its name generated, so stacks never collide)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        watched: Watched,
        alarms: Iterable[cloudwatch.IAlarm],
    ) -> None:
        super().__init__(scope, construct_id)
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        self.dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown="# Friend microservice\nActions in, stream transitions out, "
                "propagation lag, queues, read API. What each alarm means and what to run: "
                f"README.md, 'Operating it'. Counts per {PERIOD.to_minutes()} minute.",
                width=WIDTH,
                height=2,
            )
        )
        third = WIDTH // 3
        self.dashboard.add_widgets(
            *(
                _graph(
                    f"Actions {outcome.value.lower()}",
                    [_count(f"{action.value}{outcome.value}") for action in FriendAction],
                    third,
                )
                for outcome in Outcome
            ),
            _graph("Invalid messages (parked in the DLQ)", [_count(INVALID_METRIC)], third),
        )
        stream_functions = watched.stream_functions
        self.dashboard.add_widgets(
            *(
                _graph(
                    f"Transitions: {handler}",
                    [
                        _count(transition.value, **{FUNCTION_DIMENSION: function.function_name})
                        for transition in Transition
                    ],
                    WIDTH // len(stream_functions),
                )
                for handler, function in stream_functions.items()
            )
        )
        self.dashboard.add_widgets(
            _graph(
                "Propagation lag: stream iterator age, max (ms)",
                [
                    metric.with_(label=handler)
                    for handler, metric in _alarmed(watched, Watch.ITERATOR_AGE).items()
                ],
                WIDTH // 2,
                annotation=(RULES[Watch.ITERATOR_AGE].threshold, "alarm"),
            ),
            _graph(
                "Queue depths (visible messages)",
                [
                    queue.metric_approximate_number_of_messages_visible(
                        statistic=cloudwatch.Stats.MAXIMUM, label=label
                    )
                    for label, queue in (
                        ("front queue", watched.queue),
                        ("dead-letter queue", watched.dead_letter_queue),
                        ("stream failure queue", watched.stream_failure_queue),
                    )
                ],
                WIDTH // 2,
            ),
        )
        api = watched.api_stage
        (p99,) = _alarmed(watched, Watch.API_LATENCY_P99).values()
        (server_errors,) = _alarmed(watched, Watch.API_SERVER_ERRORS).values()
        errors = _alarmed(watched, Watch.FUNCTION_ERRORS)
        throttles = _alarmed(watched, Watch.FUNCTION_THROTTLES)
        self.dashboard.add_widgets(
            _graph(
                "Read API latency (ms)",
                [
                    api.metric_latency(statistic=cloudwatch.Stats.percentile(50), label="p50"),
                    p99.with_(label="p99"),
                ],
                third,
                annotation=(RULES[Watch.API_LATENCY_P99].threshold, "p99 alarm"),
            ),
            _graph(
                "Read API errors",
                [
                    api.metric_client_error(statistic=cloudwatch.Stats.SUM, label="4xx"),
                    server_errors.with_(label="5xx"),
                ],
                third,
            ),
            _graph(
                "Function errors and throttles",
                [
                    metric
                    for handler in watched.functions
                    for metric in (
                        errors[handler].with_(label=f"{handler} errors"),
                        throttles[handler].with_(label=f"{handler} throttles"),
                    )
                ],
                third,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Alarms", alarms=list(alarms), width=WIDTH, height=HEIGHT
            )
        )
