"""The table contract's identifier follows the table's shape, and only its shape."""

from friend_models import (
    EXCHANGE_ID,
    FRIEND_ID,
    MIRRORED,
    PLAYER_ID,
    STATE,
    TABLE_CONTRACT,
    TABLE_CONTRACT_ID,
    State,
)
from friend_models.contract import contract_id


def test_the_contract_states_the_table_as_the_model_defines_it() -> None:
    assert TABLE_CONTRACT["hash_key"] == {"name": PLAYER_ID, "type": "S"}
    assert TABLE_CONTRACT["range_key"] == {"name": FRIEND_ID, "type": "S"}
    assert STATE in TABLE_CONTRACT["attributes"]
    assert set(TABLE_CONTRACT["states"]) == {state.value for state in State}
    assert contract_id(TABLE_CONTRACT) == TABLE_CONTRACT_ID
    assert TABLE_CONTRACT_ID.startswith("friend-table-")


def test_any_change_of_shape_changes_the_identifier() -> None:
    changes = [
        {**TABLE_CONTRACT, "states": [*TABLE_CONTRACT["states"], "Blocked"]},
        {**TABLE_CONTRACT, "hash_key": {"name": "owner", "type": "S"}},
        {**TABLE_CONTRACT, "attributes": {**TABLE_CONTRACT["attributes"], STATE: "N"}},
        {**TABLE_CONTRACT, "table_name_env": "TABLE"},
    ]
    ids = {contract_id(changed) for changed in changes}
    assert len(ids) == len(changes)
    assert TABLE_CONTRACT_ID not in ids


def test_the_identifier_ignores_the_order_of_keys() -> None:
    reordered = dict(reversed(list(TABLE_CONTRACT.items())))
    assert contract_id(reordered) == TABLE_CONTRACT_ID


def test_describe_is_plain_data_naming_the_identifier() -> None:
    import json  # noqa: PLC0415

    from friend_models.contract import describe  # noqa: PLC0415

    described = describe()
    assert json.loads(json.dumps(described)) == described
    assert described["table_contract"] == TABLE_CONTRACT_ID
    assert contract_id(described["table"]) == TABLE_CONTRACT_ID


def test_what_rows_mean_is_not_the_table_contract() -> None:
    """The optional attributes that carry the rules' meaning (exchange ids, protocol 3's
    ``mirrored``) belong to the stream protocol, which releases record on their own: the table
    keeps the identifier every stored release recorded, so they stay compatible with it."""
    assert EXCHANGE_ID not in TABLE_CONTRACT["attributes"]
    assert MIRRORED not in TABLE_CONTRACT["attributes"]
    assert TABLE_CONTRACT_ID == "friend-table-3978cc9462c6384b"  # releases 0.1.0 and 0.2.0
