"""The time an invocation has left: a call to AWS starts only when it can end in time.

A batch function handles its records one after another, each may make several DynamoDB calls,
and a contended write may be tried again (:func:`friend_handlers.dal.settle`). Every call can
take up to ``friend_models.CALL_BUDGET_SECONDS`` before its client gives up, so a slow table
would otherwise run the invocation into its Lambda timeout. A timeout answers nothing: the
whole batch comes back, records already done included, and the front's own records of handled
messages are what then keeps their copies from applying twice.

So before each call (and before each record starts) the handler asks how long its invocation
has left (``LambdaContext.get_remaining_time_in_millis``). When one more call and the answer
would not fit, :class:`OutOfTimeError` fails the record: it is reported as a batch item
failure and comes back, and the records already done stay done. Stopping between two calls of
one record is safe because each write is guarded (a retried record decides again from the rows
as they are) and the front records a message in the same transaction that applies it.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from aws_lambda_powertools.utilities.typing import LambdaContext
from friend_models import CALL_BUDGET_SECONDS

ANSWER_MARGIN_SECONDS = 1
"""Time an invocation needs after its last call: build the batch response, flush metrics."""
NEEDED_MILLIS = (CALL_BUDGET_SECONDS + ANSWER_MARGIN_SECONDS) * 1000
"""What must be left for a call to start: the call at its slowest, then the answer."""

_remaining_millis: Callable[[], int] | None = None


class OutOfTimeError(RuntimeError):
    """The invocation has no time left for another call; the record is retried later."""


@contextmanager
def invocation(context: LambdaContext) -> Iterator[None]:
    """Check calls made inside against ``context``'s remaining time. Outside any invocation
    (the read API, which makes one call per request; tools; tests) nothing is checked."""
    global _remaining_millis  # noqa: PLW0603 - one invocation at a time per process
    _remaining_millis = context.get_remaining_time_in_millis
    try:
        yield
    finally:
        _remaining_millis = None


def check() -> None:
    """Raise :class:`OutOfTimeError` unless the invocation has time for one more call."""
    if _remaining_millis is not None:
        left = _remaining_millis()
        if left < NEEDED_MILLIS:
            raise OutOfTimeError(f"{left} ms left, a call may need {NEEDED_MILLIS} ms")
