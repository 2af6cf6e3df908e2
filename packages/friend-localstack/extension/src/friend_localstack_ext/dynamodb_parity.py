"""Corrections to moto's DynamoDB so that what it stores and streams matches AWS.

LocalStack's own DynamoDB providers forward to DynamoDB Local (a Java server it downloads at
run time); on a host without it, moto serves DynamoDB instead. moto is close to AWS for tables
and items, but its streams differ in ways that event source mapping filters and stream handlers
see. Each correction below names the AWS behaviour it restores:

- Record shape (``StreamRecord``): what friend-handlers' tests correct too, written once in
  :func:`friend_moto.stream_records.aws_record` (no empty image, eventVersion ``1.1``,
  ``ApproximateCreationDateTime`` in epoch seconds); besides, the table's region (moto: always
  us-east-1) and the size of what is actually sent.
- No record for a write that changes nothing: "If you perform a PutItem or UpdateItem operation
  that does not change any data in an item, DynamoDB Streams does not write a stream record".
- One INSERT for an UpdateItem that creates its item (moto writes a keys-only INSERT first).
- A cancelled TransactWriteItems leaves no trace: moto rolls back by swapping in a copy of the
  table, which detached every open shard iterator from the live stream (consumers stopped
  seeing new records) and left the cancelled writes' records readable through them. Here the
  live table object is kept and restored in place, and the records are truncated.

The patches are applied once, when the provider module is imported, with LocalStack's own
patch utility, and every call into moto runs under one lock (see ``dynamodb.MOTO_LOCK``).
"""

from __future__ import annotations

from typing import Any

from friend_moto.stream_records import aws_record
from localstack.utils.patch import patch
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import StreamShard, Table
from moto.dynamodb.models.utilities import dynamo_json_dump

_SIZED_PARTS = ("Keys", "NewImage", "OldImage")


def _aws_record(record: dict[str, Any], region: str) -> dict[str, Any]:
    """The record AWS would have written for one moto stream record of a table in ``region``."""
    corrected = aws_record(record)
    dynamodb = corrected["dynamodb"]
    # moto measured the record with its empty images; measure what is actually sent.
    dynamodb["SizeBytes"] = len(
        dynamo_json_dump({k: v for k, v in dynamodb.items() if k in _SIZED_PARTS})
    )
    corrected["awsRegion"] = region
    return corrected


@patch(StreamShard.add)
def _add_stream_record(add: Any, self: StreamShard, old: Item | None, new: Item | None) -> None:
    if old is not None and new is not None and old.to_json() == new.to_json():
        return
    before = len(self.items)
    add(self, old, new)
    if len(self.items) > before:
        added = self.items[-1]
        added.record = _aws_record(added.record, self.table.region_name)


@patch(DynamoDBBackend.update_item)
def _update_item(
    update_item: Any, self: DynamoDBBackend, table_name: str, *args: Any, **kwargs: Any
) -> Item:
    table: Table | None = self.tables.get(table_name)
    shard = table.stream_shard if table is not None else None
    before = len(shard.items) if shard is not None else 0
    item: Item = update_item(self, table_name, *args, **kwargs)
    if shard is not None:
        added = shard.items[before:]
        if len(added) == 2 and all(r.record["eventName"] == "INSERT" for r in added):
            # The keys-only placeholder and the real insert: AWS writes only the latter.
            # Sequence numbers are positions in moto's shard, so re-add rather than delete one.
            del shard.items[before:]
            shard.add(None, item)
    return item


@patch(DynamoDBBackend.transact_write_items)
def _transact_write_items(
    transact_write_items: Any, self: DynamoDBBackend, transact_items: list[dict[str, Any]]
) -> None:
    names = {op.get("TableName") for entry in transact_items for op in entry.values()}
    live = {name: self.tables[name] for name in names if name in self.tables}
    stream_lengths = {
        name: len(table.stream_shard.items)
        for name, table in live.items()
        if table.stream_shard is not None
    }
    try:
        transact_write_items(self, transact_items)
    except Exception:
        for name, table in live.items():
            # moto put its pre-transaction copy in place; take its items into the live table.
            table.items = self.tables[name].items
            if table.stream_shard is not None and name in stream_lengths:
                del table.stream_shard.items[stream_lengths[name] :]
            self.tables[name] = table
        raise
