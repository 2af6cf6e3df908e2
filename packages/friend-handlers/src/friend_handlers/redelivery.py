"""At most once per queued message, although SQS delivers each at least once.

The state guards cannot tell a second copy of a message from a new message: after an Unfriend
and a new Request, a redelivered old Accept would make the two players friends without the
second consent, and a redelivered Request would revive a rejected one. So the front function
remembers every message it handled, by SQS message id, with Powertools' Idempotency utility on
a DynamoDB table of its own: the first delivery runs and its outcome is stored; a later copy
gets the stored outcome back and touches nothing. A delivery that raises leaves no record, so
its retry runs.
"""

import os
from collections.abc import Callable
from typing import Any, cast

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from friend_handlers.contract import (
    IDEMPOTENCY_EXPIRY_ATTRIBUTE,
    IDEMPOTENCY_KEY_ATTRIBUTE,
    IDEMPOTENCY_TABLE_ENV,
    REMEMBER_SECONDS,
)
from friend_handlers.observability import logger, metrics

DEFAULT_IDEMPOTENCY_TABLE_NAME = "FriendIdempotency"
KEY_ATTRIBUTE = IDEMPOTENCY_KEY_ATTRIBUTE
"""Partition key (S) of the table: the function and a hash of the message id."""
EXPIRY_ATTRIBUTE = IDEMPOTENCY_EXPIRY_ATTRIBUTE
"""Epoch seconds after which a record is forgotten; the table's TTL attribute."""
REDELIVERED_METRIC = "MessageRedelivered"


def _already_handled(response: Any, idempotent_data: DataRecord) -> Any:
    """Count and log a copy of a message that was handled before; hand back its outcome."""
    logger.info(
        "redelivered message skipped: handled before",
        extra={"outcome": response, "idempotency_key": idempotent_data.idempotency_key},
    )
    metrics.add_metric(name=REDELIVERED_METRIC, unit=MetricUnit.Count, value=1)
    return response


config = IdempotencyConfig(
    event_key_jmespath="messageId",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=REMEMBER_SECONDS,
    response_hook=_already_handled,
)
"""Keyed on the SQS message id, which every copy of a message shares. The handler registers
each invocation's context, so a delivery cut short by a timeout frees its message for a retry
once that invocation's time is up."""


def once_per_message[**P, R](handler: Callable[P, R]) -> Callable[P, R]:
    """``handler`` (called as ``handler(record=<SQS record>)``) run at most once per message."""
    persistence = DynamoDBPersistenceLayer(
        table_name=os.environ.get(IDEMPOTENCY_TABLE_ENV, DEFAULT_IDEMPOTENCY_TABLE_NAME),
        key_attr=KEY_ATTRIBUTE,
        expiry_attr=EXPIRY_ATTRIBUTE,
    )
    return cast(
        "Callable[P, R]",
        idempotent_function(
            handler,
            data_keyword_argument="record",
            persistence_store=persistence,
            config=config,
        ),
    )
