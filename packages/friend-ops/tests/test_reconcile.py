"""Reconcile: the rule table, guarded writes, unreadable rows, and repairs the real stream
handlers can finish (on moto, driven through the front and the four stream functions)."""

from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from friend_handlers import dal
from friend_models import State, now_millis
from friend_ops.reconcile import (
    Findings,
    Outcome,
    Pair,
    Reason,
    Repair,
    Row,
    Rule,
    Table,
    UnreadableRow,
    check,
    decide,
    pairs,
    read_row,
)

from .conftest import TABLE_NAME, Aws, item, rows
from .service import Delivery, Service

R, P, F = State.REQUESTED, State.PENDING, State.FRIENDS
OLD = 1_000
"""A moment long past."""
NOW = 10_000_000


def _row(player: str, spec: str | None) -> Row | None:
    """``"R:x:m"``: Requested of exchange x, mirrored; ``"F:y"``: Friends of y; ``None``: absent."""
    if spec is None:
        return None
    state, exchange, *flag = spec.split(":")
    friend = "b" if player == "a" else "a"
    return Row(player, friend, State(state), OLD, exchange, True if flag else None)


def _pair(ab: str | None, ba: str | None) -> Pair:
    return Pair("a", "b", _row("a", ab), _row("b", ba))


def _states(repair: Repair) -> tuple[str | None, str | None]:
    def spec(row: Row | None) -> str | None:
        if row is None:
            return None
        return ":".join(
            [row.state.value, str(row.exchange_id)] + (["m"] if row.is_mirrored else [])
        )

    return spec(repair.ab), spec(repair.ba)


@pytest.mark.parametrize(
    ("ab", "ba", "rule", "after"),
    [
        ("Requested:x:m", None, Rule.REJECTION, (None, None)),
        (None, "Friends:x", Rule.UNFRIEND, (None, None)),
        ("Requested:x:m", "Friends:x", Rule.ACCEPTANCE, ("Friends:x", "Friends:x")),
        ("Friends:x", "Requested:x", Rule.ACCEPTANCE, ("Friends:x", "Friends:x")),
        ("Requested:x", "Requested:y", Rule.MUTUAL_REQUEST, ("Friends:x", "Friends:x")),
        ("Requested:y", "Requested:x", Rule.MUTUAL_REQUEST, ("Friends:y", "Friends:y")),
        ("Requested:y", "Friends:x", Rule.REQUEST_AFTER_UNFRIEND, ("Requested:y:m", "Pending:y")),
        ("Friends:x", "Requested:y", Rule.REQUEST_AFTER_UNFRIEND, ("Pending:y", "Requested:y:m")),
        (
            "Requested:x:m",
            "Requested:y",
            Rule.REQUEST_AFTER_REJECTION,
            ("Pending:y", "Requested:y:m"),
        ),
    ],
)
def test_each_repair_is_what_a_stream_rule_would_have_done(
    ab: str, ba: str, rule: Rule, after: tuple[str | None, str | None]
) -> None:
    pair = _pair(ab, ba)
    assert not pair.is_valid
    repair = decide(pair, NOW)
    assert isinstance(repair, Repair)
    assert repair.rule is rule
    assert _states(repair) == after
    for scanned, written in ((pair.ab, repair.ab), (pair.ba, repair.ba)):
        if written is not None and written != scanned:
            assert written.exchange_id is not None  # every written row carries its exchange
            changed_state = scanned is None or written.state != scanned.state
            assert written.last_updated == (NOW if changed_state else OLD)


def test_a_row_that_is_only_mirrored_keeps_its_date() -> None:
    repair = decide(_pair("Requested:y", "Friends:x"), NOW)
    assert isinstance(repair, Repair) and repair.ab is not None
    assert repair.ab.last_updated == OLD  # request_state does not date the mirrored flag


@pytest.mark.parametrize(
    ("ab", "ba", "reason"),
    [
        ("Requested:x", None, Reason.REQUEST_NOT_SHOWN),
        ("Requested:x", "Pending:y", Reason.EXCHANGES_DIFFER),
        ("Requested:x:m", "Pending:y", Reason.EXCHANGES_DIFFER),
        ("Pending:x", None, Reason.NO_RULE),
        ("Pending:x", "Pending:x", Reason.NO_RULE),
        ("Pending:x", "Friends:x", Reason.NO_RULE),
        ("Pending:y", "Friends:x", Reason.NO_RULE),
        ("Requested:x:m", "Requested:y:m", Reason.NO_RULE),
        ("Requested:x:m", "Friends:y", Reason.NO_RULE),
    ],
)
def test_what_the_rows_cannot_decide_is_reported(ab: str, ba: str | None, reason: Reason) -> None:
    pair = _pair(ab, ba)
    assert not pair.is_valid
    assert decide(pair, NOW) is reason


