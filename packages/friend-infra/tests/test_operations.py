"""Template assertions on operations: alarms and their topic, the dashboard, concurrency."""

from typing import Any

import pytest
from aws_cdk import RemovalPolicy
from friend_handlers.contract import FUNCTION_DIMENSION, INVALID_METRIC
from friend_handlers.filters import HANDLERS, STREAM_FILTERS
from friend_handlers.logic.actions import Outcome
from friend_handlers.logic.message import FriendAction
from friend_handlers.logic.reactions import Transition
from friend_infra.alarms import RULES, Watch
from friend_infra.app import context_flag
from friend_infra.event_sources import STREAM_MAX_RECORD_AGE
from friend_infra.functions import METRICS_NAMESPACE, SERVICE_NAME
from friend_infra.sizing import (
    FRONT_MAX_CONCURRENCY,
    READ_RESERVED_CONCURRENCY,
    STREAM_RESERVED_CONCURRENCY,
)

from .synthesized import Synthesized, synthesize

STREAM_HANDLERS = tuple(STREAM_FILTERS)
LAMBDA_DEFAULT_MINIMUM_UNRESERVED = 100
"""Lambda refuses a reservation that leaves less than this of the account's quota unreserved."""
LAMBDA_DEFAULT_QUOTA = 1000


@pytest.fixture(scope="module")
def synthesized() -> Synthesized:
    return synthesize()


@pytest.fixture(scope="module")
def unreserved() -> Synthesized:
    return synthesize(reserve_concurrency=False, removal_policy=RemovalPolicy.DESTROY)


def _dimensions(alarm: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in alarm["Dimensions"]}


def _rule_of(alarm: dict[str, Any]) -> dict[str, Any]:
    """What an alarm's template says of its rule, in the terms of RULES."""
    return {
        "threshold": alarm["Threshold"],
        "period": alarm["Period"],
        "evaluation_periods": alarm["EvaluationPeriods"],
        "datapoints": alarm["DatapointsToAlarm"],
        "statistic": alarm.get("Statistic") or alarm.get("ExtendedStatistic"),
        "comparison": alarm["ComparisonOperator"],
        "missing_data": alarm["TreatMissingData"],
    }


def _rule(watch: Watch) -> dict[str, Any]:
    """The same, as RULES writes it for ``watch``."""
    rule = RULES[watch]
    return {
        "threshold": rule.threshold,
        "period": rule.period.to_seconds(),
        "evaluation_periods": rule.evaluation_periods,
        "datapoints": rule.datapoints,
        "statistic": rule.statistic,
        "comparison": "GreaterThanOrEqualToThreshold",
        "missing_data": "notBreaching",
    }


def test_every_kind_of_watch_has_its_rule() -> None:
    assert set(RULES) == set(Watch)


def test_every_alarm_notifies_the_topic_on_alarm_and_recovery(synthesized: Synthesized) -> None:
    topic = {"Ref": synthesized.logical_id(synthesized.stack.alarm_topic)}
    alarms = synthesized.alarms()
    expected = 2 + 2 * len(HANDLERS) + len(STREAM_HANDLERS) + 2
    assert len(alarms) == len(synthesized.stack.alarms) == expected == 24
    for alarm in alarms:
        assert alarm["AlarmActions"] == [topic]
        assert alarm["OKActions"] == [topic]
        assert "Operating it" in alarm["AlarmDescription"]


def test_both_failure_queues_alarm_on_one_message(synthesized: Synthesized) -> None:
    stack = synthesized.stack
    alarms = synthesized.alarms_on("ApproximateNumberOfMessagesVisible", "AWS/SQS")
    watched = {_dimensions(alarm)["QueueName"]["Fn::GetAtt"][0] for alarm in alarms}
    assert watched == {
        synthesized.logical_id(stack.dead_letter_queue),
        synthesized.logical_id(stack.stream_failure_queue),
    }
    for alarm in alarms:
        assert _rule_of(alarm) == _rule(Watch.QUEUE_NOT_EMPTY)
        assert RULES[Watch.QUEUE_NOT_EMPTY].reason in alarm["AlarmDescription"]
        assert alarm["Threshold"] == 1


