"""Reconcile on moto: which pairs are broken, the repair rule, guarded writes."""

import itertools

import pytest
from friend_models import State, now_millis
from friend_ops.reconcile import (
    VALID,
    Outcome,
    Pair,
    Row,
    Rule,
    Table,
    check,
    pairs,
    repair_for,
)

from .conftest import TABLE_NAME, Aws, item, rows

R, P, F = State.REQUESTED, State.PENDING, State.FRIENDS
OLD, NEW = 1_000, 2_000
"""Two moments long past: ``last_updated`` of the older and the newer row of a pair."""


def _pair(ab: tuple[State, int] | None, ba: tuple[State, int] | None) -> Pair:
    return Pair(
        "a",
        "b",
        Row("a", "b", *ab) if ab else None,
        Row("b", "a", *ba) if ba else None,
    )


@pytest.mark.parametrize(
    ("ab", "ba", "repaired", "rule"),
    [
        ((R, OLD), None, (R, P), Rule.MIRROR_MISSING),
        (None, (R, OLD), (P, R), Rule.MIRROR_MISSING),
        ((P, OLD), None, (None, None), Rule.OTHER_SIDE_GONE),
        (None, (F, OLD), (None, None), Rule.OTHER_SIDE_GONE),
        ((R, OLD), (R, NEW), (F, F), Rule.MUTUAL_REQUEST),
        # An acceptance that did not reach the requester's row: Friends is newer.
        ((R, OLD), (F, NEW), (F, F), Rule.NEWER_ROW_WINS),
        # A new request after an unfriend that did not reach the other row: Requested is newer.
        ((R, NEW), (F, OLD), (R, P), Rule.NEWER_ROW_WINS),
        ((P, NEW), (F, OLD), (P, R), Rule.NEWER_ROW_WINS),
        ((P, OLD), (F, NEW), (F, F), Rule.NEWER_ROW_WINS),
        ((P, OLD), (P, NEW), (R, P), Rule.NEWER_ROW_WINS),
        # Same millisecond: the further the exchange got wins.
        ((R, OLD), (F, OLD), (F, F), Rule.NEWER_ROW_WINS),
        ((P, OLD), (R, OLD), (P, R), None),  # valid: never repaired
    ],
)
def test_repair_rule(
    ab: tuple[State, int] | None,
    ba: tuple[State, int] | None,
    repaired: tuple[State | None, State | None],
    rule: Rule | None,
) -> None:
    pair = _pair(ab, ba)
    if rule is None:
        assert pair.is_valid
        return
    assert not pair.is_valid
    repair = repair_for(pair)
    assert (repair.ab, repair.ba) == repaired
    assert repaired in VALID
    assert repair.rule is rule


def test_every_broken_combination_has_a_valid_repair() -> None:
    options: list[tuple[State, int] | None] = [None]
    options += [(state, moment) for state in State for moment in (OLD, NEW)]
    for ab, ba in itertools.product(options, options):
        if ab is None and ba is None:
            continue
        pair = _pair(ab, ba)
        if not pair.is_valid:
            repair = repair_for(pair)
            assert (repair.ab, repair.ba) in VALID, pair


def test_pairs_group_both_rows_of_each_pair() -> None:
    found = list(pairs([Row("b", "a", P, 1), Row("a", "b", R, 1), Row("c", "a", F, 1)]))
    assert [(p.a, p.b, p.states) for p in found] == [
        ("a", "b", (R, P)),
        ("a", "c", (None, F)),
    ]


def test_recent_changes_are_in_flight_not_broken() -> None:
    now = 10_000_000
    table = [Row("a", "b", R, now - 1_000), Row("c", "d", R, now - 400_000)]
    findings = check(table, settle_seconds=300, now=now)
    assert [p.a for p in findings.broken] == ["c"]
    assert [p.a for p in findings.in_flight] == ["a"]
    assert (findings.rows, findings.pairs) == (2, 2)


def test_apply_restores_the_invariant_and_a_second_run_finds_nothing(aws: Aws) -> None:
    seeded = {
        ("ann", "bob"): (R, OLD),  # its Pending mirror is missing
        ("cat", "dan"): (F, OLD),  # the other side unfriended
        ("eve", "fay"): (R, OLD),
        ("fay", "eve"): (R, NEW),  # a mutual request
        ("gil", "hal"): (R, NEW),
        ("hal", "gil"): (F, OLD),  # a new request after an unfriend
        ("ivy", "jon"): (R, OLD),
        ("jon", "ivy"): (P, OLD),  # valid
    }
    for (player, friend), (state, moment) in seeded.items():
        aws.dynamodb.put_item(TableName=TABLE_NAME, Item=item(player, friend, state, moment))
    table = Table(aws.dynamodb, TABLE_NAME)
    scanned: list[int] = []

    findings = check(table.scan(scanned.append), settle_seconds=0)
    assert sum(scanned) == findings.rows == len(seeded)
    assert findings.pairs == 5
    assert [(p.a, p.b) for p in findings.broken] == [
        ("ann", "bob"),
        ("cat", "dan"),
        ("eve", "fay"),
        ("gil", "hal"),
    ]
    before = now_millis()
    assert [table.apply(repair_for(p)) for p in findings.broken] == [Outcome.REPAIRED] * 4

    assert rows(aws) == {
        ("ann", "bob"): R,
        ("bob", "ann"): P,
        ("eve", "fay"): F,
        ("fay", "eve"): F,
        ("gil", "hal"): R,
        ("hal", "gil"): P,
        ("ivy", "jon"): R,
        ("jon", "ivy"): P,
    }
    rescanned = {(r.player_id, r.friend_id): r for r in table.scan()}
    assert rescanned[("bob", "ann")].last_updated >= before  # written rows are dated now
    assert rescanned[("ann", "bob")].last_updated == OLD  # rows that stand keep their date
    assert rescanned[("jon", "ivy")].last_updated == OLD  # valid pairs are not touched
    again = check(table.scan(), settle_seconds=0)
    assert (again.broken, again.in_flight) == ([], [])


def test_a_pair_that_changed_since_the_scan_is_skipped(aws: Aws) -> None:
    aws.dynamodb.put_item(TableName=TABLE_NAME, Item=item("ann", "bob", R, OLD))
    table = Table(aws.dynamodb, TABLE_NAME)
    (broken,) = check(table.scan(), settle_seconds=0).broken
    # Meanwhile the stream catches up: the mirror appears.
    aws.dynamodb.put_item(TableName=TABLE_NAME, Item=item("bob", "ann", P, NEW))
    assert table.apply(repair_for(broken)) is Outcome.CHANGED
    assert rows(aws) == {("ann", "bob"): R, ("bob", "ann"): P}

    # Or the row that stands was written again.
    aws.dynamodb.put_item(TableName=TABLE_NAME, Item=item("cat", "dan", F, OLD))
    (broken,) = check(table.scan(), settle_seconds=0).broken
    aws.dynamodb.put_item(TableName=TABLE_NAME, Item=item("cat", "dan", F, NEW))
    assert table.apply(repair_for(broken)) is Outcome.CHANGED
    assert rows(aws)[("cat", "dan")] is F