@pytest.mark.parametrize(
    ("ab", "ba"),
    [
        ("Requested:x", "Pending:x"),
        ("Requested:x:m", "Pending:x"),
        ("Friends:x", "Friends:x"),
        ("Friends:x", "Friends:y"),  # both Friends: any later unfriend ends both
    ],
)
def test_valid_pairs(ab: str, ba: str) -> None:
    assert _pair(ab, ba).is_valid
    assert check([r for r in _pair(ab, ba).rows], settle_seconds=0, now=NOW).repairs == []


def test_no_rule_reads_the_clock() -> None:
    """Scenario: a lost accept_state record, and the request's front host 10 s ahead of the
    accepting one: the Requested row looks newer than Friends. The exchange id decides."""
    requested = Row("a", "b", R, OLD + 10_000, "x", True)
    accepted = Row("b", "a", F, OLD, "x")
    repair = decide(Pair("a", "b", requested, accepted), NOW)
    assert isinstance(repair, Repair)
    assert (repair.rule, _states(repair)) == (Rule.ACCEPTANCE, ("Friends:x", "Friends:x"))


def test_pairs_group_both_rows_of_each_pair() -> None:
    found = list(pairs([Row("b", "a", P, 1), Row("a", "b", R, 1), Row("c", "a", F, 1)]))
    assert [(p.a, p.b, p.ab is not None, p.ba is not None) for p in found] == [
        ("a", "b", True, True),
        ("a", "c", False, True),
    ]


def test_recent_changes_are_in_flight_and_left_alone() -> None:
    table = [Row("a", "b", F, NOW - 1_000, "x"), Row("c", "d", F, NOW - 400_000, "y")]
    findings = check(table, settle_seconds=300, now=NOW)
    assert [r.pair.a for r in findings.repairs] == ["c"]
    assert [(f.pair.a, f.reason) for f in findings.left_alone] == [("a", Reason.IN_FLIGHT)]
    assert (findings.rows, findings.pairs) == (2, 2)


def test_unreadable_rows_are_reported_and_counted_never_fatal(aws: Aws) -> None:
    """Scenario: one row with an unknown state used to make reconcile raise ValueError, so
    nothing was reported or repaired."""
    bogus = item("ann", "bob", R, OLD, "x")
    bogus["state"] = {"S": "Blocked"}
    undated = item("cat", "dan", F, OLD, "y")
    del undated["last_updated"]
    flagged = item("eve", "fay", R, OLD, "z", mirrored=True)
    flagged["mirrored"] = {"S": "yes"}
    for each in (bogus, undated, flagged, item("gil", "hal", F, OLD, "w")):
        aws.dynamodb.put_item(TableName=TABLE_NAME, Item=each)
    table = Table(aws.dynamodb, TABLE_NAME)

    findings = check(table.scan(), settle_seconds=0)

    assert [r.pair.a for r in findings.repairs] == ["gil"]  # the readable pair is still repaired
    assert findings.reasons() == {Reason.UNREADABLE: 3}
    problems = {(u.player_id, u.problem) for u in findings.unreadable}
    assert problems == {
        ("ann", "state 'Blocked' is not one of Requested, Pending, Friends"),
        ("cat", "last_updated missing is not an integer"),
        ("eve", "mirrored 'yes' is not a boolean"),
    }
    assert table.apply(findings.repairs[0]) is Outcome.REPAIRED
    left = aws.dynamodb.scan(TableName=TABLE_NAME, ConsistentRead=True)["Items"]
    assert sorted(left, key=str) == sorted([bogus, undated, flagged], key=str)  # never touched


def test_read_row_keeps_exchange_and_mirrored() -> None:
    assert read_row(item("a", "b", R, 5, "x", mirrored=True)) == Row("a", "b", R, 5, "x", True)
    assert read_row(item("a", "b", P, 5)) == Row("a", "b", P, 5, None, None)
    assert isinstance(read_row({**item("a", "b", P, 5), "state": {"N": "1"}}), UnreadableRow)