@pytest.mark.parametrize(
    ("metric", "watch"),
    [("Errors", Watch.FUNCTION_ERRORS), ("Throttles", Watch.FUNCTION_THROTTLES)],
)
def test_errors_and_throttles_alarm_per_function(
    synthesized: Synthesized, metric: str, watch: Watch
) -> None:
    alarms = synthesized.alarms_on(metric, "AWS/Lambda")
    watched = sorted(_dimensions(alarm)["FunctionName"]["Ref"] for alarm in alarms)
    assert watched == sorted(synthesized.function_id(handler) for handler in HANDLERS)
    for alarm in alarms:
        assert _rule_of(alarm) == _rule(watch)
        assert RULES[watch].reason in alarm["AlarmDescription"]


def test_iterator_age_alarms_per_stream_function_before_records_expire(
    synthesized: Synthesized,
) -> None:
    alarms = synthesized.alarms_on("IteratorAge", "AWS/Lambda")
    watched = sorted(_dimensions(alarm)["FunctionName"]["Ref"] for alarm in alarms)
    assert watched == sorted(synthesized.function_id(handler) for handler in STREAM_HANDLERS)
    for alarm in alarms:
        assert _rule_of(alarm) == _rule(Watch.ITERATOR_AGE)
        assert RULES[Watch.ITERATOR_AGE].reason in alarm["AlarmDescription"]
    # Fires while the lagging records can still be processed, well before they are dropped.
    assert RULES[Watch.ITERATOR_AGE].threshold * 4 <= STREAM_MAX_RECORD_AGE.to_milliseconds()


@pytest.mark.parametrize(
    ("metric", "watch"),
    [("5XXError", Watch.API_SERVER_ERRORS), ("Latency", Watch.API_LATENCY_P99)],
)
def test_read_api_alarms_on_its_stage(synthesized: Synthesized, metric: str, watch: Watch) -> None:
    (alarm,) = synthesized.alarms_on(metric, "AWS/ApiGateway")
    assert _rule_of(alarm) == _rule(watch)
    assert RULES[watch].reason in alarm["AlarmDescription"]
    (stage_id,) = synthesized.resources("AWS::ApiGateway::Stage")
    assert _dimensions(alarm)["Stage"] == {"Ref": stage_id}
    assert RULES[Watch.API_LATENCY_P99].statistic == "p99"


