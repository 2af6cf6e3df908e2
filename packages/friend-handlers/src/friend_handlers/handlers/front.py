"""Front entry point: friend actions from the front SQS queue.

Per record, at most once per message id (:mod:`.redelivery`): parse the message
(:mod:`.logic.message`); an invalid one is parked in the dead-letter queue with its reason
(:mod:`.dead_letter`) and recorded; a valid one is applied to the sender's row
(:mod:`.logic.actions`) in one transaction with the record of its message id. Only a record
that raised (a transient DynamoDB error, a failed park, no time left in the invocation:
:mod:`.deadline`) is reported as a batch item failure and comes back; the rest of the batch is
done.
"""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from friend_handlers import dal, dead_letter, deadline, redelivery
from friend_handlers.contract import INVALID_METRIC
from friend_handlers.logic.actions import Outcome, apply_action
from friend_handlers.logic.message import InvalidMessageError, parse_message
from friend_handlers.observability import entry_point, logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
"""A batch whose every record failed is answered like any other, with its failures: a raised
error would make it a function error, and a batch that only ran out of time is not one."""
PARKED = "Parked"
"""The outcome recorded for an invalid message."""


@tracer.capture_method
def record_handler(record: SQSRecord) -> Outcome | None:
    """Handle one message unless a copy of it was handled before (then ``None``)."""
    logger.set_correlation_id(record.message_id)
    deadline.check()
    return redelivery.once(lambda: handle_message(record))


def handle_message(record: SQSRecord) -> Outcome | None:
    """Handle one message; ``None`` when it was invalid and parked."""
    try:
        message = parse_message(record.body)
    except InvalidMessageError as invalid:
        redelivery.ensure_not_handled(record.message_id)
        dead_letter.park(record, invalid)
        logger.warning(
            "invalid message parked in the dead-letter queue",
            extra={"reason": invalid.reason.value, "detail": invalid.detail},
        )
        metrics.add_metric(name=INVALID_METRIC, unit=MetricUnit.Count, value=1)
        dal.settle(lambda: dal.apply(mark=redelivery.mark(record.message_id, PARKED)))
        return None
    outcome = apply_action(message, lambda result: redelivery.mark(record.message_id, result))
    logger.info("action handled", extra={**message.model_dump(mode="json"), "outcome": outcome})
    metrics.add_metric(
        name=f"{message.friend_action.value}{outcome.value}", unit=MetricUnit.Count, value=1
    )
    return outcome


@entry_point()
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    with deadline.invocation(context):
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
