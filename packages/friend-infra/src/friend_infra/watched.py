"""What operations watch: the service's functions, queues, stream mappings and API, and which
metric each kind of watch reads on them.

The alarms (:mod:`.alarms`) and the dashboard (:mod:`.dashboard`) both read this one
description, so a graph shows the very metric its alarms evaluate, on the same resources, and a
function, queue or mapping added to the service is watched by both once it is named here.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs

API = "ReadApi"
"""How alarms name the API (the construct id it was first deployed with)."""
LAMBDA_ITERATOR_AGE = "IteratorAge"
"""Lambda's metric of how old the last record of a stream batch was when it was read."""


class Watch(StrEnum):
    """A kind of watch: one metric read on every resource of one kind. Each value names a rule
    of :data:`friend_infra.alarms.RULES` and ends the names of its alarms."""

    QUEUE_NOT_EMPTY = "QueueNotEmpty"
    FUNCTION_ERRORS = "Errors"
    FUNCTION_THROTTLES = "Throttles"
    ITERATOR_AGE = "IteratorAge"
    API_SERVER_ERRORS = "Api5xx"
    API_LATENCY_P99 = "ApiLatencyP99"


@dataclass(frozen=True)
class Watched:
    """The resources of the service that operations watch, each by the name its alarms carry."""

    functions: Mapping[str, lambda_.IFunction]
    """Every function, by handler name."""
    stream_functions: Mapping[str, lambda_.IFunction]
    """The functions fed by the table's stream (one mapping each), by handler name."""
    queue: sqs.IQueue
    """The front queue: its consumer drains it, so it is shown, never alarmed on."""
    dead_letter_queue: sqs.IQueue
    stream_failure_queue: sqs.IQueue
    api_stage: apigw.Stage

    @property
    def failure_queues(self) -> Mapping[str, sqs.IQueue]:
        """The queues nothing but an operator drains, by their construct ids."""
        return {
            "DeadLetterQueue": self.dead_letter_queue,
            "StreamFailureQueue": self.stream_failure_queue,
        }

    def metrics(self, watch: Watch) -> dict[str, cloudwatch.Metric]:
        """The metric ``watch`` reads, on each resource it watches, by that resource's name.
        Statistic and period are the reader's: the alarm's rule, or a graph's."""
        match watch:
            case Watch.QUEUE_NOT_EMPTY:
                return {
                    name: queue.metric_approximate_number_of_messages_visible()
                    for name, queue in self.failure_queues.items()
                }
            case Watch.FUNCTION_ERRORS:
                return {name: function.metric_errors() for name, function in self.functions.items()}
            case Watch.FUNCTION_THROTTLES:
                return {
                    name: function.metric_throttles() for name, function in self.functions.items()
                }
            case Watch.ITERATOR_AGE:
                return {
                    name: function.metric(LAMBDA_ITERATOR_AGE)
                    for name, function in self.stream_functions.items()
                }
            case Watch.API_SERVER_ERRORS:
                return {API: self.api_stage.metric_server_error()}
            case Watch.API_LATENCY_P99:
                return {API: self.api_stage.metric_latency()}
