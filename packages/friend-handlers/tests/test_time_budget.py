"""A slow table fails records, never the invocation: each call starts only when it can end
before the function's timeout (friend_handlers.deadline), and the failed records, retried,
apply once."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from friend_handlers import sqs
from friend_handlers.deadline import ANSWER_MARGIN_SECONDS, NEEDED_MILLIS
from friend_handlers.handlers import front, request_state
from friend_handlers.redelivery import HandledMessage
from friend_models import (
    CONNECT_TIMEOUT_SECONDS,
    MAX_RETRY_ATTEMPTS,
    READ_TIMEOUT_SECONDS,
    Friend,
    State,
)

from .conftest import Aws, ClockedLambdaContext, injected_latency
from .harness import (
    NO_FAILURES,
    StreamReader,
    message,
    put_row,
    receive_sqs_event,
    routes,
    rows,
    settle_sqs_batch,
    sqs_event,
    statuses,
    stream_event,
)

FRONT_TIMEOUT_MS = 15_000
STREAM_TIMEOUT_MS = 30_000
SLOW_CALL_MS = 3_000


def _failed(response: dict[str, list[dict[str, str]]]) -> list[str]:
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def test_a_slow_table_fails_the_front_records_that_no_longer_fit(
    aws: Aws, lambda_context: LambdaContext
) -> None:
    bodies = [message(f"p{number}", "bob", "Request") for number in range(10)]
    event = sqs_event(aws, *bodies)
    context = ClockedLambdaContext(FRONT_TIMEOUT_MS)

    with injected_latency(context, SLOW_CALL_MS) as calls:
        response = front.handler(event, context)  # type: ignore[arg-type]

    # Three transactions fit (15 -> 12 -> 9 -> 6 s); six seconds cannot hold another call.
    assert calls == {"TransactWriteItems": 3}
    assert _failed(response) == [record["messageId"] for record in event["Records"][3:]]
    assert context.get_remaining_time_in_millis() >= ANSWER_MARGIN_SECONDS * 1000, "no timeout"
    assert set(rows(aws)) == {(f"p{number}", "bob") for number in range(3)}

    settle_sqs_batch(aws, event, response)
    retry = receive_sqs_event(aws)
    assert front.handler(retry, lambda_context) == NO_FAILURES
    assert front.handler(event, lambda_context) == NO_FAILURES  # and the whole batch again
    assert rows(aws) == {(f"p{number}", "bob"): State.REQUESTED for number in range(10)}


def test_a_record_without_time_for_a_call_does_not_start(
    aws: Aws, lambda_context: LambdaContext
) -> None:
    event = sqs_event(aws, message("ann", "bob", "Request"), message("cat", "dan", "Request"))
    context = ClockedLambdaContext(NEEDED_MILLIS)

    with injected_latency(context, 1) as calls:
        response = front.handler(event, context)  # type: ignore[arg-type]

    assert calls == {"TransactWriteItems": 1}
    assert _failed(response) == [event["Records"][1]["messageId"]]
    assert front.handler(event, lambda_context) == NO_FAILURES
    assert set(rows(aws)) == {("ann", "bob"), ("cat", "dan")}


def test_every_client_of_the_functions_gives_up_within_the_call_budget() -> None:
    """The Friend table's, the handled-messages table's and the queues' clients: each call
    ends within CALL_BUDGET_SECONDS, the time :mod:`friend_handlers.deadline` reserves."""
    clients = {
        "friend table": Friend._get_connection().connection.client,
        "handled messages": HandledMessage._get_connection().connection.client,
        "queues": sqs.client(),
    }
    for name, client in clients.items():
        config = client.meta.config
        assert (config.connect_timeout, config.read_timeout) == (
            CONNECT_TIMEOUT_SECONDS,
            READ_TIMEOUT_SECONDS,
        ), name
        assert config.retries == {"mode": "standard", "total_max_attempts": 1 + MAX_RETRY_ATTEMPTS}


def test_a_slow_table_fails_the_stream_records_that_no_longer_fit(
    aws: Aws, lambda_context: LambdaContext
) -> None:
    reader = StreamReader(aws)
    for number in range(3):
        put_row(aws, f"p{number}", "bob", State.REQUESTED, exchange=f"e{number}")
    records = [record for record in reader.read() if routes(record) == ["request_state"]]
    context = ClockedLambdaContext(STREAM_TIMEOUT_MS)

    with injected_latency(context, SLOW_CALL_MS) as calls:
        response = request_state.handler(stream_event(records), context)  # type: ignore[arg-type]

    # A record reads two rows and writes one transaction: two records fit in 30 s (down to
    # 12 s); the third reads both rows (down to 6 s) and then has no time left to write.
    assert calls == {"GetItem": 6, "TransactWriteItems": 2}
    assert _failed(response) == [records[2]["dynamodb"]["SequenceNumber"]]
    assert context.get_remaining_time_in_millis() >= ANSWER_MARGIN_SECONDS * 1000, "no timeout"

    assert request_state.handler(stream_event(records[2:]), lambda_context) == NO_FAILURES
    assert request_state.handler(stream_event(records), lambda_context) == NO_FAILURES
    assert statuses(aws) == {
        **{(f"p{n}", "bob"): (State.REQUESTED, f"e{n}") for n in range(3)},
        **{("bob", f"p{n}"): (State.PENDING, f"e{n}") for n in range(3)},
    }


def test_a_stream_batch_with_no_time_for_any_record_is_answered_not_raised(
    aws: Aws, lambda_context: LambdaContext
) -> None:
    """Every record failing for lack of time is still the function's own answer (each record
    reported, so the mapping retries them), not an error that would count against the function
    and fire its Errors alarm."""
    reader = StreamReader(aws)
    for number in range(2):
        put_row(aws, f"p{number}", "bob", State.REQUESTED, exchange=f"e{number}")
    records = [record for record in reader.read() if routes(record) == ["request_state"]]
    out_of_time = ClockedLambdaContext(NEEDED_MILLIS - 1)

    response = request_state.handler(stream_event(records), out_of_time)  # type: ignore[arg-type]

    assert _failed(response) == [record["dynamodb"]["SequenceNumber"] for record in records]
    assert set(rows(aws)) == {("p0", "bob"), ("p1", "bob")}
    assert request_state.handler(stream_event(records), lambda_context) == NO_FAILURES
    assert rows(aws)[("bob", "p1")] is State.PENDING
