"""DynamoDB stream records as AWS writes them, from the records moto writes.

moto's streams differ from AWS's in ways that Lambda event filters and stream handlers see:

- AWS omits ``OldImage`` on INSERT and ``NewImage`` on REMOVE; moto sends them empty, so a
  filter on ``OldImage`` would see ``{}`` and an empty image would look present;
- AWS says ``eventVersion`` 1.1, moto 1.0;
- Lambda receives ``ApproximateCreationDateTime`` in epoch seconds, rounded down, written as a
  floating-point number; moto holds a naive UTC datetime (LocalStack's moto-ext its ISO string),
  and boto3 parses whatever a server sends into a datetime.

Two rigs stream through moto: the LocalStack extension (its DynamoDB is moto, in the server)
and friend-handlers' tests (moto in-process, read back through boto3). Both correct each record
with :func:`aws_record`, so the rule is written once. Nothing here imports moto: a record is
plain data, whichever side of the wire it was read on.
"""

from __future__ import annotations

import calendar
import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any

EVENT_VERSION = "1.1"
_ABSENT_IMAGE = {"INSERT": "OldImage", "REMOVE": "NewImage"}
"""The image AWS leaves out of a record, by event name."""


def aws_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """The stream record AWS would have written where moto wrote ``record`` (a copy)."""
    corrected = copy.deepcopy(dict(record))
    dynamodb = corrected["dynamodb"]
    absent = _ABSENT_IMAGE.get(corrected["eventName"])
    if absent is not None:
        dynamodb.pop(absent, None)
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, str):
        created = datetime.fromisoformat(created)
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = epoch_seconds(created)
    corrected["eventVersion"] = EVENT_VERSION
    return corrected


def epoch_seconds(moment: datetime) -> float:
    """``moment`` in whole seconds since the epoch; a naive datetime is UTC, as moto's are."""
    return float(calendar.timegm(moment.utctimetuple()))
