"""Parking of invalid front-queue messages in the queue's dead-letter queue.

An invalid message can never succeed, so retrying it until the redrive policy gives up would
only delay it and hide the reason. It is sent straight to the dead-letter queue, body unchanged,
with the reason as message attributes, and then counts as handled.
"""

import os
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from friend_handlers import deadline, sqs
from friend_handlers.contract import DLQ_URL_ENV
from friend_handlers.logic.message import InvalidMessageError

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef


def park(record: SQSRecord, invalid: InvalidMessageError) -> None:
    """Send ``record``'s body to the dead-letter queue with why it was refused.

    Any error propagates, so the record fails and the queue's redrive policy parks it instead:
    an invalid message is never lost. (That is also the path of a body so close to SQS's 256 KiB
    limit that the added attributes no longer fit.)
    """
    attributes: dict[str, MessageAttributeValueTypeDef] = {
        "reason": {"DataType": "String", "StringValue": invalid.reason.value},
        "detail": {"DataType": "String", "StringValue": invalid.detail or "-"},
        "source_message_id": {"DataType": "String", "StringValue": record.message_id},
    }
    if record.event_source_arn:
        attributes["source_queue_arn"] = {
            "DataType": "String",
            "StringValue": record.event_source_arn,
        }
    deadline.check()
    sqs.client().send_message(
        QueueUrl=os.environ[DLQ_URL_ENV],
        MessageBody=record.body,
        MessageAttributes=attributes,
    )