def test_alarm_topic_is_encrypted_tls_only_and_an_output(synthesized: Synthesized) -> None:
    stack = synthesized.stack
    topic_id = synthesized.logical_id(stack.alarm_topic)
    topic = synthesized.resources("AWS::SNS::Topic")[topic_id]["Properties"]
    assert "Subscription" not in topic  # who is told is the operator's choice
    key_id = topic["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = synthesized.resources("AWS::KMS::Key")[key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    cloudwatch = {"Service": "cloudwatch.amazonaws.com"}
    (grant,) = [s for s in key["KeyPolicy"]["Statement"] if s["Principal"] == cloudwatch]
    assert set(grant["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}

    (policy,) = synthesized.resources("AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == cloudwatch
    assert allow["Action"] == "sns:Publish"
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert not synthesized.resources("AWS::SNS::Subscription")

    outputs = synthesized.json["Outputs"]
    assert outputs["AlarmTopicArn"]["Value"] == {"Ref": topic_id}
    assert outputs["DashboardName"]["Value"] == {"Ref": synthesized.logical_id(stack.dashboard)}


def _widget(body: dict[str, Any], title: str) -> dict[str, Any]:
    (found,) = [w for w in body["widgets"] if w["properties"].get("title") == title]
    return found


def _metrics(widget: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    """(namespace, name, dimensions) of every metric of a graph widget."""
    found = []
    for line in widget["properties"]["metrics"]:
        namespace, name, *rest = [part for part in line if not isinstance(part, dict)]
        found.append((namespace, name, dict(zip(rest[::2], rest[1::2], strict=True))))
    return found


def test_dashboard_counts_actions_by_outcome_from_the_handlers_names(
    synthesized: Synthesized,
) -> None:
    body = synthesized.dashboard()
    service = {"service": SERVICE_NAME}
    for outcome in Outcome:
        graph = _widget(body, f"Actions {outcome.value.lower()}")
        assert _metrics(graph) == [
            (METRICS_NAMESPACE, f"{action.value}{outcome.value}", service)
            for action in FriendAction
        ]
    invalid = _widget(body, "Invalid messages (parked in the DLQ)")
    assert _metrics(invalid) == [(METRICS_NAMESPACE, INVALID_METRIC, service)]


@pytest.mark.parametrize("handler", STREAM_HANDLERS)
def test_dashboard_shows_each_stream_functions_transitions(
    synthesized: Synthesized, handler: str
) -> None:
    graph = _widget(synthesized.dashboard(), f"Transitions: {handler}")
    dimensions = {"service": SERVICE_NAME, FUNCTION_DIMENSION: synthesized.function_id(handler)}
    assert _metrics(graph) == [
        (METRICS_NAMESPACE, transition.value, dimensions) for transition in Transition
    ]


def test_dashboard_shows_lag_queues_api_and_alarms(synthesized: Synthesized) -> None:
    body = synthesized.dashboard()
    stack = synthesized.stack

    lag = _widget(body, "Propagation lag: stream iterator age, max (ms)")
    assert sorted(dims["FunctionName"] for _, _, dims in _metrics(lag)) == sorted(
        synthesized.function_id(handler) for handler in STREAM_HANDLERS
    )
    assert {name for _, name, _ in _metrics(lag)} == {"IteratorAge"}
    (annotation,) = lag["properties"]["annotations"]["horizontal"]
    assert annotation["value"] == RULES[Watch.ITERATOR_AGE].threshold

    queues = _widget(body, "Queue depths (visible messages)")
    assert [dims["QueueName"] for _, _, dims in _metrics(queues)] == [
        f"{synthesized.logical_id(queue)}.QueueName"
        for queue in (stack.queue, stack.dead_letter_queue, stack.stream_failure_queue)
    ]

    latency = _widget(body, "Read API latency (ms)")
    assert [line[-1]["stat"] for line in latency["properties"]["metrics"]] == ["p50", "p99"]
    errors = _widget(body, "Read API errors")
    assert [name for _, name, _ in _metrics(errors)] == ["4XXError", "5XXError"]
    functions = _widget(body, "Function errors and throttles")
    assert len(_metrics(functions)) == 2 * len(HANDLERS)

    (status,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert len(status["properties"]["alarms"]) == len(stack.alarms)


def _reserved(synthesized: Synthesized) -> dict[str, Any]:
    functions = synthesized.resources("AWS::Lambda::Function")
    return {
        handler: functions[synthesized.function_id(handler)]["Properties"].get(
            "ReservedConcurrentExecutions"
        )
        for handler in HANDLERS
    }


def _front_scaling(synthesized: Synthesized) -> Any:
    function = synthesized.alias_name("front")
    (mapping,) = [
        m["Properties"]
        for m in synthesized.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == function
    ]
    return mapping["ScalingConfig"]


def test_concurrency_is_reserved_so_no_flood_starves_the_stream(synthesized: Synthesized) -> None:
    reserved = _reserved(synthesized)
    assert reserved == {
        "front": FRONT_MAX_CONCURRENCY,
        "read": READ_RESERVED_CONCURRENCY,
        **dict.fromkeys(STREAM_HANDLERS, STREAM_RESERVED_CONCURRENCY),
        # The write route only queues and the page is static: both are bounded by the API's
        # throttling and draw from the unreserved pool.
        "write": None,
        "page": None,
    }
    # The front mapping never starts more than the front function may run: no throttling.
    assert _front_scaling(synthesized) == {"MaximumConcurrency": reserved["front"]}
    # Deployable on an account with Lambda's default quota.
    total = sum(count for count in reserved.values() if count is not None)
    assert total <= LAMBDA_DEFAULT_QUOTA - LAMBDA_DEFAULT_MINIMUM_UNRESERVED


def test_without_reservation_the_front_mapping_is_still_capped(unreserved: Synthesized) -> None:
    assert set(_reserved(unreserved).values()) == {None}
    assert _front_scaling(unreserved) == {"MaximumConcurrency": FRONT_MAX_CONCURRENCY}
    # Operations stay complete: every alarm and the dashboard are there either way.
    assert len(unreserved.alarms()) == 24
    assert len(unreserved.resources("AWS::CloudWatch::Dashboard")) == 1
    (key,) = unreserved.resources("AWS::KMS::Key").values()
    assert key["DeletionPolicy"] == "Delete"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, True), (True, True), (False, False), ("false", False), ("True", True), ("0", False)],
)
def test_reserve_concurrency_context_flag(value: object, expected: bool) -> None:
    assert context_flag(value, default=True) is expected


def test_reserve_concurrency_context_flag_refuses_other_values() -> None:
    with pytest.raises(ValueError, match="true or false"):
        context_flag("maybe", default=True)
