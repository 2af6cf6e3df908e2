"""Redrive: process stream batches again that their mapping gave up on.

A stream mapping that exhausts its retries (or its records' maximum age) skips the batch and
sends only a description to the on-failure queue: the stream, the shard, the first and last
sequence numbers and the function. The records themselves stay in the stream for 24 hours. For
each such message, redrive

1. reads the shard from the first sequence number (``GetShardIterator`` ``AT_SEQUENCE_NUMBER``,
   ``GetRecords``) up to the last,
2. keeps the records the mapping's filter criteria deliver (:mod:`.patterns`), exactly the failed
   batch (its size is checked against the message),
3. invokes the mapping's function with them as a DynamoDB stream event, as the mapping would,
4. deletes the message only once the function handled every record.

A message that cannot be redriven stays in the queue (its alarm stays on) and is reported with
the reason. Redriving is safe again and in any order, beside new traffic and ``reconcile``:
every stream reaction is a conditional write guarded by the rows' current state and exchange, and
``request_state`` acts only on a request not yet shown to the other player (``mirrored``, stream
protocol 3), so a replayed request never revives one that was rejected or ended, and records
applied again change nothing. A message deleted is never read again. "Redriven" counts messages
whose batch the function handled, whether or not a record still had anything to change.
"""

import base64
import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools.utilities.parser.models.dynamodb import DDBStreamBatchInfo
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from friend_ops.patterns import UnsupportedPatternError, parse_filters, passes

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

VISIBILITY_SECONDS = 300
"""How long a message being redriven stays hidden from other readers. Ample for reading one
batch and one invocation (stream functions time out after 30 s); messages that could not be
redriven are made visible again at the end of the run."""
EMPTY_WAIT_SECONDS = 1
"""How long a receive waits while the queue shows no message: long polling (any wait) asks
every SQS server, so its empty answer, which ends the run, means the queue is empty; a short
poll asks some of them and can answer empty while messages wait."""
MAX_EMPTY_PAGES = 50
"""Empty GetRecords pages tolerated before the range is declared missing from the shard."""


class Result(StrEnum):
    """What became of one failure message."""

    REDRIVEN = "redriven"
    """The function handled the batch; the message was deleted."""
    FUNCTION_FAILED = "function failed"
    EXPIRED = "expired"
    """The records are no longer in the stream (older than 24 h, or the table was replaced)."""
    UNREADABLE = "unreadable"
    """Not a DynamoDB stream on-failure message."""
    NO_MAPPING = "no mapping"
    """No mapping of that function reads that stream any more."""
    MISMATCH = "batch mismatch"
    """The records found are not the failed batch (count differs, or the filter is unsupported)."""


class FailedBy(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel)

    function_arn: str


class FailureRecord(BaseModel):
    """The part of a stream on-failure record that redrive needs: the batch and its function.

    Powertools' ``DynamoDBStreamLambdaOnFailureDestinationModel`` describes the whole record, and
    its batch part is used as it is; the rest it requires (the response context, the invoke
    count) is not needed here and may be missing when records expired without an invocation.
    """

    batch: DDBStreamBatchInfo = Field(alias="DDBStreamBatchInfo")
    request_context: FailedBy = Field(alias="requestContext")


class Invoker(Protocol):
    """Runs a function on an event; returns its error type (``None`` if none) and payload."""

    def __call__(self, function_arn: str, event: Mapping[str, Any]) -> tuple[str | None, Any]: ...


@dataclass(frozen=True)
class LambdaInvoker:
    """Invokes the function synchronously through the Lambda API, as its mapping does."""

    client: "LambdaClient"

    def __call__(self, function_arn: str, event: Mapping[str, Any]) -> tuple[str | None, Any]:
        response = self.client.invoke(
            FunctionName=function_arn,
            InvocationType="RequestResponse",
            Payload=json.dumps(event, default=_binary).encode(),
        )
        payload = json.loads(response["Payload"].read() or b"null")
        return response.get("FunctionError"), payload


def _binary(value: object) -> str:
    """Binary attribute values travel base64-encoded in Lambda events."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


class RedriveError(Exception):
    def __init__(self, result: Result, detail: str) -> None:
        super().__init__(detail)
        self.result = result


@dataclass
class Summary:
    results: Counter[Result] = field(default_factory=Counter)
    records: int = 0
    problems: list[str] = field(default_factory=list)
    """One line per message left in the queue: its id, result and why."""

    @property
    def left(self) -> int:
        return sum(n for result, n in self.results.items() if result is not Result.REDRIVEN)


def messages_waiting(sqs: "SQSClient", queue_url: str) -> int:
    """Messages in ``queue_url`` now, visible or in flight (approximate, as SQS counts)."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