def test_a_pair_that_changed_since_the_scan_is_skipped(aws: Aws) -> None:
    """The guard covers every attribute a rule reads: state, exchange, mirrored, date."""
    table = Table(aws.dynamodb, TABLE_NAME)
    changes: list[Callable[[], object]] = [
        lambda: aws.dynamodb.put_item(  # the same state, of another exchange
            TableName=TABLE_NAME, Item=item("ann", "bob", F, OLD, "other")
        ),
        lambda: aws.dynamodb.put_item(  # written again
            TableName=TABLE_NAME, Item=item("ann", "bob", F, OLD + 1, "x")
        ),
        lambda: aws.dynamodb.put_item(  # the other row appeared
            TableName=TABLE_NAME, Item=item("bob", "ann", F, OLD, "x")
        ),
    ]
    for change in changes:
        aws.dynamodb.delete_item(
            TableName=TABLE_NAME, Key={"player_id": {"S": "bob"}, "friend_id": {"S": "ann"}}
        )
        aws.dynamodb.put_item(TableName=TABLE_NAME, Item=item("ann", "bob", F, OLD, "x"))
        (repair,) = check(table.scan(), settle_seconds=0).repairs
        change()
        before = rows(aws)
        assert table.apply(repair) is Outcome.CHANGED
        assert rows(aws) == before

    aws.dynamodb.put_item(TableName=TABLE_NAME, Item=item("cat", "dan", R, OLD, "y"))
    aws.dynamodb.put_item(TableName=TABLE_NAME, Item=item("dan", "cat", F, OLD, "x"))
    (repair,) = [r for r in check(table.scan(), settle_seconds=0).repairs if r.pair.a == "cat"]
    aws.dynamodb.put_item(TableName=TABLE_NAME, Item=item("cat", "dan", R, OLD, "y", mirrored=True))
    assert table.apply(repair) is Outcome.CHANGED  # request_state mirrored it meanwhile


# With the real handlers ---------------------------------------------------------------------


@pytest.fixture
def service(aws: Aws) -> Service:
    return Service(aws)


def reconcile(service: Service, settle_seconds: float = 0) -> tuple[Findings, Counter[Outcome]]:
    """``reconcile --apply``: scan, decide, write every repair."""
    table = Table(service.aws.dynamodb, TABLE_NAME)
    findings = check(table.scan(), settle_seconds=settle_seconds)
    return findings, Counter(table.apply(repair) for repair in findings.repairs)


def _lost(service: Service, handler: str) -> None:
    """The mapping of ``handler`` gives its batch up, then everything else is delivered."""
    assert service.deliver(handler, Delivery.LOST)
    service.drain()


type Pairs = list[tuple[str, str]]


def _all(s: Service, pairs: Pairs, action: str, *, by_second: bool = False) -> None:
    """Every pair's first player (or second) sends ``action`` to the other."""
    for p, q in pairs:
        s.act(*((q, p) if by_second else (p, q)), action)


def _answered(s: Service, pairs: Pairs, answer: str) -> None:
    """Every pair's first player asks and, once that is settled, the second sends ``answer``."""
    _all(s, pairs, "Request")
    s.drain()
    _all(s, pairs, answer, by_second=True)


def _lose_reject(s: Service, pairs: Pairs) -> None:
    _answered(s, pairs, "Reject")
    _lost(s, "reject_state")


def _lose_unfriend(s: Service, pairs: Pairs) -> None:
    _answered(s, pairs, "Accept")
    s.drain()
    _all(s, pairs, "Unfriend", by_second=True)
    _lost(s, "unfriend_state")


def _lose_accept(s: Service, pairs: Pairs) -> None:
    _answered(s, pairs, "Accept")
    _lost(s, "accept_state")


def _lose_mutual(s: Service, pairs: Pairs) -> None:
    _all(s, pairs, "Request")
    _all(s, pairs, "Request", by_second=True)
    _lost(s, "request_state")


def _lose_request_after_unfriend(s: Service, pairs: Pairs) -> None:
    _answered(s, pairs, "Accept")
    s.drain()
    _all(s, pairs, "Unfriend")
    _lost(s, "unfriend_state")
    _all(s, pairs, "Request")
    _lost(s, "request_state")


def _lose_request_after_rejection(s: Service, pairs: Pairs) -> None:
    _answered(s, pairs, "Reject")
    assert s.deliver("reject_state", Delivery.LOST)
    _all(s, pairs, "Request", by_second=True)
    _lost(s, "request_state")


LOSSES: dict[Rule, Callable[[Service, Pairs], None]] = {
    Rule.REJECTION: _lose_reject,
    Rule.UNFRIEND: _lose_unfriend,
    Rule.ACCEPTANCE: _lose_accept,
    Rule.MUTUAL_REQUEST: _lose_mutual,
    Rule.REQUEST_AFTER_UNFRIEND: _lose_request_after_unfriend,
    Rule.REQUEST_AFTER_REJECTION: _lose_request_after_rejection,
}
"""For each repair rule, players' actions through the real handlers with the record it finishes
lost."""
FOLLOW_UPS = [(who, act) for who in (0, 1) for act in ("Request", "Accept", "Reject", "Unfriend")]
"""What either player may do next: every later action must still be finished by the handlers."""
LIFECYCLE = [
    (0, "Unfriend"),
    (1, "Unfriend"),
    (0, "Request"),
    (1, "Accept"),
    (0, "Unfriend"),
    (1, "Request"),
    (0, "Reject"),
]
"""Then a whole exchange and another (a request, an acceptance, an unfriend, a rejection),
whatever the pair's state after the follow-up: every pair ends with none."""


