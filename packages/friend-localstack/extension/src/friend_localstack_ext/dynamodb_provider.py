"""DynamoDB and DynamoDB Streams providers served by moto, in process (see ``dynamodb``).

LocalStack's built-in providers for both services forward to DynamoDB Local, a Java server
downloaded at run time; without Java or that download they cannot serve a single request. These
providers (``PROVIDER_OVERRIDE_DYNAMODB=moto``, ``PROVIDER_OVERRIDE_DYNAMODBSTREAMS=moto``)
implement LocalStack's generated APIs and let every operation fall through to moto, the same
mechanism LocalStack uses for its other moto-backed services. LocalStack's consumers keep
working unchanged: CloudFormation's ``AWS::DynamoDB::Table`` and the Lambda event source
mapping poller call these providers through LocalStack's internal clients.

Two things are added on top of plain moto:

- One lock around every call into moto. LocalStack serves requests on a thread pool and moto's
  backends are not thread-safe: without it, two concurrent conditional writes could both pass
  their condition, and a query could iterate a table while another thread changes it. The lock
  is shared by both services because streams read the tables that writes change.
- AWS parity of the stream records and of the stream's lifetime rules (``dynamodb_parity`` for
  what moto stores; shard iterators here expire after 15 minutes, as on AWS, which also bounds
  the memory that pollers asking several times a second would otherwise pile up in moto).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from localstack.aws.api import RequestContext, ServiceResponse
from localstack.aws.api.dynamodb import DynamodbApi
from localstack.aws.api.dynamodbstreams import (
    DynamodbstreamsApi,
    ExpiredIteratorException,
    GetRecordsOutput,
    GetShardIteratorOutput,
    PositiveIntegerObject,
    SequenceNumber,
    ShardId,
    ShardIterator,
    ShardIteratorType,
    StreamArn,
)
from localstack.aws.skeleton import DispatchTable
from localstack.services.moto import MotoFallbackDispatcher, call_moto
from moto.dynamodbstreams.models import dynamodbstreams_backends

from friend_localstack_ext import dynamodb_parity  # noqa: F401 - applies the parity patches

MOTO_LOCK = threading.RLock()
"""Serialises every DynamoDB and DynamoDB Streams call into moto (see the module docstring)."""

SHARD_ITERATOR_LIFETIME_SECONDS = 15 * 60


def serialized_moto_dispatcher(provider: object) -> DispatchTable:
    """LocalStack's moto fallthrough dispatch table, with each operation run under ``MOTO_LOCK``."""
    table = MotoFallbackDispatcher(provider)
    return {operation: _locked(handler) for operation, handler in table.items()}


def _locked(handler: Any) -> Any:
    def call(context: RequestContext, request: Any) -> ServiceResponse:
        with MOTO_LOCK:
            return handler(context, request)

    return call


class MotoDynamoDBProvider(DynamodbApi):
    """DynamoDB: every operation is moto's (the stream side effects are corrected at the source)."""


class MotoDynamoDBStreamsProvider(DynamodbstreamsApi):
    """DynamoDB Streams from moto, with shard iterators that expire as on AWS."""

    def __init__(self) -> None:
        self._issued: OrderedDict[tuple[str, str, str], float] = OrderedDict()
        """(account, region, iterator) -> when it was handed out, oldest first."""

    def get_shard_iterator(
        self,
        context: RequestContext,
        stream_arn: StreamArn,
        shard_id: ShardId,
        shard_iterator_type: ShardIteratorType,
        sequence_number: SequenceNumber | None = None,
        **kwargs: Any,
    ) -> GetShardIteratorOutput:
        response: GetShardIteratorOutput = call_moto(context)
        if iterator := response.get("ShardIterator"):
            self._issue(context, iterator)
        return response

    def get_records(
        self,
        context: RequestContext,
        shard_iterator: ShardIterator,
        limit: PositiveIntegerObject | None = None,
        **kwargs: Any,
    ) -> GetRecordsOutput:
        self._expire_old_iterators()
        backend = dynamodbstreams_backends[context.account_id][context.region]
        if shard_iterator not in backend.shard_iterators:
            raise ExpiredIteratorException(
                "Iterator expired or unknown: shard iterators are valid for 15 minutes "
                "after they are returned. Get a new one with GetShardIterator."
            )
        response: GetRecordsOutput = call_moto(context)
        if next_iterator := response.get("NextShardIterator"):
            self._issue(context, next_iterator)
        return response

    def _issue(self, context: RequestContext, iterator: str) -> None:
        self._issued[(context.account_id, context.region, iterator)] = time.monotonic()

    def _expire_old_iterators(self) -> None:
        cutoff = time.monotonic() - SHARD_ITERATOR_LIFETIME_SECONDS
        while self._issued:
            (account, region, iterator), issued_at = next(iter(self._issued.items()))
            if issued_at > cutoff:
                return
            del self._issued[(account, region, iterator)]
            dynamodbstreams_backends[account][region].shard_iterators.pop(iterator, None)
