"""Load the deployed friend service through its public contracts and print what it sustains.

In: friend actions on the front queue (SQS ``SendMessageBatch`` from a thread pool). Out: table
scans, ``GetItem`` and the read API. Nothing else of the service is touched.

Longer than a module should be, on purpose: a benchmark that a reader runs and reads in one
sitting (deploy, drive, drain, check, report), using only the service's public contracts; the
pieces it could share live already in ``friend_integ`` (emulators, targets).

1. Deploy: ``integ --no-clean --emulator X --port N`` on a free port (the stack stays up, the
   embedded emulator keeps running), or use the stack ``FriendMicroservicesInteg`` already
   deployed at ``--endpoint`` (e.g. by ``integ --no-clean``).
2. Rounds: ``--actions`` messages in all, split over ``--rounds``: random actions among
   ``--players`` players of this run, a share sent again with the same body (duplicates) and a
   share of invalid messages (not JSON, a missing field, an unknown action, a self-request).
   After each round the script waits until the service is drained (front queue empty with none
   in flight, then two table scans ``--settle`` seconds apart equal) and prints the round's
   actions/s: messages sent / seconds from the first send to the first of the two equal scans.
   Rounds with falling actions/s mean the service slows as the table grows; the first round
   also pays for the functions' cold starts.
3. Probes: for ``--probes`` fresh pairs, one at a time, send a Request and poll every 10 ms
   until the other player's row is Pending (``GetItem``, or the read API's isFriend route with
   ``--probe-via api``); prints p50/p95 of that Request -> Pending propagation.
4. Checks, over the whole table once drained: every pair of rows (a,b)/(b,a) is both absent,
   Requested/Pending or Friends/Friends; every invalid message sent waits in the dead-letter
   queue (bodies compared, with their count); the read API lists for each player of this run
   exactly the rows the table holds (paginated).

Run from the workspace root:

    uv run --package friend-integ python benchmarks/service_load.py             # MiniStack
    uv run --package friend-integ python benchmarks/service_load.py --emulator localstack
    uv run --package friend-integ python benchmarks/service_load.py --actions 300 --rounds 2 \
        --probes 10
    uv run --package friend-integ python benchmarks/service_load.py --endpoint http://127.0.0.1:4566

The emulator this script started is always stopped at the end. Talks to the endpoint only,
with test credentials. Exit code: 0 when every check holds; 1 when one fails (invariant
violation, an invalid message missing from the dead-letter queue, the read API disagreeing
with the table); 2 when the run itself fails (deploy, drain or probe timeout).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

import boto3
import urllib3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from friend_handlers.logic.message import FriendAction
from friend_integ.emulators import EMULATORS, Emulator, create
from friend_integ.test_support.emulators import free_port
from friend_models import FRIEND_ID, LAST_UPDATED, PLAYER_ID, STATE, State
from friend_target import REGION, normalize_endpoint

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

STACK = "FriendMicroservicesInteg"
ACTIONS = {
    FriendAction.REQUEST: 0.4,
    FriendAction.ACCEPT: 0.3,
    FriendAction.REJECT: 0.15,
    FriendAction.UNFRIEND: 0.15,
}
"""Relative frequency of each valid action: requests lead, so pairs keep changing state."""
CONSISTENT_PAIRS = {
    (State.REQUESTED, State.PENDING),
    (State.PENDING, State.REQUESTED),
    (State.FRIENDS, State.FRIENDS),
}
"""The states a pair's two rows may have once drained (or no rows at all)."""
BATCH = 10
"""Messages per SendMessageBatch call (the SQS maximum)."""
POLL_SECONDS = 0.01
PROBE_TIMEOUT_SECONDS = 60.0
PAGE_LIMIT = 7
"""Page size for reading lists back through the API: small, so pagination is exercised."""

Rows = dict[tuple[str, str], tuple[str, int]]
"""(player_id, friend_id) -> (state, last_updated): a table scan."""


