"""The states a custom resource operation passes through between calls of the provider.

LocalStack's engine calls the provider again and again while it reports ``IN_PROGRESS``, and
hands each call the ``custom_context`` the previous one returned. What that context holds is one
of these states:

- none yet: the operation's request has not been sent;
- :class:`AwaitingResponse`: the request (Create, Update or Delete) is out and its response is
  awaited;
- :class:`AwaitingReplacedDelete`: an Update was answered with a new physical id, so the old
  physical resource was sent a Delete; the new one is reported once that Delete is answered.

The context is kept as plain data (strings, numbers, dicts), as CloudFormation's resource
provider contract has it: the states convert to and from it at this boundary only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Final, Self

from friend_localstack_ext.custom_resource.resource_model import Provisioned

CONTEXT_KEY: Final = "custom_resource"
"""The one key of ``custom_context`` the provider uses. The engine merges a returned context
into the previous one key by key, so a single key replaces the whole state at each step."""


class RequestType(StrEnum):
    """The ``RequestType`` of a custom resource request, spelled as the handler receives it."""

    CREATE = "Create"
    UPDATE = "Update"
    DELETE = "Delete"


@dataclass(frozen=True)
class SentRequest:
    """A request handed to the ServiceToken function, whose response is awaited.

    ``response_token`` names the mailbox behind the request's ResponseURL; ``polls`` counts the
    engine calls that ended without a response, which sets how long the next one may wait.
    """

    request_type: RequestType
    request_id: str
    response_token: str
    sent_at: float
    timeout: float
    polls: int = 0

    @property
    def deadline(self) -> float:
        """When the resource fails for want of a response (wall-clock seconds)."""
        return self.sent_at + self.timeout

    def polled(self) -> Self:
        """The same request after one more engine call without a response."""
        return replace(self, polls=self.polls + 1)

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Self:
        """Read back what :meth:`to_state` wrote."""
        return cls(
            request_type=RequestType(state["request_type"]),
            request_id=state["request_id"],
            response_token=state["response_token"],
            sent_at=state["sent_at"],
            timeout=state["timeout"],
            polls=state["polls"],
        )

    def to_state(self) -> dict[str, Any]:
        """Plain data, as LocalStack's engine carries it between calls of the provider."""
        return {
            "request_type": self.request_type.value,
            "request_id": self.request_id,
            "response_token": self.response_token,
            "sent_at": self.sent_at,
            "timeout": self.timeout,
            "polls": self.polls,
        }


@dataclass(frozen=True)
class AwaitingResponse:
    """The operation's own request is out; its response decides the resource's outcome."""

    sent: SentRequest


@dataclass(frozen=True)
class AwaitingReplacedDelete:
    """An Update replaced the physical resource and the old one was sent its Delete.

    The Update has already succeeded: ``replacement`` is reported whatever the Delete's outcome,
    as CloudFormation's cleanup phase does not undo an update.
    """

    sent: SentRequest
    replacement: Provisioned


type Awaiting = AwaitingResponse | AwaitingReplacedDelete
"""A state in which a request is out and the engine's next call looks for its response."""


def to_context(state: Awaiting) -> dict[str, Any]:
    """The ``custom_context`` that carries ``state`` to the engine's next call."""
    saved: dict[str, Any] = {"sent": state.sent.to_state()}
    if isinstance(state, AwaitingReplacedDelete):
        saved["replacement"] = state.replacement.to_state()
    return {CONTEXT_KEY: saved}


def from_context(context: Mapping[str, Any]) -> Awaiting | None:
    """The state a previous call left in ``context``; None before the request is sent."""
    saved = context.get(CONTEXT_KEY)
    if saved is None:
        return None
    sent = SentRequest.from_state(saved["sent"])
    replacement = saved.get("replacement")
    if replacement is None:
        return AwaitingResponse(sent)
    return AwaitingReplacedDelete(sent, Provisioned.from_state(replacement))
