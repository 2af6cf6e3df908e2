"""The message on the front queue, the wire format of the original sample, unchanged.

``{"player_id": "<id>", "friend_id": "<id>", "friend_action": "<action>"}`` where the action is
one of ``Request``, ``Accept``, ``Reject``, ``Unfriend``.

Validation is strict (ids must be JSON strings in the grammar of :mod:`.player_id`, the action
one of four values) so that a message the service cannot act on is recognised once, at the door,
and parked with its reason instead of failing later or being retried forever.
"""

from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from friend_handlers.logic.player_id import PlayerId

MAX_DETAIL_LENGTH = 1024
"""Longest explanation attached to a parked message (it must fit an SQS message attribute)."""

SELF_REQUEST = "self_request"


class FriendAction(StrEnum):
    """What ``player_id`` asks to do about ``friend_id``."""

    REQUEST = "Request"
    ACCEPT = "Accept"
    REJECT = "Reject"
    UNFRIEND = "Unfriend"


class FriendMessage(BaseModel):
    """One action of one player towards another. Unknown extra fields are ignored, so producers
    may add fields without breaking older consumers."""

    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")

    player_id: PlayerId
    friend_id: PlayerId
    friend_action: FriendAction

    @model_validator(mode="after")
    def _players_differ(self) -> Self:
        if self.player_id == self.friend_id:
            raise PydanticCustomError(SELF_REQUEST, "player_id and friend_id must differ")
        return self


class InvalidReason(StrEnum):
    """Why a message was refused; the value is logged, counted and attached to the parked copy."""

    NOT_JSON = "NotJson"
    INVALID_FIELDS = "InvalidFields"
    SELF_REQUEST = "SelfRequest"


class InvalidMessageError(ValueError):
    """A message that no retry can make valid."""

    def __init__(self, reason: InvalidReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def parse_message(body: str) -> FriendMessage:
    """The message in ``body``, or :class:`InvalidMessageError` saying why there is none."""
    try:
        return FriendMessage.model_validate_json(body)
    except ValidationError as error:
        problems = error.errors(include_url=False, include_input=False)
        kinds = {problem["type"] for problem in problems}
        if "json_invalid" in kinds:
            reason = InvalidReason.NOT_JSON
        elif SELF_REQUEST in kinds:
            reason = InvalidReason.SELF_REQUEST
        else:
            reason = InvalidReason.INVALID_FIELDS
        detail = "; ".join(
            f"{'.'.join(map(str, problem['loc'])) or 'message'}: {problem['msg']}"
            for problem in problems
        )
        raise InvalidMessageError(reason, detail[:MAX_DETAIL_LENGTH]) from error