class RunFailedError(RuntimeError):
    """The run could not be completed (deploy, drain or probe timed out or failed)."""


# Deployment --------------------------------------------------------------------------------


@contextlib.contextmanager
def deployed(emulator: str, given: str | None) -> Iterator[tuple[str, float, Emulator | None]]:
    """The endpoint of a deployed stack, the seconds the deploy took and the emulator started
    for it (0 and None when ``given``).

    Without ``given``: `integ --no-clean` on a free port, and the emulator it leaves running is
    stopped when the block ends, however it ends.
    """
    if given:
        yield normalize_endpoint(given), 0.0, None
        return
    port = free_port()
    instance = create(emulator, port=port)
    log = Path(tempfile.mkdtemp(prefix="load-integ-")) / "integ.log"
    integ = Path(sys.executable).with_name("integ")
    command = [str(integ), "--no-clean", "--emulator", emulator, "--port", str(port)]
    note(f"deploying on {instance.title} at {instance.endpoint}: {' '.join(command[1:])}")
    note(f"  output: {log}")
    started = time.monotonic()
    try:
        with log.open("w") as out:
            result = subprocess.run(  # noqa: S603 - argument list, no shell
                command, stdout=out, stderr=subprocess.STDOUT, check=False
            )
        seconds = time.monotonic() - started
        if result.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
            raise RunFailedError(f"integ --no-clean failed (exit {result.returncode}):\n{tail}")
        note(f"  deployed in {seconds:.1f}s")
        yield instance.endpoint, seconds, instance
    finally:
        note(f"stopping {instance.title} at {instance.endpoint}")
        instance.stop()


# The service's contracts -------------------------------------------------------------------


