"""Schemathesis hooks for :mod:`friend_integ.generated_requests` (loaded by ``st`` through
``SCHEMATHESIS_HOOKS``): the lane's allowance, and nothing else."""

import os
from typing import Any

import schemathesis
from schemathesis import Case, HookContext, Response
from schemathesis.core.failures import Failure

from friend_integ.generated_requests import ALLOWANCES, LANE_ENV, SERVER_ERROR


@schemathesis.hook
def filter_failure(
    context: HookContext, failure: Failure, case: Case[Any], response: Response
) -> bool:
    """Keep ``failure`` unless the lane's allowance covers its request (a 5xx is always kept)."""
    del context, response
    if failure.code == SERVER_ERROR:
        return True
    allowances = ALLOWANCES[os.environ[LANE_ENV]]
    return not any(allowance.covers(case.path_parameters or {}) for allowance in allowances)
