"""Compatibility proven, not declared: every mix the check accepts completes every exchange.

For every friend-handlers release in the store and every function, the mix "this function on
that release, the others on the working tree" is held against the real compatibility check
(:func:`friend_infra.compatibility.incompatibilities`, with the stack's wiring). Then the
lifecycle scenarios run on moto with each function's REAL code, the release's from its wheels
(:mod:`.release_code`), the rest from the working tree: actions enter through the write function,
the front applies them, the stream records reach the stream functions through the stack's filter
patterns, and at the end of each step the table is what the players asked, the pair invariant
holds, and the read function (and the page) answer accordingly. The front's hosts disagree on
the time, and at the end every stream record is delivered once more, as both happen in
production.

- Accepted: every scenario ends as asked.
- Refused: the refusal is needed, so at least one scenario does not end as asked (or the release
  lacks the function), unless the mix is listed in :data:`STRICTER_THAN_NEEDED` (and then it
  must keep ending as asked, so the list stays true).

The moto resources, event shapes and the chain driver are friend-handlers' test harness
(``packages/friend-handlers/tests``), imported as the storm script does; only the invocations
are this module's, because they go to whichever code each function is pinned to.
"""

import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import version as installed_version
from itertools import cycle
from typing import Any
from unittest import mock

import pytest
from friend_infra.compatibility import Wiring, incompatibilities
from friend_infra.pins import HANDLER_PACKAGE, resolve_pins
from friend_infra.releases import STORE_DIR, ReleaseStore
from friend_infra.workspace import workspace_root

ROOT = workspace_root()
STORE = ReleaseStore(ROOT / STORE_DIR)
sys.path.insert(0, str(ROOT / "packages" / "friend-handlers"))  # its tests' harness, as `tests`

# isort: off
# The handlers' test set-up first: it sets the environment the handlers read when imported.
from tests.conftest import TEST_TABLE_NAME, Aws, make_lambda_context, resources  # noqa: E402
from tests.harness import (  # noqa: E402
    Chain,
    message,
    receive_sqs_event,
    rest_event,
    rows,
    settle_sqs_batch,
    stream_event,
    violations,
)
from friend_handlers.contract import DLQ_URL_ENV, ENVIRONMENT, PAGE_FILES, QUEUE_URL_ENV  # noqa: E402
from friend_handlers.contract import VERSION_HEADER  # noqa: E402
from friend_handlers.filters import HANDLERS, STREAM_FILTERS  # noqa: E402
from friend_handlers.observability import VERSION as WORKING_TREE_VERSION  # noqa: E402
from friend_models import TABLE_CONTRACT_ID, TABLE_NAME_ENV, State  # noqa: E402
from moto import mock_aws  # noqa: E402

from .release_code import Handler, ReleasedCode, working_tree_handler  # noqa: E402
# isort: on

os.environ[TABLE_NAME_ENV] = TEST_TABLE_NAME  # a release's friend-models reads it on import

WIRING = Wiring(
    table_contract=TABLE_CONTRACT_ID,
    stream_filters=STREAM_FILTERS,
    environment={handler: frozenset(names) for handler, names in ENVIRONMENT.items()},
)
"""What the stack wires: the working tree's table, filters and environment names (the stack
sets each function's own names; tested in test_stack.py)."""

RELEASES = STORE.versions(HANDLER_PACKAGE)
MIXES = [(version, function) for version in RELEASES for function in HANDLERS]

Table = dict[tuple[str, str], State]
REQUESTED_PENDING: Table = {("ann", "bob"): State.REQUESTED, ("bob", "ann"): State.PENDING}
FRIENDS: Table = {("ann", "bob"): State.FRIENDS, ("bob", "ann"): State.FRIENDS}
REQUEST, ACCEPT = ("ann", "bob", "Request"), ("bob", "ann", "Accept")
SCENARIOS: Mapping[str, list[tuple[list[tuple[str, str, str]], Table]]] = {
    "request-accept": [([REQUEST], REQUESTED_PENDING), ([ACCEPT], FRIENDS)],
    "reject-then-request-again": [
        ([REQUEST], REQUESTED_PENDING),
        ([("bob", "ann", "Reject")], {}),
        ([REQUEST], REQUESTED_PENDING),
    ],
    "unfriend-then-request-again": [
        ([REQUEST], REQUESTED_PENDING),
        ([ACCEPT], FRIENDS),
        ([("ann", "bob", "Unfriend")], {}),
        ([REQUEST], REQUESTED_PENDING),
    ],
    "unfriend-then-befriend-again": [
        ([REQUEST], REQUESTED_PENDING),
        ([ACCEPT], FRIENDS),
        ([("bob", "ann", "Unfriend")], {}),
        ([REQUEST], REQUESTED_PENDING),
        ([ACCEPT], FRIENDS),
    ],
    "mutual-request": [([REQUEST, ("bob", "ann", "Request")], FRIENDS)],
}
"""Scenario -> steps: the actions sent together, and the table the players asked for once
everything is drained. After the last step every stream record is delivered once more (stream
delivery is at least once, and an operator may redrive): the table must not change, which is
where rows of another exchange must be told apart."""

