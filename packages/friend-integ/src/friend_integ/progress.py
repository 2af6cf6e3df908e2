"""Progress lines for a person watching a run: the step and the time since the start."""

import sys
import time
from typing import TextIO


class Progress:
    """Prints `[  12.3s] message` lines, flushed at once so they appear while work runs."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._start = time.monotonic()
        self.last_line = self._start
        """When the last line was printed: a watcher of silence measures from here."""

    def elapsed(self) -> float:
        """Seconds since this run started."""
        return time.monotonic() - self._start

    def step(self, message: str) -> None:
        self._stream.write(f"[{self.elapsed():6.1f}s] {message}\n")
        self._stream.flush()
        self.last_line = time.monotonic()

    def detail(self, message: str) -> None:
        """A line that belongs to the previous step, indented under it."""
        self._stream.write(f"          {message}\n")
        self._stream.flush()
        self.last_line = time.monotonic()
