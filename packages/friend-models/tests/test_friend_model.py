"""The write semantics the handlers build on, exercised against moto.

Every transition of the friend graph is a conditional write; the stream side settles a mutual
request in one transaction. These tests pin down exactly those behaviours of the model.
"""

import os
from typing import Any

import pytest
from friend_models import (
    CALL_BUDGET_SECONDS,
    CONNECT_TIMEOUT_SECONDS,
    DEFAULT_TABLE_NAME,
    EXCHANGE_ID,
    FRIEND_ID,
    LAST_UPDATED,
    MAX_RETRY_ATTEMPTS,
    MIRRORED,
    PLAYER_ID,
    READ_TIMEOUT_SECONDS,
    STATE,
    TABLE_NAME_ENV,
    Friend,
    State,
    now_millis,
    transact_write,
)
from pynamodb.exceptions import DeleteError, PutError, TransactWriteError, UpdateError

from .conftest import TEST_TABLE_NAME

CONDITION_FAILED = "ConditionalCheckFailedException"


def _row(player: str, friend: str, state: State) -> Friend:
    return Friend(player, friend, state=state, last_updated=now_millis())


def _raw(client: Any, player: str, friend: str) -> dict[str, Any] | None:
    item = client.get_item(
        TableName=TEST_TABLE_NAME,
        Key={PLAYER_ID: {"S": player}, FRIEND_ID: {"S": friend}},
        ConsistentRead=True,
    ).get("Item")
    return dict(item) if item is not None else None


def test_names_and_table_come_from_one_definition() -> None:
    assert (PLAYER_ID, FRIEND_ID, STATE, LAST_UPDATED, EXCHANGE_ID) == (
        "player_id",
        "friend_id",
        "state",
        "last_updated",
        "exchange_id",
    )
    assert TABLE_NAME_ENV == "FRIEND_TABLE_NAME"
    assert DEFAULT_TABLE_NAME == "Friend"
    assert Friend.Meta.table_name == os.environ[TABLE_NAME_ENV]
    keys = {
        name: a for name, a in Friend.get_attributes().items() if a.is_hash_key or a.is_range_key
    }
    assert {keys[name].attr_name: keys[name].is_hash_key for name in keys} == {
        PLAYER_ID: True,
        FRIEND_ID: False,
    }


def test_state_is_stored_as_its_plain_string(dynamodb: Any) -> None:
    _row("ann", "bob", State.PENDING).save()

    raw = _raw(dynamodb, "ann", "bob")
    assert raw is not None
    assert raw[STATE] == {"S": "Pending"}
    assert set(raw) == {PLAYER_ID, FRIEND_ID, STATE, LAST_UPDATED}
    loaded = Friend.get("ann", "bob", consistent_read=True)
    assert loaded.state is State.PENDING
    assert loaded.to_dict() == {
        PLAYER_ID: "ann",
        FRIEND_ID: "bob",
        STATE: "Pending",
        LAST_UPDATED: int(raw[LAST_UPDATED]["N"]),
    }


def test_the_exchange_id_is_an_optional_plain_string(dynamodb: Any) -> None:
    row = _row("ann", "bob", State.REQUESTED)
    row.exchange_id = "e1"
    row.save()
    _row("cat", "dan", State.REQUESTED).save()  # written as before the attribute existed

    with_id, without = _raw(dynamodb, "ann", "bob"), _raw(dynamodb, "cat", "dan")
    assert with_id is not None
    assert with_id[EXCHANGE_ID] == {"S": "e1"}
    assert without is not None
    assert EXCHANGE_ID not in without
    assert Friend.get("cat", "dan", consistent_read=True).exchange_id is None
    assert "exchange_id" not in Friend.get("ann", "bob", consistent_read=True).to_dict()


@pytest.mark.usefixtures("dynamodb")
def test_a_condition_on_the_exchange_id_tells_exchanges_apart() -> None:
    row = _row("ann", "bob", State.REQUESTED)
    row.exchange_id = "e1"
    row.save()
    _row("cat", "dan", State.REQUESTED).save()
    promote = [Friend.state.set(State.FRIENDS)]

    with pytest.raises(UpdateError) as other_exchange:
        Friend("ann", "bob").update(actions=promote, condition=Friend.exchange_id == "e0")
    assert other_exchange.value.cause_response_code == CONDITION_FAILED
    with pytest.raises(UpdateError):
        Friend("cat", "dan").update(actions=promote, condition=Friend.exchange_id == "e1")

    Friend("ann", "bob").update(actions=promote, condition=Friend.exchange_id == "e1")
    Friend("cat", "dan").update(actions=promote, condition=Friend.exchange_id.does_not_exist())
    assert Friend.get("ann", "bob", consistent_read=True).state is State.FRIENDS
    assert Friend.get("cat", "dan", consistent_read=True).state is State.FRIENDS


def test_mirrored_is_an_optional_bool_that_a_condition_can_require(dynamodb: Any) -> None:
    _row("ann", "bob", State.REQUESTED).save()  # a new request: not mirrored
    assert MIRRORED not in (_raw(dynamodb, "ann", "bob") or {})
    assert Friend.get("ann", "bob", consistent_read=True).mirrored is None
    not_mirrored = Friend.mirrored.does_not_exist()

    Friend("ann", "bob").update(actions=[Friend.mirrored.set(True)], condition=not_mirrored)

    assert (_raw(dynamodb, "ann", "bob") or {})[MIRRORED] == {"BOOL": True}
    assert Friend.get("ann", "bob", consistent_read=True).mirrored is True
    assert MIRRORED not in Friend.get("ann", "bob", consistent_read=True).to_dict()
    with pytest.raises(UpdateError) as again:
        Friend("ann", "bob").update(actions=[Friend.mirrored.set(True)], condition=not_mirrored)
    assert again.value.cause_response_code == CONDITION_FAILED