STRICTER_THAN_NEEDED = frozenset({("0.1.0", "front"), ("0.1.0", "unfriend_state")})
"""Mixes (release, function) the check refuses although every scenario ends as asked. The rule
refuses by protocol, all table writers of a release alike; these two of 0.1.0's are not shown
wrong by these scenarios (front writes the Requested row that protocol 2 also takes without an
exchange id; unfriend_state ignores a replay whose source row is back)."""


CLOCK_SKEW_NS = 1_500 * 1_000_000
"""How far the front's hosts' clocks are off, alternately ahead and behind."""
_true_time_ns = time.time_ns


@contextmanager
def host_clock(skew_ns: int) -> Iterator[None]:
    """Run on a host whose clock is ``skew_ns`` off. Every release dates rows with
    ``time.time_ns`` (through friend-models' ``now_millis``), whatever seam its own code has."""
    time.time_ns = lambda: _true_time_ns() + skew_ns
    try:
        yield
    finally:
        time.time_ns = _true_time_ns


class MixedChain(Chain):
    """The handlers' chain driver with each function invoked in the code it is pinned to, actions
    sent through the write function, and failed batches recorded instead of asserted (a refused
    mix may fail). Each front invocation runs on a host clock of its own, alternately ahead and
    behind (Lambda hosts' clocks need not agree, so no rule may depend on them)."""

    def __init__(self, aws: Aws, functions: Mapping[str, Handler]) -> None:
        super().__init__(aws, make_lambda_context())
        self.functions = functions
        self.failures: list[str] = []
        self.handled: list[tuple[str, dict[str, Any]]] = []
        self.front_clocks = cycle((CLOCK_SKEW_NS, -CLOCK_SKEW_NS))
        """Every stream record delivered, with the function it went to, in delivery order."""

    def act(self, *bodies: str) -> None:
        for body in bodies:
            event = rest_event("/friends", {}, method="POST", body=body)
            answer = self.functions["write"](event, self.context)
            if answer["statusCode"] != 202:
                self.failures.append(f"write answered {answer['statusCode']} to {body}")

    def run_front(self, *_: Any, **__: Any) -> None:
        while records := receive_sqs_event(self.aws)["Records"]:
            event = {"Records": records}
            with host_clock(next(self.front_clocks)):
                response = self.functions["front"](event, self.context)
            self._note("front", response)
            settle_sqs_batch(self.aws, event, {"batchItemFailures": []})

    def deliver_stream(self, name: str, records: list[dict[str, Any]], *_: Any, **__: Any) -> None:
        if records:
            self._note(name, self.functions[name](stream_event(records), self.context))
            self.handled += [(name, record) for record in records]

    def deliver_again(self) -> None:
        """Every stream record delivered so far, once more, each on its own, in order."""
        for name, record in list(self.handled):
            self.deliver_stream(name, [record])
        self.drain()

    def _note(self, name: str, response: Mapping[str, Any]) -> None:
        if response["batchItemFailures"]:
            self.failures.append(f"{name} failed {response['batchItemFailures']}")