@dataclass
class Service:
    """Clients for the deployed stack's public surface: its queues, its table, its read API."""

    endpoint: str
    workers: int
    outputs: dict[str, str] = field(init=False)
    sqs: SQSClient = field(init=False)
    dynamodb: DynamoDBClient = field(init=False)
    api_base: str = field(init=False)
    http: urllib3.PoolManager = field(init=False)

    def __post_init__(self) -> None:
        session = boto3.session.Session(
            aws_access_key_id="test",
            aws_secret_access_key="test",  # noqa: S106 - the emulators' fixed test credentials
            region_name=REGION,
        )
        config = Config(
            max_pool_connections=self.workers + 4,
            retries={"max_attempts": 5, "mode": "standard"},
        )
        cloudformation: Any = session.client(
            "cloudformation", endpoint_url=self.endpoint, config=config
        )
        stack = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        self.sqs = session.client("sqs", endpoint_url=self.endpoint, config=config)
        self.dynamodb = session.client("dynamodb", endpoint_url=self.endpoint, config=config)
        self.api_base = self._api_base()
        self.http = urllib3.PoolManager(maxsize=self.workers + 4, retries=False)

    def _api_base(self) -> str:
        """The stage URL as this host can reach it.

        On AWS the ``ApiUrl`` output is it. Emulators put a host name of their own in it
        (``<id>.execute-api...``) that resolves nowhere here, and serve every stage on their
        gateway by path: ``/_aws/execute-api/<id>/<stage>/``.
        """
        url = self.outputs["ApiUrl"]
        if urlsplit(url).netloc == urlsplit(self.endpoint).netloc:
            return url.rstrip("/") + "/"
        stage = urlsplit(url).path.strip("/").split("/")[-1]
        return f"{self.endpoint}/_aws/execute-api/{self.outputs['ApiId']}/{stage}/"

    @property
    def queue(self) -> str:
        return self.outputs["QueueUrl"]

    @property
    def table(self) -> str:
        return self.outputs["TableName"]

    def send(self, bodies: Sequence[str]) -> None:
        """Send every body, ``BATCH`` per call, from ``workers`` threads."""
        batches = [bodies[i : i + BATCH] for i in range(0, len(bodies), BATCH)]
        with ThreadPoolExecutor(self.workers) as pool:
            list(pool.map(self._send_batch, batches))

    def _send_batch(self, bodies: Sequence[str]) -> None:
        pending = {str(i): body for i, body in enumerate(bodies)}
        for _ in range(5):
            answer = self.sqs.send_message_batch(
                QueueUrl=self.queue,
                Entries=[{"Id": key, "MessageBody": body} for key, body in pending.items()],
            )
            pending = {failed["Id"]: pending[failed["Id"]] for failed in answer.get("Failed", [])}
            if not pending:
                return
            time.sleep(0.2)
        raise RunFailedError(f"SendMessageBatch kept failing for {len(pending)} messages")

    def queue_busy(self, url: str) -> int:
        """Messages waiting, in flight or delayed on a queue (approximate, as SQS counts)."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def scan(self) -> Rows:
        rows: Rows = {}
        pages = self.dynamodb.get_paginator("scan").paginate(
            TableName=self.table, ConsistentRead=True
        )
        for page in pages:
            for item in page["Items"]:
                key = (item[PLAYER_ID]["S"], item[FRIEND_ID]["S"])
                rows[key] = (item[STATE]["S"], int(item.get(LAST_UPDATED, {}).get("N", "0")))
        return rows

    def state_in_table(self, player: str, friend: str) -> str | None:
        item = self.dynamodb.get_item(
            TableName=self.table,
            Key={PLAYER_ID: {"S": player}, FRIEND_ID: {"S": friend}},
            ConsistentRead=True,
        ).get("Item")
        return None if item is None else item[STATE]["S"]

    def get(self, path: str, **query: str) -> Any:
        url = self.api_base + path + (f"?{urlencode(query)}" if query else "")
        response = self.http.request("GET", url, timeout=30.0)
        if response.status != 200:
            raise RunFailedError(f"GET {url}: {response.status} {response.data[:300]!r}")
        return response.json()

    def state_in_api(self, player: str, friend: str) -> str | None:
        answer = self.get(f"friends/isFriend/{quote(player, safe='')}/{quote(friend, safe='')}")
        state: str | None = answer["state"]
        return state

    def listed(self, player: str) -> tuple[set[tuple[str, str]], int]:
        """A player's rows as the read API lists them (all pages), and the requests it took."""
        rows: set[tuple[str, str]] = set()
        query = {"limit": str(PAGE_LIMIT)}
        requests = 0
        while True:
            page = self.get(f"friends/{quote(player, safe='')}", **query)
            requests += 1
            rows.update((item["friend_id"], item["state"]) for item in page["items"])
            if not page.get("nextToken"):
                return rows, requests
            query["nextToken"] = page["nextToken"]

    def dead_letters(self) -> list[tuple[str, str | None]]:
        """Every message waiting in the dead-letter queue: (body, reason attribute).

        Read with a long visibility timeout, so each is seen once; none is deleted (they
        reappear afterwards, for inspection).
        """
        found: list[tuple[str, str | None]] = []
        empty_polls = 0
        while empty_polls < 3:
            page = self.sqs.receive_message(
                QueueUrl=self.outputs["DeadLetterQueueUrl"],
                MaxNumberOfMessages=10,
                VisibilityTimeout=900,
                WaitTimeSeconds=1,
                MessageAttributeNames=["All"],
            )
            messages = page.get("Messages", [])
            empty_polls = 0 if messages else empty_polls + 1
            for message in messages:
                attributes = message.get("MessageAttributes", {})
                reason = attributes["reason"].get("StringValue") if "reason" in attributes else None
                found.append((message["Body"], reason))
        return found


def message(player: str, friend: str, action: FriendAction) -> str:
    """A friend action in the front queue's wire format."""
    return json.dumps({"player_id": player, "friend_id": friend, "friend_action": action.value})


