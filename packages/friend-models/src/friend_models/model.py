"""PynamoDB model of the Friend table.

Region and endpoint are not set here: botocore reads them from the standard AWS environment
(``AWS_REGION``/``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL``), so the same model talks to AWS,
LocalStack or moto. Ours to configure: the table name, because the stack names the table, and
the client's timeouts and retries, because they must fit inside the functions' timeouts (one
place: every handler reads and writes through this model's connection).
"""

import os
import time
from enum import StrEnum
from typing import Any

from pynamodb.attributes import Attribute, BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.constants import PAY_PER_REQUEST_BILLING_MODE, STREAM_NEW_AND_OLD_IMAGE, STRING
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

TABLE_NAME_ENV = "FRIEND_TABLE_NAME"
"""Environment variable that carries the deployed table name (set by the stack)."""
DEFAULT_TABLE_NAME = "Friend"

PLAYER_ID = "player_id"
"""Hash key (S): the player who owns the row."""
FRIEND_ID = "friend_id"
"""Range key (S): the other player of the pair."""
STATE = "state"
LAST_UPDATED = "last_updated"
"""When the row was last written (epoch milliseconds, N), by the writing host's clock.
Information for readers only: no rule compares it, since two hosts' clocks need not agree."""
EXCHANGE_ID = "exchange_id"
"""Which exchange the row belongs to (S): an id drawn when a player sends a Request, carried to
the other player's Pending row and kept through acceptance. The stream side tells a row of the
exchange a record reports from a row of an older or newer one by this id, never by time. Rows
written before the attribute existed have none; all of them count as one exchange."""
MIRRORED = "mirrored"
"""Set (BOOL ``true``) on a Requested row once the other player has been shown the request: the
stream side writes it together with the other player's Pending row (stream protocol 3). A
replayed record of a mirrored request therefore changes nothing. A new request is written
without it; rows of releases before protocol 3 have none. Writing it leaves ``last_updated``
as it was: the request is the same, only its mirroring is recorded."""


class State(StrEnum):
    """State of one row, seen from its owner ``player_id``."""

    REQUESTED = "Requested"
    """The owner asked ``friend_id`` to be friends."""
    PENDING = "Pending"
    """``friend_id`` asked the owner; the owner may accept or reject."""
    FRIENDS = "Friends"


class StateAttribute(Attribute[State]):
    """A :class:`State` stored as its plain string value, so stream filters can match it."""

    attr_type = STRING

    def serialize(self, value: State) -> str:
        return State(value).value

    def deserialize(self, value: str) -> State:
        return State(value)


def now_millis() -> int:
    """Current time in epoch milliseconds, the unit of ``last_updated``."""
    return time.time_ns() // 1_000_000


CONNECT_TIMEOUT_SECONDS = 1
"""Time to open a connection to DynamoDB before the attempt fails (PynamoDB's default: 15 s)."""
READ_TIMEOUT_SECONDS = 2
"""Time to wait for each read of DynamoDB's answer (PynamoDB's default: 30 s). DynamoDB answers
in milliseconds; waiting longer only lets a Lambda time out before the handler can answer."""
MAX_RETRY_ATTEMPTS = 1
"""Retries of a failed attempt (timeout, throttling, 5xx) inside one call (default: 3)."""
RETRY_BACKOFF_CAP_SECONDS = 20
"""botocore's standard retry mode, which PynamoDB uses, sleeps a random part of
``min(2 ** (n - 1), 20)`` seconds before retry ``n`` (that scale is for throttling; other errors
back off from 25 ms)."""

CALL_BUDGET_SECONDS = (1 + MAX_RETRY_ATTEMPTS) * (
    CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS
) + sum(min(2 ** (n - 1), RETRY_BACKOFF_CAP_SECONDS) for n in range(1, MAX_RETRY_ATTEMPTS + 1))
"""The longest one DynamoDB call through :class:`Friend` can take before it raises, when the
table does not answer: every attempt times out, with the longest backoff between attempts (here
2 * (1 + 2) + 1 = 7 s). Each function's timeout must leave room for it, so that a slow table ends
in the handler's own answer (the read API's JSON 503, a failed batch record) and not in a Lambda
timeout, which API Gateway turns into a bare 5xx."""


class Friend(Model):
    """One directed edge of the friend graph: ``player_id``'s view of ``friend_id``."""

    class Meta:
        table_name = os.environ.get(TABLE_NAME_ENV, DEFAULT_TABLE_NAME)
        # How the table is built, wherever it is built (the stack, the tests' tables):
        # on-demand, and a stream with both images, which the stream filters match on.
        billing_mode = PAY_PER_REQUEST_BILLING_MODE
        stream_view_type = STREAM_NEW_AND_OLD_IMAGE
        connect_timeout_seconds = CONNECT_TIMEOUT_SECONDS
        read_timeout_seconds = READ_TIMEOUT_SECONDS
        max_retry_attempts = MAX_RETRY_ATTEMPTS

    player_id = UnicodeAttribute(hash_key=True, attr_name=PLAYER_ID)
    friend_id = UnicodeAttribute(range_key=True, attr_name=FRIEND_ID)
    state = StateAttribute(attr_name=STATE)
    last_updated = NumberAttribute(attr_name=LAST_UPDATED)
    exchange_id = UnicodeAttribute(attr_name=EXCHANGE_ID, null=True)
    mirrored = BooleanAttribute(attr_name=MIRRORED, null=True)

    def to_dict(self) -> dict[str, Any]:
        """The row as plain JSON-ready data, keyed by the table's attribute names."""
        return {
            PLAYER_ID: self.player_id,
            FRIEND_ID: self.friend_id,
            STATE: self.state.value,
            LAST_UPDATED: int(self.last_updated),
        }


def transact_write() -> TransactWrite:
    """A write transaction on the connection of :class:`Friend`.

    PynamoDB transactions need an explicit connection; reusing the model's own one means a
    transaction talks to the same region and endpoint as every other call, and the process keeps
    a single botocore client (creating one costs tens of milliseconds on a cold start).
    """
    return TransactWrite(connection=Friend._get_connection().connection)
