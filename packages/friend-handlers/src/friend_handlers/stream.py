"""What the four stream entry points share: a DynamoDB-stream batch with partial failures.

Each stream function receives only the records its filter pattern (:mod:`.filters`) lets
through and applies one reaction (:mod:`.logic.reactions`) to the row each record names. A
record whose reaction raises, or that finds its invocation without time left for it
(:mod:`.deadline`), is reported as a batch item failure, so the event source mapping retries
from that record (and bisects) without redoing the whole batch by hand.
"""

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from friend_models import EXCHANGE_ID, FRIEND_ID, PLAYER_ID

from friend_handlers import deadline
from friend_handlers.contract import FUNCTION_DIMENSION
from friend_handlers.dal import Edge
from friend_handlers.logic.reactions import Reaction, Transition
from friend_handlers.observability import entry_point, logger, metrics, tracer

type StreamHandler = Callable[[dict[str, Any], LambdaContext], PartialItemFailureResponse]


def changed_row(record: DynamoDBRecord) -> tuple[Edge, str | None]:
    """The key of the row a stream record is about, and the exchange the change belongs to:
    ``exchange_id`` of the new image, or of the old one for a removal (``None`` for a row
    written before exchange ids existed)."""
    change = record.dynamodb
    if change is None:
        raise ValueError("stream record without its dynamodb section")
    keys = change.keys
    image = change.new_image or change.old_image
    exchange_id = image.get(EXCHANGE_ID)
    edge = Edge(str(keys[PLAYER_ID]), str(keys[FRIEND_ID]))
    return edge, None if exchange_id is None else str(exchange_id)


def stream_handler(react: Reaction) -> StreamHandler:
    """A Lambda handler applying ``react`` to every record of a DynamoDB stream batch."""
    # Every record failed (e.g. out of time): answered with its failures, not as an error.
    processor = BatchProcessor(
        event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
    )

    @tracer.capture_method
    def record_handler(record: DynamoDBRecord) -> Transition:
        logger.set_correlation_id(record.event_id)
        deadline.check()
        source, exchange_id = changed_row(record)
        transition = react(source, exchange_id)
        logger.info(
            "stream record handled",
            extra={
                "event_name": record.raw_event.get("eventName"),
                "player_id": source.player_id,
                "friend_id": source.friend_id,
                "exchange_id": exchange_id,
                "transition": transition.value,
            },
        )
        metrics.add_metric(name=transition.value, unit=MetricUnit.Count, value=1)
        return transition

    @entry_point()
    def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        metrics.add_dimension(name=FUNCTION_DIMENSION, value=context.function_name)
        with deadline.invocation(context):
            return process_partial_response(
                event=event, record_handler=record_handler, processor=processor, context=context
            )

    return handler
