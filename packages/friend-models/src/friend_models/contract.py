"""The table contract: what every release that reads or writes the Friend table must agree on.

Two releases of friend-handlers can run side by side (one function on each) only if they see the
same table: the same key names, attribute names and types, the same states, the same variable
carrying the table name. :data:`TABLE_CONTRACT` states exactly that, as plain data, and
:data:`TABLE_CONTRACT_ID` names it. The identifier is derived from the data, never typed by hand,
so a change to the table's shape changes it without anyone having to remember to; a release
records it, and a deployment refuses releases whose identifiers differ.
"""

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from friend_models.model import (
    FRIEND_ID,
    LAST_UPDATED,
    PLAYER_ID,
    STATE,
    TABLE_NAME_ENV,
    State,
)

TABLE_CONTRACT: Mapping[str, Any] = {
    "hash_key": {"name": PLAYER_ID, "type": "S"},
    "range_key": {"name": FRIEND_ID, "type": "S"},
    "attributes": {STATE: "S", LAST_UPDATED: "N"},
    "states": sorted(state.value for state in State),
    "table_name_env": TABLE_NAME_ENV,
}
"""The table as the code sees it. Timeouts and retries are left out: they are each release's own
business, not something two releases must share."""


def contract_id(contract: Mapping[str, Any]) -> str:
    """``friend-table-<16 hex digits>``: a digest of the contract's canonical JSON."""
    canonical = json.dumps(contract, sort_keys=True, separators=(",", ":")).encode()
    return "friend-table-" + hashlib.sha256(canonical).hexdigest()[:16]


TABLE_CONTRACT_ID = contract_id(TABLE_CONTRACT)
"""The identifier releases record and deployments compare."""


def describe() -> dict[str, Any]:
    """The contract as plain JSON-ready data (a release's ``metadata.json`` holds it)."""
    return {"table_contract": TABLE_CONTRACT_ID, "table": json.loads(json.dumps(TABLE_CONTRACT))}