# The load ----------------------------------------------------------------------------------


@dataclass
class Load:
    """Random messages of one run: its players, what it sent, which bodies were invalid."""

    run_id: str
    players: list[str]
    invalid_share: float
    duplicate_share: float
    rng: random.Random
    sent: list[str] = field(default_factory=list)
    invalid: Counter[str] = field(default_factory=Counter)
    """Invalid bodies sent, with how often each was sent."""
    kinds: Counter[str] = field(default_factory=Counter)

    def round(self, count: int) -> list[str]:
        bodies = []
        for _ in range(count):
            draw = self.rng.random()
            if self.sent and draw < self.duplicate_share:
                body = self.rng.choice(self.sent)
                self.kinds["duplicate"] += 1
            elif draw < self.duplicate_share + self.invalid_share:
                body = self._invalid()
            else:
                body = self._action()
            if body in self.invalid:
                self.invalid[body] += 1
            self.sent.append(body)
            bodies.append(body)
        return bodies

    def _action(self) -> str:
        player, friend = self.rng.sample(self.players, 2)
        action = self.rng.choices(list(ACTIONS), weights=list(ACTIONS.values()))[0]
        self.kinds["valid"] += 1
        return message(player, friend, action)

    def _invalid(self) -> str:
        """A message the service must park: unique (a serial number), so each can be found."""
        serial = f"{self.run_id}-{len(self.invalid)}"
        player, friend = self.rng.sample(self.players, 2)
        kind = self.rng.choice(["not JSON", "missing field", "unknown action", "self-request"])
        self.kinds[kind] += 1
        fields: dict[str, str] = {"player_id": player, "serial": serial}
        if kind == "not JSON":
            body = f"not json {serial} {{{player}"
        else:
            if kind == "missing field":
                fields["friend_action"] = "Request"
            elif kind == "unknown action":
                fields.update(friend_id=friend, friend_action="Poke")
            else:
                fields.update(friend_id=player, friend_action="Request")
            body = json.dumps(fields)
        self.invalid[body] = 0
        return body


# Measuring ---------------------------------------------------------------------------------


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def wait_drained(
    service: Service, started: float, settle: float, timeout: float
) -> tuple[float, Rows]:
    """Seconds from ``started`` until the service was drained, and the table then.

    Drained: the front queue holds nothing (waiting, in flight or delayed), then two scans
    ``settle`` seconds apart are equal (the stream functions are done too). The time is that
    of the first of the two equal scans.
    """
    deadline = time.monotonic() + timeout
    previous: Rows | None = None
    previous_at = 0.0
    while time.monotonic() < deadline:
        if service.queue_busy(service.queue):
            previous = None
            time.sleep(0.1)
            continue
        at = time.monotonic()
        rows = service.scan()
        if rows == previous:
            return previous_at - started, rows
        previous, previous_at = rows, at
        time.sleep(settle)
    raise RunFailedError(f"not drained after {timeout:.0f}s")


def probe(
    service: Service, players: tuple[str, str], read: Callable[[str, str], str | None]
) -> float:
    """Seconds from sending ``a`` Request ``b`` until ``read`` shows ``b``'s row Pending."""
    player, friend = players
    body = message(player, friend, FriendAction.REQUEST)
    started = time.monotonic()
    service.sqs.send_message(QueueUrl=service.queue, MessageBody=body)
    deadline = started + PROBE_TIMEOUT_SECONDS
    while read(friend, player) != State.PENDING:
        if time.monotonic() > deadline:
            raise RunFailedError(f"{friend}'s row never became Pending after {body}")
        time.sleep(POLL_SECONDS)
    return time.monotonic() - started


def violations(rows: Rows) -> list[str]:
    """Pairs whose two rows disagree: every pair must be absent, Requested/Pending or
    Friends/Friends."""
    found = []
    for (player, friend), (state, _) in sorted(rows.items()):
        other = rows.get((friend, player))
        other_state = None if other is None else other[0]
        if (state, other_state) not in CONSISTENT_PAIRS and (player < friend or other is None):
            found.append(f"({player}, {friend}) {state} / ({friend}, {player}) {other_state}")
    return found


