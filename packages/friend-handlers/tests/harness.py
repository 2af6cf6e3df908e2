"""Events in the shapes AWS delivers, built from real (moto) resources, and the chain driver.

- SQS events: messages are sent to and received from a moto queue, then converted exactly as the
  Lambda SQS event source mapping does (field names, attribute layout, ARN, region).
- DynamoDB stream events: records are read back through moto's DynamoDB Streams API and wrapped
  as the stream event source mapping does (``eventSourceARN`` added), after
  ``friend_moto.stream_records`` reshaped them into what AWS writes (moto's empty images
  dropped, ``eventVersion`` 1.1, ``ApproximateCreationDateTime`` in epoch seconds).
- Routing: each stream record goes to the handler whose ``STREAM_FILTERS`` pattern matches, as
  evaluated by moto's EventBridge pattern matcher (Lambda event filtering uses EventBridge
  pattern syntax), never by a matcher written here.
- Hosts: each invocation may run on a clock of its own (``host_clock``, through the handlers'
  ``friend_handlers.dal.clock`` seam), as Lambda hosts' clocks drift apart.
- REST events: API Gateway REST (v1) proxy events with every field the service sends, the path
  and path parameters percent-encoded as API Gateway REST delivers them.
"""

import json
import random
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import combinations, permutations
from typing import Any
from urllib.parse import quote

import pytest
from friend_handlers import dal
from friend_handlers.filters import STREAM_FILTERS
from friend_handlers.handlers import (
    accept_state,
    front,
    reject_state,
    request_state,
    unfriend_state,
)
from friend_models import MIRRORED, Friend, State, now_millis
from friend_moto.stream_records import aws_record
from moto.events.models import EventPattern

from .conftest import REGION, TEST_TABLE_NAME, Aws, HostDied

STREAM_HANDLERS = {
    "request_state": request_state.handler,
    "accept_state": accept_state.handler,
    "reject_state": reject_state.handler,
    "unfriend_state": unfriend_state.handler,
}
NO_FAILURES = {"batchItemFailures": []}
"""A batch handler's answer when every record of the batch succeeded."""
PATTERNS = {name: EventPattern.load(json.dumps(rule)) for name, rule in STREAM_FILTERS.items()}


def message(player_id: str, friend_id: str, action: str) -> str:
    return json.dumps({"player_id": player_id, "friend_id": friend_id, "friend_action": action})


# SQS ------------------------------------------------------------------------------------------


def send(aws: Aws, *bodies: str) -> None:
    for body in bodies:
        aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody=body)


def receive_sqs_event(aws: Aws, max_messages: int = 10) -> dict[str, Any]:
    """Up to ``max_messages`` messages of the front queue as the Lambda SQS event."""
    received = aws.sqs.receive_message(
        QueueUrl=aws.queue_url,
        MaxNumberOfMessages=max_messages,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    return {"Records": [_sqs_record(aws, message) for message in received]}


def sqs_event(aws: Aws, *bodies: str) -> dict[str, Any]:
    """Send ``bodies`` to the front queue and receive them as one Lambda SQS event."""
    send(aws, *bodies)
    event = receive_sqs_event(aws, max_messages=len(bodies))
    assert [record["body"] for record in event["Records"]] == list(bodies)
    return event


def _sqs_record(aws: Aws, received: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "messageId": received["MessageId"],
        "receiptHandle": received["ReceiptHandle"],
        "body": received["Body"],
        "attributes": dict(received.get("Attributes", {})),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in received.get("MessageAttributes", {}).items()
        },
        "md5OfBody": received["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": aws.queue_arn,
        "awsRegion": REGION,
    }


def settle_sqs_batch(aws: Aws, event: Mapping[str, Any], response: Mapping[str, Any]) -> None:
    """What the event source mapping does after a batch: delete every record not reported as
    failed; the failed ones become visible again and are retried."""
    failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
    for record in event["Records"]:
        if record["messageId"] not in failed:
            aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=record["receiptHandle"])


