"""integ-runner: the command line that works here, and reading its report as it runs.

integ-runner writes its whole report to stderr: a snapshot phase, then (for deploying runs) an
integration phase, each with one result line per test such as
`  UNCHANGED  integ_friends 21.3s` or `  SUCCESS    integ_friends-Case/DefaultTest 63.0s`
followed by indented details (assertion results, errors). `ReportParser` turns those lines
into progress events and results, so the summary does not depend on scraping a log later.
"""

import re
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class Phase(StrEnum):
    SNAPSHOT = "snapshot"
    DEPLOY = "deploy"


@dataclass(frozen=True)
class RunnerOptions:
    """What one integ-runner invocation should do."""

    tests: Sequence[str] = ()
    deploy: bool = True
    """False: check the snapshots only; nothing is deployed and no endpoint is needed."""
    force: bool = True
    """Deploy every selected test, not only those whose snapshot changed (the snapshot
    check does not see a changed assertion expectation, so deploying runs force by default)."""
    clean: bool = True
    region: str = "us-east-1"
    synth_cache: bool = True
    verbosity: int = 0
    extra: Sequence[str] = ()
    """Arguments handed to integ-runner unchanged."""


TESTS_DIR = "integ"
"""Discovery root of the integ tests, relative to the package folder (integ-runner's cwd)."""


def app_command(python: str = sys.executable, *, synth_cache: bool = True) -> str:
    """The `--app` command: this interpreter (the workspace's), through the synth cache.

    integ-runner's Python preset runs `python3 {filePath}` from PATH; naming the interpreter
    makes the workspace's environment certain whatever PATH holds.
    """
    if synth_cache:
        return f"{shlex.quote(python)} -m friend_integ.synth_cache {{filePath}}"
    return f"{shlex.quote(python)} {{filePath}}"


def integ_runner_command(integ_runner: Path, options: RunnerOptions) -> list[str]:
    """The integ-runner argument list for `options` (run it from the package folder)."""
    command = [
        str(integ_runner),
        "--language",
        "python",
        "--directory",
        TESTS_DIR,
        "--app",
        app_command(synth_cache=options.synth_cache),
        # One region: otherwise tests spread over three default regions.
        "--parallel-regions",
        options.region,
        # The update workflow redeploys the committed snapshot first, via git: not wanted.
        "--no-update-workflow",
    ]
    if options.deploy and options.force:
        command.append("--force")
    if not options.clean:
        command.append("--no-clean")
    command.extend(["--verbose"] * options.verbosity)
    if options.tests:
        # A selected test that does not exist is an error, not a silently empty run.
        command.append("--strict")
    command.extend(options.extra)
    command.extend(options.tests)
    return command


class Status(StrEnum):
    UNCHANGED = "UNCHANGED"
    SUCCESS = "SUCCESS"
    NEW = "NEW"
    CHANGED = "CHANGED"
    WARN = "WARN"
    ERROR = "ERROR"
    FAILED = "FAILED"
    ASSERT = "ASSERT"


_RESULT = re.compile(
    r"^  (?P<status>" + "|".join(s.value for s in Status) + r")\s+(?P<name>\S.*?)\s+"
    r"(?P<seconds>\d+(?:\.\d+)?)s\s*$"
)
_RUNNING = re.compile(r"^Running test (?P<file>\S+) in (?P<where>\S+)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Result:
    """One result line of integ-runner, with the indented lines that followed it."""

    phase: Phase
    status: Status
    name: str
    seconds: float
    details: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """An error, a failed deployment or a failed assertion."""
        return self.status in (Status.ERROR, Status.FAILED, Status.ASSERT)

    @property
    def snapshot_differs(self) -> bool:
        return self.phase is Phase.SNAPSHOT and self.status in (Status.CHANGED, Status.NEW)

    @property
    def passed(self) -> bool:
        return self.status in (Status.UNCHANGED, Status.SUCCESS)

    @property
    def assertions(self) -> tuple[int, int]:
        """(succeeded, reported) assertion results listed under a deploy result."""
        reported = [d for d in self.details if d.startswith("AssertionResults")]
        return sum(d.endswith(" - success") for d in reported), len(reported)


@dataclass(frozen=True)
class Event:
    """Something a person watching should hear about."""

    message: str
    result: Result | None = None


class ReportParser:
    """Feeds on integ-runner's report line by line; collects results, yields events."""

    def __init__(self, *, deploying: bool) -> None:
        self.deploying = deploying
        self.phase = Phase.SNAPSHOT
        self.results: list[Result] = []
        self._last: Result | None = None

    def feed(self, raw: str) -> Event | None:
        line = _ANSI.sub("", raw.rstrip("\n"))
        if line.startswith("Verifying integration test snapshots"):
            self.phase, self._last = Phase.SNAPSHOT, None
            return Event("snapshot check: synthesizing and comparing with the committed snapshot")
        if line.startswith("Running integration tests"):
            self.phase, self._last = Phase.DEPLOY, None
            return None
        if running := _RUNNING.match(line):
            self._last = None
            name = Path(running["file"]).name
            return Event(f"{name}: synth, deploy, assertions, destroy ({running['where']})")
        if match := _RESULT.match(line):
            return self._result(match)
        if self._last is not None and line.startswith("      ") and line.strip():
            self._last.details.append(line.strip())
            return None
        if line.strip():
            self._last = None
        return None

    def _result(self, match: re.Match[str]) -> Event:
        result = Result(
            phase=self.phase,
            status=Status(match["status"]),
            name=match["name"],
            seconds=float(match["seconds"]),
        )
        self._last = result
        if result.status is Status.WARN:
            return Event(f"{result.name}: integ-runner says it is taking long")
        self.results.append(result)
        return Event(f"{self.phase.value} {result.status.value.lower()}: {result.name}", result)

    def verdicts(self) -> list[tuple[str, Result]]:
        """PASS/FAIL per result that decides the run, in report order.

        A snapshot that differs fails a snapshot-only run. In a deploying run it is only
        news: the deploy result decides, and integ-runner rewrites the snapshot after a
        successful deploy (for the developer to review and commit).
        """
        verdicts = []
        for result in self.results:
            if self.deploying and result.snapshot_differs:
                continue
            failed = result.failed or result.snapshot_differs
            verdicts.append(("FAIL" if failed else "PASS", result))
        return verdicts

    @property
    def failed(self) -> bool:
        """A failure, or nothing tested at all: a run that checked nothing did not pass."""
        verdicts = self.verdicts()
        return not verdicts or any(verdict == "FAIL" for verdict, _ in verdicts)

    @property
    def rewritten_snapshots(self) -> list[str]:
        """Tests whose snapshot differed in a deploying run (rewritten if it passed)."""
        if not self.deploying:
            return []
        return [r.name for r in self.results if r.snapshot_differs]