def _answers(chain: MixedChain, table: Table, read_version: str) -> list[str]:
    """Where the read function (and the page) disagree with the table."""
    problems = []
    for player, friend in (("ann", "bob"), ("bob", "ann")):
        path = {"playerId": player, "friendId": friend}
        event = rest_event("/friends/isFriend/{playerId}/{friendId}", path)
        answer = chain.functions["read"](event, chain.context)
        state, expected = json.loads(answer["body"])["state"], table.get((player, friend))
        if state != (None if expected is None else expected.value):
            problems.append(f"read says ({player},{friend})={state}, the table {expected}")
        assert answer["multiValueHeaders"][VERSION_HEADER] == [read_version]
    for path in PAGE_FILES:
        if chain.functions["page"](rest_event(path, {}), chain.context)["statusCode"] != 200:
            problems.append(f"page did not serve {path}")
    return problems


def run_scenarios(functions: Mapping[str, Handler], read_version: str) -> dict[str, list[str]]:
    """Scenario -> its problems (empty: it ended as the players asked at every step)."""
    outcomes: dict[str, list[str]] = {}
    for scenario, steps in SCENARIOS.items():
        problems: list[str] = []
        with (
            mock_aws(),
            resources() as aws,
            mock.patch.dict(os.environ, {DLQ_URL_ENV: aws.dlq_url, QUEUE_URL_ENV: aws.queue_url}),
        ):
            chain = MixedChain(aws, functions)
            for number, (actions, asked) in enumerate(steps, start=1):
                chain.act(*(message(*action) for action in actions))
                chain.drain()
                table = rows(aws)
                if table != asked:
                    problems.append(f"step {number}: {_shown(table)}, asked {_shown(asked)}")
                seen = violations(table) + _answers(chain, table, read_version)
                problems += [f"step {number}: {line}" for line in seen]
            chain.deliver_again()
            if rows(aws) != asked:
                problems.append(f"delivered again: {_shown(rows(aws))}, asked {_shown(asked)}")
            problems += chain.failures
        outcomes[scenario] = problems
    return outcomes


def _shown(table: Table) -> str:
    return ", ".join(f"({p},{f})={s.value}" for (p, f), s in sorted(table.items())) or "no rows"


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ReleasedCode]:
    """Every release in the store, extracted once."""
    return {
        version: ReleasedCode(STORE, version, tmp_path_factory.mktemp(f"friend-handlers-{version}"))
        for version in RELEASES
    }


WORKING_TREE = resolve_pins(STORE, ROOT, {})


def test_the_scenarios_end_as_asked_on_the_working_tree() -> None:
    functions = {h: working_tree_handler(WORKING_TREE[h], h) for h in HANDLERS}
    outcomes = run_scenarios(functions, WORKING_TREE_VERSION)
    assert outcomes == {scenario: [] for scenario in SCENARIOS}


def test_the_releases_run_on_the_libraries_they_were_released_with() -> None:
    """The releases share this process's third-party libraries: they must be the ones each
    release pins, or the mixes would run other code than a deployment."""
    for version in RELEASES:
        requirements = STORE.get(HANDLER_PACKAGE, version).requirements.read_text()
        pinned = [line.split(" ")[0] for line in requirements.splitlines() if "==" in line]
        for requirement in pinned:
            name, _, wanted = requirement.partition("==")
            assert installed_version(name) == wanted, f"{version} pins {requirement}"


@pytest.mark.slow  # every release's code through every scenario: tens of seconds
@pytest.mark.parametrize(("version", "function"), MIXES, ids=[f"{f}-on-{v}" for v, f in MIXES])
def test_a_mix_is_accepted_exactly_when_it_completes_every_exchange(
    version: str, function: str, released: dict[str, ReleasedCode]
) -> None:
    refused = incompatibilities(resolve_pins(STORE, ROOT, {function: version}), WIRING)
    functions = {h: working_tree_handler(WORKING_TREE[h], h) for h in HANDLERS}
    try:
        functions[function] = released[version].handler(function)
    except ModuleNotFoundError as missing:
        assert refused, f"accepted, but the release has no {function}: {missing}"
        assert f"{function} is pinned to friend-handlers {version}, which has no such" in (
            "\n".join(refused)
        )
        return
    read_version = version if function == "read" else WORKING_TREE_VERSION
    failed = {
        scenario: problems
        for scenario, problems in run_scenarios(functions, read_version).items()
        if problems
    }
    if not refused:
        assert failed == {}, f"accepted, but not every exchange completes: {failed}"
    elif (version, function) in STRICTER_THAN_NEEDED:
        assert failed == {}, f"refused as stricter than needed, but it fails: {failed}"
    else:
        assert failed, f"refused ({refused}), yet every scenario ends as asked"