@dataclass
class Redrive:
    """Redrive of one on-failure queue."""

    sqs: "SQSClient"
    streams: "DynamoDBStreamsClient"
    lambda_: "LambdaClient"
    queue_url: str
    invoke: Invoker
    empty_wait_seconds: int = EMPTY_WAIT_SECONDS
    """See `EMPTY_WAIT_SECONDS`. 0, a short poll, is only for a queue one server holds whole
    (moto's, in the tests)."""
    _filters: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)

    def waiting(self) -> int:
        """Messages in the queue now (approximate, as SQS counts)."""
        return messages_waiting(self.sqs, self.queue_url)

    def run(self, progress: Callable[[Result], None] = lambda _: None) -> Summary:
        """Redrive every message in the queue once; ``progress`` is told each message's result."""
        summary = Summary()
        left: list[str] = []
        try:
            for message in self._messages():
                try:
                    summary.records += self._redrive(message)
                    self.sqs.delete_message(
                        QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                    )
                    result = Result.REDRIVEN
                except RedriveError as error:
                    result = error.result
                    left.append(message["ReceiptHandle"])
                    summary.problems.append(f"{message['MessageId']}: {result.value}: {error}")
                summary.results[result] += 1
                progress(result)
        finally:
            # What could not be redriven is visible again at once: for the next run, and for
            # the alarm, which must stay on while work is missing.
            for receipt in left:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=receipt, VisibilityTimeout=0
                )
        return summary

    def _messages(self) -> Iterator["MessageTypeDef"]:
        """Every message of the queue, each once: taken messages stay hidden until the run ends."""
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=VISIBILITY_SECONDS,
                WaitTimeSeconds=self.empty_wait_seconds,
            ).get("Messages", [])
            if not messages:
                return
            yield from messages

    def _redrive(self, message: "MessageTypeDef") -> int:
        """Invoke the function on the failed batch of ``message``; the number of records."""
        try:
            failure = FailureRecord.model_validate_json(message["Body"])
        except ValidationError as error:
            raise RedriveError(Result.UNREADABLE, str(error).splitlines()[0]) from error
        batch = failure.batch
        function_arn = failure.request_context.function_arn
        patterns = self._filter_of(batch.stream_arn, function_arn)
        try:
            events = [
                event
                for event in self._range(
                    batch.stream_arn,
                    batch.shard_id,
                    batch.start_sequence_number,
                    batch.end_sequence_number,
                )
                if passes(patterns, event)
            ]
        except UnsupportedPatternError as error:
            raise RedriveError(Result.MISMATCH, f"filter of {function_arn}: {error}") from error
        if len(events) != batch.batch_size:
            raise RedriveError(
                Result.MISMATCH,
                f"{len(events)} records match in {batch.shard_id} "
                f"{batch.start_sequence_number}..{batch.end_sequence_number}, "
                f"the failed batch had {batch.batch_size}",
            )
        error_type, payload = self.invoke(function_arn, {"Records": events})
        if error_type:
            detail = payload.get("errorMessage", payload) if isinstance(payload, dict) else payload
            raise RedriveError(Result.FUNCTION_FAILED, f"{error_type}: {detail}")
        failures = payload.get("batchItemFailures") if isinstance(payload, dict) else None
        if failures:
            raise RedriveError(
                Result.FUNCTION_FAILED, f"{len(failures)} of {len(events)} records failed again"
            )
        return len(events)

    def _filter_of(self, stream_arn: str, function_arn: str) -> list[dict[str, Any]]:
        """The filter patterns of the mapping from ``stream_arn`` to ``function_arn``."""
        key = (stream_arn, function_arn)
        if key not in self._filters:
            pages = self.lambda_.get_paginator("list_event_source_mappings").paginate(
                EventSourceArn=stream_arn
            )
            mappings = [
                mapping
                for page in pages
                for mapping in page["EventSourceMappings"]
                if mapping.get("FunctionArn") == function_arn
            ]
            if len(mappings) != 1:
                raise RedriveError(
                    Result.NO_MAPPING,
                    f"{len(mappings)} mappings from {stream_arn} to {function_arn}",
                )
            self._filters[key] = parse_filters(mappings[0].get("FilterCriteria"))
        return self._filters[key]

    def _range(self, stream_arn: str, shard_id: str, first: str, last: str) -> list[dict[str, Any]]:
        """The shard's records from sequence number ``first`` to ``last``, as Lambda events."""
        try:
            iterator: str | None = self.streams.get_shard_iterator(
                StreamArn=stream_arn,
                ShardId=shard_id,
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                SequenceNumber=first,
            )["ShardIterator"]
            events: list[dict[str, Any]] = []
            empty_pages = 0
            while iterator and empty_pages < MAX_EMPTY_PAGES:
                page = self.streams.get_records(ShardIterator=iterator)
                for record in page["Records"]:
                    sequence = int(record["dynamodb"]["SequenceNumber"])
                    if sequence > int(last):
                        return events
                    events.append(_as_event(dict(record), stream_arn))
                    if sequence == int(last):
                        return events
                empty_pages = 0 if page["Records"] else empty_pages + 1
                iterator = page.get("NextShardIterator")
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("TrimmedDataAccessException", "ResourceNotFoundException"):
                raise RedriveError(Result.EXPIRED, f"{shard_id} from {first}: {code}") from error
            raise
        raise RedriveError(Result.EXPIRED, f"{shard_id} ends before sequence number {last}")


def _as_event(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as a Lambda event record: the creation time as epoch seconds (boto3
    parsed it into a datetime) and the stream's ARN, which Lambda adds."""
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = created.timestamp()
    return {**record, "dynamodb": change, "eventSourceARN": stream_arn}
