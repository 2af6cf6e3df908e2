"""The deployed service on moto, driven in-process, and what its players asked for.

- Players' actions go through the real front function (an SQS event as the queue's mapping
  delivers it); each stream mapping reads the table's stream on its own and hands its filter's
  records, as one batch, to its real stream function. A mapping can give a batch up as Lambda
  does: the function never ran (records lost) or ran and timed out; either way the batch's
  description goes to the stream failure queue, which :meth:`Service.redrive` replays with the
  real redrive command.
- :class:`Oracle` folds the actions the front applied, in order, into what each pair must end
  as, whatever was lost and recovered on the way.
"""

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from friend_handlers.filters import STREAM_FILTERS
from friend_handlers.handlers import front
from friend_models import EXCHANGE_ID, FRIEND_ID, PLAYER_ID, STATE, State
from friend_ops.patterns import passes
from friend_ops.redrive import Redrive, Summary

from .conftest import REGION, TABLE_NAME, Aws, HandlerInvoker, InvocationContext

R, P, F = State.REQUESTED, State.PENDING, State.FRIENDS
HANDLERS = tuple(STREAM_FILTERS)
ACTIONS = ("Request", "Accept", "Reject", "Unfriend")


class Delivery(StrEnum):
    """How a mapping's batch ends."""

    HANDLED = "handled"
    LOST = "lost"
    """The mapping gave up before the function ran: the records reach it only by redrive."""
    TIMED_OUT = "timed out"
    """The function applied the records but did not answer in time: given up all the same."""


@dataclass(frozen=True)
class Asked:
    """What a pair's players last asked: ``state`` Requested (by ``player``) or Friends, and
    the exchanges that decision belongs to."""

    state: State
    player: str
    exchanges: frozenset[str | None]


class Oracle:
    """What each pair must end as: the players' applied actions folded in order.

    Request by p: requested by p, or Friends if the other player's request stands (a mutual
    request: either exchange may name the friendship). Accept: Friends. Reject, Unfriend: nothing,
    for the exchange of the row they removed; a newer request than that stands (an Unfriend of
    a friendship the other player already ended and asked again after).
    """

    def __init__(self) -> None:
        self.asked: dict[frozenset[str], Asked | None] = {}

    def apply(self, player: str, friend: str, action: str, exchange: str | None) -> None:
        pair = frozenset((player, friend))
        now = self.asked.get(pair)
        if action == "Request":
            if now is not None and now.state is R and now.player == friend:
                self.asked[pair] = Asked(F, player, now.exchanges | {exchange})
            else:
                self.asked[pair] = Asked(R, player, frozenset({exchange}))
        elif action == "Accept":
            self.asked[pair] = Asked(F, player, frozenset({exchange}))
        elif now is not None and exchange in now.exchanges:
            self.asked[pair] = None

    def rows(self) -> dict[tuple[str, str], State]:
        """The rows the table must hold once drained."""
        expected: dict[tuple[str, str], State] = {}
        for pair, asked in self.asked.items():
            if asked is None:
                continue
            (friend,) = pair - {asked.player}
            expected[(asked.player, friend)] = asked.state
            expected[(friend, asked.player)] = P if asked.state is R else F
        return expected