def percentile(values: Sequence[float], wanted: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[wanted - 1]


def milliseconds(values: Sequence[float]) -> str:
    if not values:
        return "no samples"
    return (
        f"p50 {percentile(values, 50) * 1000:.0f} ms, p95 {percentile(values, 95) * 1000:.0f} ms,"
        f" max {max(values) * 1000:.0f} ms (n={len(values)})"
    )


# Main --------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emulator", choices=sorted(EMULATORS), default="ministack")
    parser.add_argument(
        "--endpoint", help="use the stack already deployed there (nothing started or stopped)"
    )
    parser.add_argument("--actions", type=int, default=3000, help="messages in all rounds")
    parser.add_argument("--players", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--probes", type=int, default=50, help="Request -> Pending samples")
    parser.add_argument(
        "--probe-via",
        choices=["table", "api"],
        default="table",
        help="read the row with GetItem (default) or the read API's isFriend route",
    )
    parser.add_argument("--duplicates", type=float, default=0.1, help="share sent twice")
    parser.add_argument("--invalid", type=float, default=0.05, help="share of invalid messages")
    parser.add_argument("--workers", type=int, default=8, help="sending threads")
    parser.add_argument(
        "--settle", type=float, default=2.0, help="seconds between the two equal scans"
    )
    parser.add_argument("--drain-timeout", type=float, default=900.0)
    parser.add_argument("--seed", type=int, default=None, help="seed of the random actions")
    args = parser.parse_args(argv)
    if args.players < 2 or args.rounds < 1 or args.actions < args.rounds:
        parser.error("need 2 players or more, 1 round or more, an action per round or more")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    summary: list[str] = []
    try:
        with deployed(args.emulator, args.endpoint) as (endpoint, deploy_seconds, emulator):
            if emulator is None:
                summary.append(f"target: the stack deployed at {endpoint}")
            else:
                summary.append(f"target: embedded {emulator.title} at {endpoint}")
                summary.append(f"deploy (integ --no-clean): {deploy_seconds:.1f}s")
            failures = run(args, Service(endpoint, args.workers), summary)
            if emulator is not None:
                rss = emulator.memory_rss_bytes() / 2**20
                summary.append(
                    f"{emulator.title} memory (RSS, with functions) at the end: {rss:.0f} MiB"
                )
    except (RunFailedError, BotoCoreError, ClientError, urllib3.exceptions.HTTPError) as error:
        print_summary([*summary, f"result: RUN FAILED: {error}"])
        return 2
    verdict = "FAILED: " + "; ".join(failures) if failures else "PASSED"
    print_summary([*summary, f"result: {verdict}"])
    return 1 if failures else 0


def print_summary(lines: Sequence[str]) -> None:
    print("\nSummary\n" + "\n".join("  " + line for line in lines), flush=True)


def run(args: argparse.Namespace, service: Service, summary: list[str]) -> list[str]:
    """The rounds, the probes and the checks; numbers go to ``summary``; failed checks are
    returned."""
    run_id = uuid.uuid4().hex[:8]
    load = Load(
        run_id=run_id,
        players=[f"load-{run_id}-p{index:03d}" for index in range(args.players)],
        invalid_share=args.invalid,
        duplicate_share=args.duplicates,
        rng=random.Random(args.seed),  # noqa: S311 - load, not secrets
    )
    note(f"run {run_id}: read API at {service.api_base}")
    summary.append(
        f"load: {args.actions} messages among {args.players} players in {args.rounds} rounds "
        f"(~{args.duplicates:.0%} duplicates, ~{args.invalid:.0%} invalid), "
        f"{args.workers} sending threads"
    )
    rows: Rows = {}
    for index in range(args.rounds):
        count = args.actions // args.rounds + (index < args.actions % args.rounds)
        bodies = load.round(count)
        started = time.monotonic()
        service.send(bodies)
        sent = time.monotonic() - started
        drained, rows = wait_drained(service, started, args.settle, args.drain_timeout)
        mine = sum(player.startswith(f"load-{run_id}-") for player, _ in rows)
        line = (
            f"round {index + 1}: {count} messages sent in {sent:.1f}s ({count / sent:.0f}/s), "
            f"drained after {drained:.1f}s: {count / drained:.1f} actions/s; "
            f"rows of this run {mine}, table {len(rows)}"
        )
        note(line)
        summary.append(line)
    summary.append(
        "messages: " + ", ".join(f"{kind} {n}" for kind, n in sorted(load.kinds.items()))
    )

    read = service.state_in_api if args.probe_via == "api" else service.state_in_table
    timings = []
    for index in range(args.probes):
        pair = (f"probe-{run_id}-{index:03d}-a", f"probe-{run_id}-{index:03d}-b")
        timings.append(probe(service, pair, read))
    how = "read API isFriend" if args.probe_via == "api" else "table GetItem"
    summary.append(f"Request -> Pending ({how}, polled every 10 ms): {milliseconds(timings)}")
    if args.probes:
        _, rows = wait_drained(service, time.monotonic(), args.settle, args.drain_timeout)
    return check(service, load, rows, summary)


def check(service: Service, load: Load, rows: Rows, summary: list[str]) -> list[str]:
    """The invariant, the dead-letter queue and the read API, against the drained table."""
    failures = []
    broken = violations(rows)
    pairs = len({frozenset(key) for key in rows})
    summary.append(f"invariant: {len(broken)} violations over {len(rows)} rows ({pairs} pairs)")
    summary.extend("  violation " + line for line in broken[:20])
    if broken:
        failures.append(f"{len(broken)} inconsistent pairs")

    parked = [(body, reason) for body, reason in service.dead_letters() if load.run_id in body]
    found = Counter(body for body, _ in parked)
    missing = load.invalid - found
    valid_parked = sum(n for body, n in found.items() if body not in load.invalid)
    reasons = Counter(str(reason) for body, reason in parked if body in load.invalid)
    summary.append(
        f"dead-letter queue: {sum(load.invalid.values()) - missing.total()} of "
        f"{sum(load.invalid.values())} invalid messages parked "
        f"({', '.join(f'{r} {n}' for r, n in sorted(reasons.items())) or 'none'}); "
        f"missing {missing.total()}; valid actions parked {valid_parked}"
    )
    summary.extend(f"  missing {body}" for body in list(missing)[:20])
    if missing:
        failures.append(f"{missing.total()} invalid messages missing from the dead-letter queue")
    if "StreamFailureQueueUrl" in service.outputs:
        waiting = service.queue_busy(service.outputs["StreamFailureQueueUrl"])
        summary.append(f"stream failure queue: {waiting} messages")

    disagreements = []
    requests = 0
    started = time.monotonic()
    for player in load.players:
        listed, calls = service.listed(player)
        requests += calls
        stored = {(f, state) for (p, f), (state, _) in rows.items() if p == player}
        if listed != stored:
            disagreements.append(f"{player}: API {sorted(listed ^ stored)} differs")
    seconds = time.monotonic() - started
    summary.append(
        f"read API: lists of {len(load.players)} players vs table: "
        f"{len(disagreements)} disagree ({requests} requests of {PAGE_LIMIT} rows, "
        f"{seconds / max(requests, 1) * 1000:.0f} ms each on average)"
    )
    summary.extend("  " + line for line in disagreements[:20])
    if disagreements:
        failures.append(f"read API disagrees with the table for {len(disagreements)} players")
    return failures


if __name__ == "__main__":
    sys.exit(main())
