"""The state of one integ run: where it logs and reports, what it started and found.

Only ``cli.py`` sets its fields, from what the steps return; the steps read it, and add the time
each phase took (:meth:`Run.timed`). The cleanup and the summary read the result.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

from friend_target import Target

from friend_integ.diagnose import Diagnosis
from friend_integ.emulators import Emulator
from friend_integ.integ_runner import ReportParser
from friend_integ.paths import Layout
from friend_integ.progress import Progress

EXIT_FAILED = 1
EXIT_SETUP = 2
EXIT_INTERRUPTED = 130


@dataclass
class Outcomes:
    """What finishing each test found (`friend_integ.finish`): read by the summary and the
    JUnit report."""

    diagnoses: dict[str, Diagnosis] = field(default_factory=dict)
    """What was found about each failed test, by its result name."""
    teardown_errors: list[str] = field(default_factory=list)
    """Stacks that did not delete: each fails the run."""


@dataclass
class Run:
    """The run's state, filled in by ``cli.py`` as the steps return."""

    layout: Layout
    progress: Progress
    log_dir: Path
    target: Target | None = None
    env: dict[str, str] = field(default_factory=dict)
    """The exact environment every tool of the run gets (see `friend_integ.targets`)."""
    emulator: Emulator | None = None
    """The embedded emulator this run started, if any (it stops it unless kept)."""
    keep_emulator: bool = False
    embedded_already_running: Emulator | None = None
    """An embedded emulator that an earlier run started and left running, if in use."""
    timings: dict[str, float] = field(default_factory=dict)
    regions: tuple[str, ...] = ()
    """The regions the tests run in, one per test file on an emulator (see
    `integ_runner.regions_for`)."""
    parser: ReportParser | None = None
    outcomes: Outcomes = field(default_factory=Outcomes)
    kept_stacks: list[str] = field(default_factory=list)

    def timed(self, name: str, started: float) -> float:
        """Add the seconds since `started` to the phase `name`; returns them."""
        seconds = time.monotonic() - started
        self.timings[name] = self.timings.get(name, 0.0) + seconds
        return seconds