def dead_letters(aws: Aws) -> list[dict[str, Any]]:
    received = aws.sqs.receive_message(
        QueueUrl=aws.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", [])
    return list(received)


# DynamoDB streams -----------------------------------------------------------------------------


class StreamReader:
    """Reads the table's stream from the start, as an event source mapping would.

    It checkpoints by sequence number and asks for a fresh shard iterator on every read instead
    of following ``NextShardIterator``: moto rolls a cancelled transaction back by restoring a
    copy of the table, and an iterator taken before that keeps reading the discarded copy's
    shard, silently missing every later record.
    """

    PAGE = 1000

    def __init__(self, aws: Aws) -> None:
        self._aws = aws
        description = aws.streams.describe_stream(StreamArn=aws.stream_arn)["StreamDescription"]
        self._after: dict[str, str | None] = {
            shard["ShardId"]: None for shard in description["Shards"]
        }

    def read(self) -> list[dict[str, Any]]:
        """Every record written since the last read, in stream order, in Lambda's shape."""
        records: list[dict[str, Any]] = []
        for shard_id in self._after:
            while True:
                page = self._page(shard_id)
                records.extend(self._as_lambda_record(record) for record in page)
                if page:
                    self._after[shard_id] = page[-1]["dynamodb"]["SequenceNumber"]
                if len(page) < self.PAGE:
                    break
        return records

    def _page(self, shard_id: str) -> list[dict[str, Any]]:
        after = self._after[shard_id]
        position: dict[str, str] = (
            {"ShardIteratorType": "TRIM_HORIZON"}
            if after is None
            else {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
        )
        iterator = self._aws.streams.get_shard_iterator(
            StreamArn=self._aws.stream_arn, ShardId=shard_id, **position
        )["ShardIterator"]
        page = self._aws.streams.get_records(ShardIterator=iterator, Limit=self.PAGE)
        return list(page["Records"])

    def _as_lambda_record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        shaped = aws_record(record)
        shaped["eventSourceARN"] = self._aws.stream_arn
        return shaped


def stream_event(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    return {"Records": list(records)}


def routes(record: Mapping[str, Any]) -> list[str]:
    """The stream handlers whose filter pattern lets ``record`` through."""
    return [name for name, pattern in PATTERNS.items() if pattern.matches_event(dict(record))]


# API Gateway REST -----------------------------------------------------------------------------


def rest_event(
    resource: str,
    path_parameters: Mapping[str, str],
    query: Mapping[str, str] | None = None,
    *,
    encoded: bool = False,
    method: str = "GET",
    body: str | None = None,
    claims: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A request on ``resource`` (API Gateway's template, e.g. ``/friends/{playerId}``), a GET
    unless ``method`` says otherwise. ``claims``: the token claims a Cognito user pool
    authorizer hands on (``requestContext.authorizer.claims``).

    A client percent-encodes each id into its path segment (every UTF-8 byte outside RFC 3986's
    unreserved characters), and API Gateway REST hands ``path`` and
    ``pathParameters`` on still encoded, as received. ``encoded=True``: the values are already
    the segments as a client sent them (to send malformed or partial encodings).
    """
    segments = {
        name: value if encoded else quote(value, safe="") for name, value in path_parameters.items()
    }
    path = resource
    for name, segment in segments.items():
        path = path.replace("{" + name + "}", segment)
    request_id = str(uuid.uuid4())
    headers = {"Accept": "application/json", "Host": "api.example.com"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    context: dict[str, Any] = {}
    if claims is not None:
        context["authorizer"] = {"claims": dict(claims)}
    return {
        "version": "1.0",
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": dict(query) if query else None,
        "multiValueQueryStringParameters": (
            {name: [value] for name, value in query.items()} if query else None
        ),
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "extendedRequestId": "extended-" + request_id,
            "httpMethod": method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "sourceIp": "192.0.2.1",
                "user": None,
                "userAgent": "pytest",
                "userArn": None,
            },
            "path": "/prod" + path,
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": "24/Nov/2026:18:00:00 +0000",
            "requestTimeEpoch": 1795543200000,
            "resourceId": "res123",
            "resourcePath": resource,
            "stage": "prod",
            **context,
        },
        "pathParameters": segments or None,
        "stageVariables": None,
        "body": body,
        "isBase64Encoded": False,
    }


def emitted_metrics(capsys: pytest.CaptureFixture[str]) -> dict[str, int]:
    """The EMF metric values the invocations printed, summed by name (Powertools prints EMF to
    stdout, one line per invocation)."""
    metrics: Counter[str] = Counter()
    for line in capsys.readouterr().out.splitlines():
        entry = json.loads(line)
        for definition in entry["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            value = entry[definition["Name"]]
            metrics[definition["Name"]] += int(sum(value) if isinstance(value, list) else value)
    return dict(metrics)


# The whole chain ------------------------------------------------------------------------------


def put_row(
    aws: Aws,
    player: str,
    friend: str,
    state: str,
    at: int = 1,
    exchange: str | None = None,
    *,
    mirrored: bool = False,
) -> None:
    """Write one row with the plain client, not the model: the handlers must cope with rows as
    any writer stores them (even a state this code does not know; ``exchange=None``: as written
    before exchange ids existed), and the write reaches the stream like any other."""
    item = _item(player, friend, state, at, exchange)
    if mirrored:
        item[MIRRORED] = {"BOOL": True}
    aws.dynamodb.put_item(TableName=TEST_TABLE_NAME, Item=item)


def put_rows(aws: Aws, player: str, friends: Mapping[str, State], at: int = 1) -> None:
    """Many rows of one player at once (DynamoDB batches of 25), written like :func:`put_row`."""
    requests = [
        {"PutRequest": {"Item": _item(player, friend, state, at)}}
        for friend, state in friends.items()
    ]
    for start in range(0, len(requests), 25):
        aws.dynamodb.batch_write_item(RequestItems={TEST_TABLE_NAME: requests[start : start + 25]})


def _item(
    player: str, friend: str, state: str, at: int, exchange: str | None = None
) -> dict[str, Any]:
    item = {
        "player_id": {"S": player},
        "friend_id": {"S": friend},
        "state": {"S": str(state)},
        "last_updated": {"N": str(at)},
    }
    if exchange is not None:
        item["exchange_id"] = {"S": exchange}
    return item


def rows(_aws: Aws) -> dict[tuple[str, str], State]:
    """Every row's state (the argument: the moto resources the rows live in)."""
    return {(row.player_id, row.friend_id): row.state for row in Friend.scan(consistent_read=True)}


def statuses(_aws: Aws) -> dict[tuple[str, str], tuple[State, str | None]]:
    """Every row's state and exchange id."""
    return {
        (row.player_id, row.friend_id): (row.state, row.exchange_id)
        for row in Friend.scan(consistent_read=True)
    }


def mirrored(_aws: Aws) -> set[tuple[str, str]]:
    """The rows marked ``mirrored``."""
    return {
        (row.player_id, row.friend_id) for row in Friend.scan(consistent_read=True) if row.mirrored
    }


def table_items(aws: Aws) -> list[dict[str, Any]]:
    """Every item of the Friend table exactly as stored, in key order."""
    items = aws.dynamodb.scan(TableName=TEST_TABLE_NAME, ConsistentRead=True)["Items"]
    return sorted(items, key=lambda item: (item["player_id"]["S"], item["friend_id"]["S"]))


def violations(table: Mapping[tuple[str, str], State]) -> list[str]:
    """The invariant of docs/design.md: for every pair, both rows absent, Requested and Pending, or
    Friends and Friends. One line per row of ``table`` whose pair breaks it."""
    allowed = {
        (State.REQUESTED, State.PENDING),
        (State.PENDING, State.REQUESTED),
        (State.FRIENDS, State.FRIENDS),
    }
    return [
        f"({player},{friend})={state} but ({friend},{player})={table.get((friend, player))}"
        for (player, friend), state in table.items()
        if (state, table.get((friend, player))) not in allowed
    ]


def assert_invariant(aws: Aws) -> dict[tuple[str, str], State]:
    table = rows(aws)
    broken = violations(table)
    assert not broken, "; ".join(broken)
    return table


@contextmanager
def host_clock(skew_ms: int) -> Iterator[None]:
    """Run handlers as on a host whose clock is ``skew_ms`` ahead (negative: behind), through
    the handlers' clock seam (``friend_handlers.dal.clock``)."""
    dal.clock = lambda: now_millis() + skew_ms
    try:
        yield
    finally:
        dal.clock = now_millis


def row_key(record: Mapping[str, Any]) -> tuple[str, str]:
    """The row a stream record is about."""
    keys = record["dynamodb"]["Keys"]
    return keys["player_id"]["S"], keys["friend_id"]["S"]


type Pair = frozenset[str]
REQUESTED_BY = "requested by"


class Intent:
    """What the players asked, pair by pair: the actions the front applied, folded in the order
    it applied them. The oracle the rows must match once everything is drained.

    An applied Request by ``p`` means "``p`` asks" (or Friends when the other player's request
    stands: both asked); an applied Accept means Friends; an applied Reject or Unfriend means
    nothing between them. The front's applied writes are read off its DynamoDB client
    (:meth:`Chain.front_writes`), so an action whose answer was lost still counts.
    """

    def __init__(self) -> None:
        self.pairs: dict[Pair, tuple[str, str] | State] = {}
        self.applied: list[tuple[str, str, str]] = []
        """(kind of write, player, friend), in commit order."""

    def record(self, kind: str, player: str, friend: str, was: State | None = None) -> None:
        """Fold one applied write; ``was``: the state a deleted row was required to have."""
        self.applied.append((kind, player, friend))
        pair = frozenset((player, friend))
        if kind == "Put":
            self.pairs[pair] = (
                State.FRIENDS
                if self.pairs.get(pair) == (REQUESTED_BY, friend)
                else (REQUESTED_BY, player)
            )
        elif kind == "Update":
            self.pairs[pair] = State.FRIENDS
        elif was is State.FRIENDS and self.pairs.get(pair) == (REQUESTED_BY, friend):
            # An Unfriend of a friendship ``friend`` has already ended and asked anew after
            # (``player``'s row not yet told): it ends the old exchange, the new request stands.
            pass
        else:
            self.pairs.pop(pair, None)

    def expected_rows(self, pair: Pair) -> dict[tuple[str, str], State]:
        intent = self.pairs.get(pair)
        if intent is None:
            return {}
        if intent is State.FRIENDS:
            a, b = sorted(pair)
            return {(a, b): State.FRIENDS, (b, a): State.FRIENDS}
        _, player = intent
        (friend,) = pair - {player}
        return {(player, friend): State.REQUESTED, (friend, player): State.PENDING}

    def broken(self, table: Mapping[tuple[str, str], State], players: Iterable[str]) -> list[str]:
        """One line per pair of ``players`` whose rows are not what its players last asked."""
        found = []
        for a, b in combinations(sorted(players), 2):
            pair = frozenset((a, b))
            actual = {key: table[key] for key in ((a, b), (b, a)) if key in table}
            if actual != self.expected_rows(pair):
                found.append(
                    f"{{{a},{b}}}: asked {self.pairs.get(pair)}, rows {actual}; applied "
                    f"{[entry for entry in self.applied if set(entry[1:]) == pair]}"
                )
        return found


def _written_rows(
    operation: str, request: Mapping[str, Any]
) -> list[tuple[str, str, str, State | None]]:
    """The Friend rows a write request changes: (Put | Update | Delete, player, friend, the
    state its condition requires, if it names one)."""
    if operation in {"PutItem", "UpdateItem", "DeleteItem"}:
        items = [(operation.removesuffix("Item"), request)]
    elif operation == "TransactWriteItems":
        items = [next(iter(item.items())) for item in request["TransactItems"]]
    else:
        return []
    written = []
    for kind, item in items:
        if item["TableName"] != TEST_TABLE_NAME or kind == "ConditionCheck":
            continue
        key = item.get("Key") or item["Item"]
        values = item.get("ExpressionAttributeValues", {}).values()
        states = {value.get("S") for value in values} & {state.value for state in State}
        was = State(states.pop()) if len(states) == 1 else None
        written.append((kind, key["player_id"]["S"], key["friend_id"]["S"], was))
    return written


class Chain:
    """SQS -> front -> table -> stream -> filtered stream handlers, all in-process.

    Each stream handler has its own queue of matching records, as each filtered event source
    mapping reads the stream independently. With an ``rng``, :meth:`drain` and
    :meth:`step_stream` let each mapping run ahead of the others, take records of different rows
    out of order (the order of one row's records is kept, as DynamoDB Streams keep it), deliver
    some records twice (delivery is at least once), and run each invocation on a host clock up
    to ``max_skew_ms`` off.
    """

    def __init__(
        self,
        aws: Aws,
        context: Any,
        rng: random.Random | None = None,
        max_skew_ms: int = 0,
    ) -> None:
        self.aws = aws
        self.context = context
        self.rng = rng
        self.max_skew_ms = max_skew_ms
        self.stream = StreamReader(aws)
        self.pending: dict[str, list[dict[str, Any]]] = {name: [] for name in STREAM_HANDLERS}
        self.delivered: list[dict[str, Any]] = []
        self.delivered_to: dict[str, list[dict[str, Any]]] = {name: [] for name in STREAM_HANDLERS}
        self.messages: list[dict[str, Any]] = []
        """Every SQS record the front handled (its delivery answered as done), for
        redelivery."""
        self.intent = Intent()
        self.front_may_fail = False
        """Whether front records may fail (faults are injected): they come back from the queue,
        as SQS delivers a failed record again."""

    @contextmanager
    def front_writes(self) -> Iterator[None]:
        """Record in :attr:`intent` every write of the Friend table that the front's client
        makes and DynamoDB accepts, in the order they succeed."""
        client = Friend._get_connection().connection.client

        def before(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            context["friend_test_request"] = json.loads(params["body"])

        def after(model: Any, http_response: Any, context: dict[str, Any], **_: Any) -> None:
            if http_response.status_code == 200:
                for written in _written_rows(model.name, context["friend_test_request"]):
                    self.intent.record(*written)

        events = client.meta.events
        events.register_first("before-call.dynamodb", before, unique_id="chain-front-request")
        events.register_first("after-call.dynamodb", after, unique_id="chain-front-writes")
        try:
            yield
        finally:
            events.unregister("before-call.dynamodb", unique_id="chain-front-request")
            events.unregister("after-call.dynamodb", unique_id="chain-front-writes")

    def act(self, *bodies: str) -> None:
        send(self.aws, *bodies)

    def skew(self) -> int:
        if self.rng is None or not self.max_skew_ms:
            return 0
        return self.rng.randint(-self.max_skew_ms, self.max_skew_ms)

    # front ----------------------------------------------------------------------------------

    def run_front(
        self,
        batch_size: int = 10,
        max_batches: int | None = None,
        skew_ms: int | None = None,
        copies: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        """Deliver front-queue batches (all of them unless ``max_batches``). ``copies``: SQS
        records handled before, delivered again within the first batch."""
        batches = 0
        copies = [dict(copy) for copy in copies]
        while max_batches is None or batches < max_batches:
            event = receive_sqs_event(self.aws, batch_size)
            if not event["Records"] and not copies:
                return
            fresh = list(event["Records"])
            event["Records"].extend(copies)
            copies = []
            batches += 1
            try:
                with host_clock(self.skew() if skew_ms is None else skew_ms), self.front_writes():
                    response = front.handler(event, self.context)
            except HostDied:
                continue  # no answer: every message of the batch comes back
            if not self.front_may_fail:
                assert response == NO_FAILURES
            settle_sqs_batch(self.aws, {"Records": fresh}, response)
            failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
            self.messages.extend(record for record in fresh if record["messageId"] not in failed)

    def redeliver(self, record: Mapping[str, Any], skew_ms: int = 0) -> None:
        """SQS delivers ``record`` (handled before: same message id) once more, on its own."""
        with host_clock(skew_ms), self.front_writes():
            response = front.handler({"Records": [dict(record)]}, self.context)
        assert response == NO_FAILURES

    # stream ---------------------------------------------------------------------------------

    def collect_stream(self) -> None:
        for record in self.stream.read():
            matched = routes(record)
            assert len(matched) <= 1, f"record matched several filters: {matched}"
            for name in matched:
                self.pending[name].append(record)

    def pending_rows(self, name: str) -> list[tuple[str, str]]:
        """The rows with records waiting for ``name``, by first waiting record."""
        return list(dict.fromkeys(row_key(record) for record in self.pending[name]))

    def take(self, name: str, row: tuple[str, str], count: int) -> list[dict[str, Any]]:
        """The next ``count`` waiting records of ``row`` for ``name``, in their stream order."""
        taken = [record for record in self.pending[name] if row_key(record) == row][:count]
        gone = {id(record) for record in taken}
        self.pending[name] = [record for record in self.pending[name] if id(record) not in gone]
        return taken

    def deliver_stream(
        self, name: str, records: list[dict[str, Any]], skew_ms: int | None = None
    ) -> None:
        """Invoke stream handler ``name`` with ``records`` as one batch."""
        if not records:
            return
        with host_clock(self.skew() if skew_ms is None else skew_ms):
            response = STREAM_HANDLERS[name](stream_event(records), self.context)
        assert response == NO_FAILURES
        self.delivered.extend(records)
        self.delivered_to[name].extend(records)

    def step_stream(self, name: str, batch_size: int) -> None:
        """One batch for ``name``: in stream order, or with an ``rng`` the next records of
        randomly chosen rows, now and then with a record delivered before."""
        if self.rng is None:
            batch = self.pending[name][:batch_size]
            self.pending[name] = self.pending[name][batch_size:]
        else:
            batch = []
            while len(batch) < batch_size and self.pending[name]:
                row = self.rng.choice(self.pending_rows(name))
                batch += self.take(name, row, self.rng.randint(1, batch_size - len(batch)))
            if self.delivered_to[name] and self.rng.random() < 0.2:
                batch.append(self.rng.choice(self.delivered_to[name]))
        self.deliver_stream(name, batch)

    def drain(self) -> None:
        """Run front and stream handlers until nothing is left anywhere."""
        if self.rng is None:
            self.run_front()
        else:
            self.run_front(batch_size=self.rng.randint(1, 10))
        self.collect_stream()
        while any(self.pending.values()):
            names = [name for name, queue in self.pending.items() if queue]
            if self.rng is None:
                for name in names:
                    self.step_stream(name, batch_size=100)
            else:
                self.step_stream(self.rng.choice(names), batch_size=self.rng.randint(1, 5))
            self.collect_stream()


STORM_ACTIONS = ("Request", "Request", "Accept", "Reject", "Unfriend")


@dataclass
class StormReport:
    actions: int = 0
    drains: int = 0
    violations: list[str] = field(default_factory=list)
    """Invariant violations found at the drains (each drain checks every pair)."""
    redeliveries: int = 0
    changed_by_redelivery: int = 0
    """Redelivered messages after which the table differed: at most once means none."""
    states_seen: set[State] = field(default_factory=set)


def storm(chain: Chain, players: Sequence[str], actions: int) -> StormReport:
    """Random actions among ``players`` in bursts, on ``chain`` (which needs an ``rng``): front
    batches of random size, every stream handler at its own pace, now and then an SQS message
    delivered again on its own, and a drain with an invariant check at random checkpoints and at
    the end."""
    rng = chain.rng
    assert rng is not None, "a storm needs a seeded chain"
    pairs = list(permutations(players, 2))
    report = StormReport()

    def drain() -> None:
        chain.drain()
        table = rows(chain.aws)
        report.drains += 1
        report.violations += violations(table)
        report.states_seen |= set(table.values())

    while report.actions < actions:
        burst = [
            message(*rng.choice(pairs), rng.choice(STORM_ACTIONS))
            for _ in range(min(rng.randint(1, 8), actions - report.actions))
        ]
        chain.act(*burst)
        report.actions += len(burst)
        chain.run_front(batch_size=rng.randint(1, 10), max_batches=1)
        chain.collect_stream()
        for _ in range(rng.randint(0, 4)):
            busy = [name for name, records in chain.pending.items() if records]
            if busy:
                chain.step_stream(rng.choice(busy), batch_size=rng.randint(1, 5))
                chain.collect_stream()
        if chain.messages and rng.random() < 0.05:
            before = table_items(chain.aws)
            chain.redeliver(rng.choice(chain.messages), chain.skew())
            report.redeliveries += 1
            report.changed_by_redelivery += table_items(chain.aws) != before
        if rng.random() < 0.1:
            drain()
    drain()
    return report
