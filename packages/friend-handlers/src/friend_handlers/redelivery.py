"""At most once per queued message, although SQS delivers each at least once.

The state guards cannot tell a second copy of a message from a new message: after an Unfriend
and a new Request, a redelivered old Accept would make the two players friends without the
second consent, and a redelivered Request would revive a rejected one. So the front function
records every message it handles, by SQS message id, in a DynamoDB table of its own, and the
record is written **in the same transaction** as the change of the sender's row
(:class:`friend_handlers.dal.Mark`): either both happen or neither. The record's condition is
"no record of this message yet", so a copy, whenever it comes (after a crash right after the
commit, after an answer lost on the way back, or at the same time as the first delivery on
another host), fails that condition and applies nothing. DynamoDB says which item of a
cancelled transaction failed its condition, so a copy is told from a row in another state.

- A message whose row is not in the state its action needs is recorded too, on its own, so a
  later copy cannot apply it once the row has moved on. (A copy that comes before that record
  and finds the row moved on applies, and the record then finds it there: still once.)
- An invalid message is parked in the dead-letter queue (:mod:`.dead_letter`), then recorded.
  A crash between the two gives at worst a second copy in the dead-letter queue, never a lost
  message; a copy of a message recorded as parked is not parked again.

Why not Powertools' Idempotency utility: it stores its record in calls of its own, before and
after the handler (in progress, then completed). A write that succeeded followed by a failed
completion (a throttle, a timeout, a crash) leaves an in-progress record that expires with the
invocation's deadline, long before SQS delivers the message again after the visibility timeout:
the copy then applies a second time. Its record cannot join our transaction, and only the
transaction closes that gap.
"""

import os
import time
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit
from friend_models import CONNECT_TIMEOUT_SECONDS, MAX_RETRY_ATTEMPTS, READ_TIMEOUT_SECONDS
from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.models import Model

from friend_handlers import deadline
from friend_handlers.contract import (
    IDEMPOTENCY_EXPIRY_ATTRIBUTE,
    IDEMPOTENCY_KEY_ATTRIBUTE,
    IDEMPOTENCY_TABLE_ENV,
    REMEMBER_SECONDS,
)
from friend_handlers.dal import AlreadyMarkedError, Mark
from friend_handlers.observability import logger, metrics

if TYPE_CHECKING:
    from collections.abc import Callable

DEFAULT_IDEMPOTENCY_TABLE_NAME = "FriendIdempotency"
KEY_ATTRIBUTE = IDEMPOTENCY_KEY_ATTRIBUTE
"""Partition key (S) of the table: the SQS message id, which every copy of a message shares."""
EXPIRY_ATTRIBUTE = IDEMPOTENCY_EXPIRY_ATTRIBUTE
"""Epoch seconds after which a record is forgotten; the table's TTL attribute."""
REDELIVERED_METRIC = "MessageRedelivered"


class HandledMessage(Model):
    """The record that a message was handled, and how (for whoever looks at the table)."""

    class Meta:
        table_name = os.environ.get(IDEMPOTENCY_TABLE_ENV, DEFAULT_IDEMPOTENCY_TABLE_NAME)
        # The same time budget per call as the Friend table's client (friend_models).
        connect_timeout_seconds = CONNECT_TIMEOUT_SECONDS
        read_timeout_seconds = READ_TIMEOUT_SECONDS
        max_retry_attempts = MAX_RETRY_ATTEMPTS

    message_id = UnicodeAttribute(hash_key=True, attr_name=KEY_ATTRIBUTE)
    expiration = NumberAttribute(attr_name=EXPIRY_ATTRIBUTE)
    outcome = UnicodeAttribute()


class AlreadyHandledError(Exception):
    """This delivery is a copy of a message handled before."""


def mark(message_id: str, outcome: str) -> Mark:
    """The record of ``message_id`` handled with ``outcome``, written only if there is none."""
    record = HandledMessage(
        message_id, expiration=int(time.time()) + REMEMBER_SECONDS, outcome=outcome
    )
    return Mark(record, HandledMessage.message_id.does_not_exist())


def once[T](handle: "Callable[[], T]") -> T | None:
    """``handle()``, unless it finds the message recorded before (it raised
    :class:`friend_handlers.dal.AlreadyMarkedError` or :class:`AlreadyHandledError`, having
    changed nothing): then this delivery is a copy; count and log it, return ``None``."""
    try:
        return handle()
    except (AlreadyMarkedError, AlreadyHandledError):
        logger.info("redelivered message skipped: handled before")
        metrics.add_metric(name=REDELIVERED_METRIC, unit=MetricUnit.Count, value=1)
        return None


def ensure_not_handled(message_id: str) -> None:
    """Raise :class:`AlreadyHandledError` when ``message_id`` was recorded before: for work that
    cannot join a transaction (parking), checked before it starts."""
    deadline.check()
    try:
        HandledMessage.get(message_id, consistent_read=True)
    except DoesNotExist:
        return
    raise AlreadyHandledError(message_id)
