"""How long an assertion waits for the system to settle, by target.

A wait's total is what a broken rule costs before its assertion fails. On AWS an event source
mapping can take tens of seconds to deliver after a deploy, so waits there must be long; on an
embedded emulator a step settles in well under a second, and a wait sized for AWS would turn a
broken rule into minutes of waiting. The `integ` command names the total in the environment of
the apps it synthesizes; an app synthesized without it (the snapshot check, integ-runner run by
hand) gets the emulators' total, which is what the committed snapshots hold.

The embedded MiniStack runs the waiters' clock fast (`EMBEDDED_MINISTACK_CLOCK`): its Step
Functions scale every retry interval, so the same template polls more often and gives up sooner
there, while Step Functions itself (and so the template) cannot take an interval under a second.
"""

import os
from collections.abc import Mapping

POLL_SECONDS = 1
"""Interval of every wait: short enough that a local run barely notices it."""
EMULATOR_PATIENCE_SECONDS = 20
"""Total of every wait on an emulator: many times what a step takes there, even on a busy
machine, and short enough that a broken rule fails while the person still watches."""
EMBEDDED_MINISTACK_CLOCK = 0.5
"""Seconds the embedded MiniStack waits per second a waiter asks for: a wait there polls every
half second and gives up after half the emulators' total, plus the checks' own time. A wait
that passes barely gains (it waits for the system to settle, not for the poll); a broken
rule's wait is over in about ten seconds, still many times what the slowest step (a cold start
on a loaded machine) takes."""
AWS_PATIENCE_SECONDS = 180
"""Total of every wait on AWS: queue and stream delivery can take this long after a deploy."""
PATIENCE_ENV = "FRIEND_INTEG_PATIENCE_SECONDS"


def patience_for(*, on_aws: bool) -> int:
    """The total of every wait on the target."""
    return AWS_PATIENCE_SECONDS if on_aws else EMULATOR_PATIENCE_SECONDS


def patience(environ: Mapping[str, str] = os.environ) -> int:
    """The total the synthesizing app was given (see the module docstring)."""
    raw = environ.get(PATIENCE_ENV)
    if raw is None:
        return EMULATOR_PATIENCE_SECONDS
    try:
        seconds = int(raw)
    except ValueError:
        seconds = 0
    if seconds < POLL_SECONDS:
        raise ValueError(
            f"{PATIENCE_ENV}={raw!r}: a whole number of seconds, at least {POLL_SECONDS}"
        )
    return seconds