def _players(count: int) -> Iterator[tuple[str, str]]:
    for n in range(count):
        yield f"p{n:02}", f"q{n:02}"


@pytest.mark.slow
@pytest.mark.parametrize("rule", list(LOSSES), ids=lambda rule: rule.name.lower())
def test_after_each_repair_the_handlers_finish_every_later_action(
    service: Service, rule: Rule
) -> None:
    players = list(_players(len(FOLLOW_UPS)))
    LOSSES[rule](service, players)
    service.failures.clear()  # lost for good: only reconcile can finish them

    findings, outcomes = reconcile(service)

    assert findings.rules() == {rule: len(players)}
    assert outcomes == {Outcome.REPAIRED: len(players)}
    assert findings.left_alone == []
    service.assert_as_asked()
    again, _ = reconcile(service)  # a second run finds nothing to do
    assert (again.repairs, again.left_alone) == ([], [])
    for (p, q), (who, action) in zip(players, FOLLOW_UPS, strict=True):
        service.act(*((p, q) if who == 0 else (q, p)), action)
    service.drain()
    service.assert_as_asked()
    for who, action in LIFECYCLE:
        _all(service, players, action, by_second=who == 1)
        service.drain()
        service.assert_as_asked()
    assert service.oracle.rows() == {}


@pytest.mark.parametrize("rule", list(LOSSES), ids=lambda rule: rule.name.lower())
def test_a_repair_made_while_the_record_is_in_flight_changes_nothing_asked(
    service: Service, rule: Rule
) -> None:
    """The record was not lost, only late: reconcile finishes the exchange first, the late
    record (and a redrive of it) then finds nothing to do."""
    LOSSES[rule](service, [("ann", "bob")])
    findings, outcomes = reconcile(service)
    assert outcomes == {Outcome.REPAIRED: 1}, findings
    after_repair = service.items()

    summary = service.redrive(service.failures)  # the late records, as the mappings retry them
    assert summary.left == 0
    service.drain()

    service.assert_as_asked()
    assert service.items() == after_repair


def test_a_fresh_reject_is_finished_not_undone(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scenario: a Reject a second ago left a Requested row dated an hour ago (a deletion
    leaves no date, and mirroring does not date the request); the settle window cannot see
    the Reject. Reconcile must not make it Pending again: it finishes the rejection."""
    hour_ago = now_millis() - 3_600_000
    monkeypatch.setattr(dal, "clock", lambda: hour_ago)
    service.act("ann", "bob", "Request")
    service.drain()
    monkeypatch.undo()
    service.act("bob", "ann", "Reject")  # its reject_state record is still on its way

    findings, outcomes = reconcile(service, settle_seconds=300)

    assert findings.rules() == {Rule.REJECTION: 1}
    assert outcomes == {Outcome.REPAIRED: 1}
    service.drain()  # the late reject_state finds its work done
    service.assert_as_asked()
    assert service.items() == {}
    again, _ = reconcile(service, settle_seconds=300)
    assert (again.repairs, again.left_alone) == ([], [])


def test_an_acceptance_is_finished_whatever_the_hosts_clocks(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scenario: the request was written by a front host 10 s ahead, the acceptance by one on
    time, and accept_state's record was lost: the rows' dates say Requested is newer."""
    accepted_at = now_millis() - 3_600_000
    monkeypatch.setattr(dal, "clock", lambda: accepted_at + 10_000)
    service.act("ann", "bob", "Request")
    service.drain()
    monkeypatch.setattr(dal, "clock", lambda: accepted_at)
    service.act("bob", "ann", "Accept")
    _lost(service, "accept_state")
    monkeypatch.undo()

    findings, _ = reconcile(service, settle_seconds=0)

    assert findings.rules() == {Rule.ACCEPTANCE: 1}
    service.assert_as_asked()
    assert set(rows(service.aws).values()) == {F}


def test_a_request_never_shown_is_reported_and_redrive_finishes_it(service: Service) -> None:
    """Scenario: a repair that invented the Pending row (without its exchange) made a later
    Accept end Requested/Friends for ever. A lone unmirrored request is left alone with its
    reason; redriving its lost record completes it, and Accept then ends as Friends."""
    service.act("ann", "bob", "Request")
    _lost(service, "request_state")

    findings, outcomes = reconcile(service)

    assert findings.reasons() == {Reason.REQUEST_NOT_SHOWN: 1}
    assert outcomes == Counter()
    assert rows(service.aws) == {("ann", "bob"): R}
    service.redrive(service.failures)
    service.act("bob", "ann", "Accept")
    service.drain()
    service.assert_as_asked()
    assert set(rows(service.aws).values()) == {F}