def test_now_millis_is_epoch_milliseconds() -> None:
    # 2020-01-01 and 2100-01-01 in epoch milliseconds bound any plausible clock.
    assert 1_577_836_800_000 < now_millis() < 4_102_444_800_000


@pytest.mark.usefixtures("dynamodb")
def test_put_if_absent_refuses_an_existing_row() -> None:
    absent = Friend.player_id.does_not_exist()
    _row("ann", "bob", State.REQUESTED).save(condition=absent)

    with pytest.raises(PutError) as refused:
        _row("ann", "bob", State.FRIENDS).save(condition=absent)

    assert refused.value.cause_response_code == CONDITION_FAILED
    assert Friend.get("ann", "bob", consistent_read=True).state is State.REQUESTED


@pytest.mark.usefixtures("dynamodb")
def test_conditional_update_changes_only_the_expected_state() -> None:
    _row("ann", "bob", State.PENDING).save()
    accept = [Friend.state.set(State.FRIENDS), Friend.last_updated.set(now_millis())]

    Friend("ann", "bob").update(actions=accept, condition=Friend.state == State.PENDING)
    assert Friend.get("ann", "bob", consistent_read=True).state is State.FRIENDS

    with pytest.raises(UpdateError) as late:
        Friend("ann", "bob").update(actions=accept, condition=Friend.state == State.PENDING)
    assert late.value.cause_response_code == CONDITION_FAILED


def test_conditional_update_never_creates_a_missing_row(dynamodb: Any) -> None:
    with pytest.raises(UpdateError) as missing:
        Friend("ann", "bob").update(
            actions=[Friend.state.set(State.FRIENDS)], condition=Friend.state == State.PENDING
        )

    assert missing.value.cause_response_code == CONDITION_FAILED
    assert _raw(dynamodb, "ann", "bob") is None


def test_conditional_delete_keeps_a_row_in_another_state(dynamodb: Any) -> None:
    _row("ann", "bob", State.FRIENDS).save()

    with pytest.raises(DeleteError) as wrong_state:
        Friend("ann", "bob").delete(condition=Friend.state == State.PENDING)
    assert wrong_state.value.cause_response_code == CONDITION_FAILED
    assert _raw(dynamodb, "ann", "bob") is not None

    Friend("ann", "bob").delete(condition=Friend.state == State.FRIENDS)
    assert _raw(dynamodb, "ann", "bob") is None


@pytest.mark.usefixtures("dynamodb")
def test_transaction_settles_both_rows_together() -> None:
    _row("ann", "bob", State.REQUESTED).save()
    _row("bob", "ann", State.REQUESTED).save()
    settle = [Friend.state.set(State.FRIENDS), Friend.last_updated.set(now_millis())]

    with transact_write() as transaction:
        for player, friend in (("ann", "bob"), ("bob", "ann")):
            transaction.update(
                Friend(player, friend), actions=settle, condition=Friend.state == State.REQUESTED
            )

    assert Friend.get("ann", "bob", consistent_read=True).state is State.FRIENDS
    assert Friend.get("bob", "ann", consistent_read=True).state is State.FRIENDS


@pytest.mark.usefixtures("dynamodb")
def test_transaction_is_all_or_nothing_and_names_the_failed_condition() -> None:
    _row("ann", "bob", State.REQUESTED).save()
    _row("bob", "ann", State.FRIENDS).save()
    settle = [Friend.state.set(State.FRIENDS), Friend.last_updated.set(now_millis())]

    with pytest.raises(TransactWriteError) as cancelled, transact_write() as transaction:
        transaction.update(
            Friend("ann", "bob"), actions=settle, condition=Friend.state == State.REQUESTED
        )
        transaction.update(
            Friend("bob", "ann"), actions=settle, condition=Friend.state == State.REQUESTED
        )

    reasons = cancelled.value.cancellation_reasons
    assert [reason.code if reason else None for reason in reasons] == [
        None,
        "ConditionalCheckFailed",
    ]
    assert Friend.get("ann", "bob", consistent_read=True).state is State.REQUESTED


def test_condition_check_guards_a_write_on_another_row(dynamodb: Any) -> None:
    # The stream side writes the mirror row only while the source row still holds its state.
    _row("ann", "bob", State.FRIENDS).save()

    with pytest.raises(TransactWriteError), transact_write() as transaction:
        transaction.condition_check(Friend, "ann", "bob", condition=Friend.state == State.REQUESTED)
        transaction.save(
            _row("bob", "ann", State.PENDING), condition=Friend.player_id.does_not_exist()
        )

    assert _raw(dynamodb, "bob", "ann") is None


def test_the_client_gives_up_within_the_call_budget() -> None:
    """The model's own client carries the timeouts and retries the budget is computed from, so
    a table that does not answer fails a call within CALL_BUDGET_SECONDS."""
    config = Friend._get_connection().connection.client.meta.config
    assert config.connect_timeout == CONNECT_TIMEOUT_SECONDS
    assert config.read_timeout == READ_TIMEOUT_SECONDS
    assert config.retries == {"total_max_attempts": 1 + MAX_RETRY_ATTEMPTS, "mode": "standard"}
    attempts = (1 + MAX_RETRY_ATTEMPTS) * (CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS)
    backoffs = sum(2 ** (n - 1) for n in range(1, MAX_RETRY_ATTEMPTS + 1))
    assert attempts + backoffs == CALL_BUDGET_SECONDS
