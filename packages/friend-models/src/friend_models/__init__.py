"""The Friend table: the one place where its shape is defined.

Infrastructure builds the table from these names, handlers read and write it through
:class:`Friend`, and tests use both, so a key or attribute name is never repeated elsewhere.
"""

from friend_models.contract import TABLE_CONTRACT, TABLE_CONTRACT_ID
from friend_models.model import (
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
    StateAttribute,
    now_millis,
    transact_write,
)

__all__ = [
    "CALL_BUDGET_SECONDS",
    "CONNECT_TIMEOUT_SECONDS",
    "DEFAULT_TABLE_NAME",
    "EXCHANGE_ID",
    "FRIEND_ID",
    "LAST_UPDATED",
    "MAX_RETRY_ATTEMPTS",
    "MIRRORED",
    "PLAYER_ID",
    "READ_TIMEOUT_SECONDS",
    "STATE",
    "TABLE_CONTRACT",
    "TABLE_CONTRACT_ID",
    "TABLE_NAME_ENV",
    "Friend",
    "State",
    "StateAttribute",
    "now_millis",
    "transact_write",
]
