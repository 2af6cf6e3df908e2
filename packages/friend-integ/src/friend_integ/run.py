"""What one integ run started, measured and found: read by the cleanup and the summary."""

import time
from dataclasses import dataclass, field
from pathlib import Path

from friend_target import Target

from friend_integ.emulators import Emulator
from friend_integ.paths import Layout
from friend_integ.progress import Progress
from friend_integ.runner import ReportParser

EXIT_FAILED = 1
EXIT_SETUP = 2
EXIT_INTERRUPTED = 130


@dataclass
class Run:
    """The run's state; each step fills in what it decided or measured."""

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
    parser: ReportParser | None = None
    kept_stacks: list[str] = field(default_factory=list)

    def timed(self, name: str, started: float) -> float:
        """Add the seconds since `started` to the phase `name`; returns them."""
        seconds = time.monotonic() - started
        self.timings[name] = self.timings.get(name, 0.0) + seconds
        return seconds
