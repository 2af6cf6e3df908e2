"""Waiting for a handler's response at its ResponseURL, and checking it as CloudFormation does.

The wait is cut into slices, one per engine call, so that no call holds LocalStack's deployment
thread for minutes and the engine's own iteration budget never runs out before the request's
deadline does (the engine would then fail the resource with a reason-less "timed out").
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from localstack import config

from friend_localstack_ext.custom_resource.errors import CustomResourceError
from friend_localstack_ext.custom_resource.response_url import MAILBOXES
from friend_localstack_ext.custom_resource.states import SentRequest

MAX_RESPONSE_BYTES: Final = 4096
"""CloudFormation rejects custom resource responses over 4 KiB ("Response object is too long")."""

POLL_SLICE_SECONDS: Final = 5.0
"""Longest wait inside one provider call, unless the deadline needs longer slices to fit the
engine's iteration budget."""


class ResponseStatus(StrEnum):
    """The ``Status`` of a handler's response."""

    SUCCESS = "SUCCESS"
    FAILED = "FAILED"


@dataclass(frozen=True)
class HandlerResponse:
    """A handler's response that passed CloudFormation's checks.

    ``physical_resource_id`` is None unless the handler gave a string; ``reason`` is None when it
    gave none (or an empty one).
    """

    status: ResponseStatus
    physical_resource_id: str | None
    reason: str | None
    data: dict[str, Any]

    def failure(self, request_id: str) -> CustomResourceError:
        """The error a FAILED response fails its resource with, worded as CloudFormation does."""
        return CustomResourceError(
            f"Received response status [FAILED] from custom resource. Message returned: "
            f"{self.reason or 'See the details in CloudWatch Log Stream'} "
            f"(RequestId: {request_id})",
            physical_resource_id=self.physical_resource_id,
        )


def _engine_iteration_budget() -> int:
    """How many times LocalStack's engine calls a provider that keeps reporting IN_PROGRESS.

    Mirrors ``ResourceProviderExecutor.deploy_loop`` (one-second sleeps, at least ten calls):
    when the deadline is long, slices grow so the engine does not give up first with a
    reason-less "timed out".
    """
    return max(math.ceil(config.CFN_PER_RESOURCE_TIMEOUT / 1), 10)


def wait_for_response(sent: SentRequest) -> bytes | None:
    """Wait one slice for the response body; None if it has not come yet.

    The ResponseURL is forgotten once the body arrived or the deadline passed; past the deadline
    the request fails with a reason that says which limit ran out.
    """
    remaining = sent.deadline - time.time()
    polls_left = max(_engine_iteration_budget() - sent.polls - 2, 1)
    slice_seconds = min(max(remaining, 0.0), max(POLL_SLICE_SECONDS, remaining / polls_left))
    body = MAILBOXES.wait(sent.response_token, slice_seconds)
    if body is not None:
        MAILBOXES.close(sent.response_token)
        return body
    if time.time() >= sent.deadline:
        MAILBOXES.close(sent.response_token)
        raise CustomResourceError(
            f"CloudFormation did not receive a response from your Custom Resource "
            f"within {sent.timeout:g} seconds (RequestId: "
            f"{sent.request_id}, {sent.request_type}). Check the ServiceToken "
            f"function's logs; the limit is the ServiceTimeout property or "
            f"FRIEND_CFN_CUSTOM_RESOURCE_TIMEOUT."
        )
    return None


def parse_response(body: bytes, request_id: str) -> HandlerResponse:
    """Check a handler's response the way CloudFormation does before it acts on it."""
    if len(body) > MAX_RESPONSE_BYTES:
        raise CustomResourceError("Response object is too long.")
    try:
        response = json.loads(body)
    except ValueError as error:
        raise CustomResourceError(f"Response is not valid JSON: {error}") from error
    if not isinstance(response, dict):
        raise CustomResourceError("Response is not a JSON object.")
    status = response.get("Status")
    if not isinstance(status, str) or status not in tuple(ResponseStatus):
        raise CustomResourceError(f"Response Status must be SUCCESS or FAILED, got {status!r}.")
    if response.get("RequestId") not in (None, request_id):
        raise CustomResourceError(
            f"Response RequestId {response.get('RequestId')!r} does not match {request_id!r}."
        )
    data = response.get("Data")
    if data is not None and not isinstance(data, dict):
        raise CustomResourceError("Response Data must be a JSON object.")
    physical_id = response.get("PhysicalResourceId")
    reason = response.get("Reason")
    return HandlerResponse(
        status=ResponseStatus(status),
        physical_resource_id=physical_id if isinstance(physical_id, str) else None,
        reason=str(reason) if reason else None,
        data=data or {},
    )
