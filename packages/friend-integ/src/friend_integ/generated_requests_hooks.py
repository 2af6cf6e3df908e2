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
    """Keep ``failure`` unless an allowance of the lane covers its request (a 5xx only when the
    allowance says the emulator gives it)."""
    del context, response
    server_error = failure.code == SERVER_ERROR
    return not any(
        allowance.covers(case) and (allowance.server_errors or not server_error)
        for allowance in ALLOWANCES[os.environ[LANE_ENV]]
    )