class Service:
    """Front and stream functions on moto, with one stream position per mapping."""

    def __init__(self, aws: Aws) -> None:
        self.aws = aws
        self.invoke = HandlerInvoker(aws.lambda_)
        self.after: dict[str, int] = dict.fromkeys(HANDLERS, -1)
        self.delivered: list[tuple[str, list[dict[str, Any]]]] = []
        """Every batch handed to a function (or given up), for stale replays."""
        self.failures: list[str] = []
        """Every failure message a mapping sent, in order."""
        self.oracle = Oracle()
        self.sent: list[dict[str, Any]] = []
        """Every message the front was handed, for redeliveries."""
        self._stream: list[dict[str, Any]] = []

    # players ---------------------------------------------------------------------------------

    def act(self, player: str, friend: str, action: str) -> bool:
        """Send one action through the front function; whether it changed the sender's row."""
        before = self.row(player, friend)
        body = json.dumps({"player_id": player, "friend_id": friend, "friend_action": action})
        record = {
            "messageId": str(uuid.uuid4()),
            "receiptHandle": "handle",
            "body": body,
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1764000000000",
                "SenderId": "sender",
                "ApproximateFirstReceiveTimestamp": "1764000000000",
            },
            "messageAttributes": {},
            "md5OfBody": "0" * 32,
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:front",
            "awsRegion": REGION,
        }
        self.sent.append(record)
        self._front(record)
        after = self.row(player, friend)
        if after != before:
            changed = after if action == "Request" else before
            assert changed is not None
            self.oracle.apply(player, friend, action, changed.get(EXCHANGE_ID, {}).get("S"))
        return after != before

    def redeliver(self, index: int) -> None:
        """The queue delivers a message the front already handled once more (SQS is at least
        once): it must change nothing."""
        record = self.sent[index]
        message = json.loads(record["body"])
        before = self.row(message["player_id"], message["friend_id"])
        self._front(record)
        assert self.row(message["player_id"], message["friend_id"]) == before

    def _front(self, record: Mapping[str, Any]) -> None:
        context = InvocationContext(
            function_name="front",
            invoked_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:front",
            memory_limit_in_mb=256,
            log_group_name="/aws/lambda/front",
        )
        assert front.handler({"Records": [dict(record)]}, context) == {"batchItemFailures": []}

    # the stream ------------------------------------------------------------------------------

    def records(self) -> list[dict[str, Any]]:
        """Every record of the stream so far, as Lambda hands it to a function.

        Read on from the last record seen with a fresh iterator each time (moto rolls a
        cancelled transaction back by restoring a copy of the table, and an iterator taken
        before that keeps reading the discarded copy's shard)."""
        shards = self.aws.streams.describe_stream(StreamArn=self.aws.stream_arn)[
            "StreamDescription"
        ]["Shards"]
        for shard in shards:
            seen = [r for r in self._stream if r["shard"] == shard["ShardId"]]
            position: dict[str, str] = (
                {
                    "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                    "SequenceNumber": str(_sequence(seen[-1])),
                }
                if seen
                else {"ShardIteratorType": "TRIM_HORIZON"}
            )
            iterator = self.aws.streams.get_shard_iterator(
                StreamArn=self.aws.stream_arn, ShardId=shard["ShardId"], **position
            )["ShardIterator"]
            while iterator:
                page = self.aws.streams.get_records(ShardIterator=iterator, Limit=1000)
                self._stream += [self._as_event(r, shard["ShardId"]) for r in page["Records"]]
                iterator = page.get("NextShardIterator") if page["Records"] else None
        return self._stream

    def _as_event(self, record: Mapping[str, Any], shard_id: str) -> dict[str, Any]:
        shaped: dict[str, Any] = json.loads(json.dumps(record, default=_epoch_seconds))
        shaped["eventSourceARN"] = self.aws.stream_arn
        shaped["shard"] = shard_id
        return shaped

    def pending(self, handler: str, *, read: bool = True) -> list[dict[str, Any]]:
        """The records ``handler``'s mapping has not delivered yet that its filter lets through
        (``read``: read the stream on first)."""
        return [
            record
            for record in (self.records() if read else self._stream)
            if _sequence(record) > self.after[handler] and passes([STREAM_FILTERS[handler]], record)
        ]

    def deliver(self, handler: str, how: Delivery = Delivery.HANDLED, *, read: bool = True) -> bool:
        """Hand ``handler``'s pending records to it as one batch; whether there were any."""
        batch = self.pending(handler, read=read)
        if not batch:
            return False
        self.after[handler] = _sequence(batch[-1])
        self.delivered.append((handler, batch))
        if how is not Delivery.LOST:
            self.run(handler, batch)
        if how is not Delivery.HANDLED:
            self.failures.append(
                failure_message(self.aws, handler, batch[0], batch[-1], len(batch))
            )
        return True

    def run(self, handler: str, batch: Iterable[Mapping[str, Any]]) -> None:
        """Invoke ``handler``'s function on ``batch``; every record must succeed."""
        event = {"Records": [{k: v for k, v in r.items() if k != "shard"} for r in batch]}
        error, response = self.invoke(self.aws.functions[handler], event)
        assert (error, response) == (None, {"batchItemFailures": []}), response

    def drain(self) -> None:
        """Deliver every mapping's records, and the records those cause, until none is left."""
        while True:
            self.records()
            if not any([self.deliver(handler, read=False) for handler in HANDLERS]):
                return

    # operations ------------------------------------------------------------------------------

    def redrive(self, bodies: Iterable[str]) -> Summary:
        """Put failure messages in the queue, in this order, and run the redrive command."""
        for body in bodies:
            self.aws.sqs.send_message(QueueUrl=self.aws.failure_queue_url, MessageBody=body)
        return Redrive(
            sqs=self.aws.sqs,
            streams=self.aws.streams,
            lambda_=self.aws.lambda_,
            queue_url=self.aws.failure_queue_url,
            invoke=self.invoke,
            empty_wait_seconds=0,  # moto's queue is one server's: a short poll sees all of it
        ).run()

    # the table -------------------------------------------------------------------------------

    def row(self, player: str, friend: str) -> dict[str, Any] | None:
        key = {PLAYER_ID: {"S": player}, FRIEND_ID: {"S": friend}}
        answer = self.aws.dynamodb.get_item(TableName=TABLE_NAME, Key=key, ConsistentRead=True)
        return answer.get("Item")

    def items(self) -> dict[tuple[str, str], dict[str, Any]]:
        pages = self.aws.dynamodb.get_paginator("scan").paginate(
            TableName=TABLE_NAME, ConsistentRead=True
        )
        return {(i[PLAYER_ID]["S"], i[FRIEND_ID]["S"]): i for page in pages for i in page["Items"]}

    def assert_as_asked(self) -> None:
        """The pair invariant holds (of one exchange, too) and every pair is as its players
        last asked."""
        items = self.items()
        states = {key: State(i[STATE]["S"]) for key, i in items.items()}
        for (player, friend), state in states.items():
            mirror = items.get((friend, player))
            assert mirror is not None, f"({player},{friend})={state} without its mirror"
            pair = {state, State(mirror[STATE]["S"])}
            assert pair in ({R, P}, {F}), (player, friend, pair)
            if pair == {R, P}:
                exchange = items[(player, friend)].get(EXCHANGE_ID)
                assert exchange == mirror.get(EXCHANGE_ID), (player, friend)
        assert states == self.oracle.rows()


def _sequence(record: Mapping[str, Any]) -> int:
    return int(record["dynamodb"]["SequenceNumber"])


def _epoch_seconds(value: object) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def failure_message(
    aws: Aws, handler: str, first: Mapping[str, Any], last: Mapping[str, Any], batch_size: int
) -> str:
    """The message a stream mapping sends to its on-failure queue when it gives up a batch."""
    return json.dumps(
        {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": aws.functions[handler],
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": 6,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": "2026-11-26T10:00:00.000Z",
            "DDBStreamBatchInfo": {
                "shardId": first["shard"],
                "startSequenceNumber": first["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": last["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": "2026-11-26T09:59:00Z",
                "approximateArrivalOfLastRecord": "2026-11-26T09:59:01Z",
                "batchSize": batch_size,
                "streamArn": aws.stream_arn,
            },
        }
    )
