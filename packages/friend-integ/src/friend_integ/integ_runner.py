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


TESTS_DIR = "integ"
"""Discovery root of the integ tests, relative to the package folder (integ-runner's cwd)."""


@dataclass(frozen=True)
class RunnerOptions:
    """What one integ-runner invocation should do."""

    tests: Sequence[str] = ()
    deploy: bool = True
    """False: check the snapshots only; nothing is deployed and no endpoint is needed."""
    force: bool = True
    """Deploy every selected test, not only those whose snapshot changed (the snapshot
    check does not see a changed assertion expectation, so deploying runs force by default)."""
    regions: Sequence[str] = ("us-east-1",)
    """One worker per region: integ-runner runs one test at a time in each, so test files run
    side by side when there are several regions (each bootstrapped)."""
    directory: str = TESTS_DIR
    """The tests' folder (integ-runner's discovery root), relative to the package folder or
    absolute."""
    synth_cache: bool = True
    verbosity: int = 0
    extra: Sequence[str] = ()
    """Arguments handed to integ-runner unchanged."""


EMULATOR_REGIONS = ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1")
"""Regions an emulator run spreads test files over, one each: every emulator here serves every
region, each with its own stacks and bootstrap."""


def regions_for(test_files: int, *, side_by_side: bool) -> tuple[str, ...]:
    """The regions of a run: one per test file when they run side by side (on an emulator;
    more files than the list holds share), else one (on AWS, where a region is a choice the
    user makes, or on request)."""
    if not side_by_side:
        return (EMULATOR_REGIONS[0],)
    return EMULATOR_REGIONS[: max(1, min(test_files, len(EMULATOR_REGIONS)))]


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
        options.directory,
        "--app",
        app_command(synth_cache=options.synth_cache),
        # The regions chosen here: otherwise tests spread over three default regions.
        "--parallel-regions",
        ",".join(options.regions),
        # The update workflow redeploys the committed snapshot first, via git: not wanted.
        "--no-update-workflow",
        # The integ command deletes each test's stacks itself as soon as the test's result is
        # in (see `friend_integ.teardown`): integ-runner's toolkit waits 5 s between looks at a
        # deletion, and a failed test's stacks are read for the failure report first.
        "--no-clean",
    ]
    if options.deploy and options.force:
        command.append("--force")
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
_RUNNING = re.compile(r"^Running test (?P<file>\S+) in (?:[^/\s]+/)?(?P<region>\S+)")
_WHERE = re.compile(r"^(?P<name>.*?) \((?P<profile>[^/()]*)/(?P<region>[^/()]+)\)$")
"""integ-runner appends `(<profile>/<region>)` to a failed test's name, `undefined` for the
profile when there is none: the region is kept apart, the rest is noise."""
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Result:
    """One result line of integ-runner, with the indented lines that followed it."""

    phase: Phase
    status: Status
    name: str
    seconds: float
    details: list[str] = field(default_factory=list)
    region: str | None = None

    @property
    def test_file(self) -> str:
        """The test file (`integ_friends.py`) this result is about."""
        return self.name.split("-", 1)[0].removesuffix(".py") + ".py"

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
    started: str | None = None
    """The test file that integ-runner has just started (its region is in `regions`)."""


class ReportParser:
    """Feeds on integ-runner's report line by line; collects results, yields events."""

    def __init__(self, *, deploying: bool) -> None:
        self.deploying = deploying
        self.phase = Phase.SNAPSHOT
        self.results: list[Result] = []
        self.regions: dict[str, str] = {}
        """The region each test file runs in (`integ_friends.py` -> `us-east-2`)."""
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
            self.regions[name] = running["region"]
            return Event(f"{name}: synth, deploy, assertions ({running['region']})", started=name)
        if match := _RESULT.match(line):
            return self._result(match)
        if self._last is not None and line.startswith("      ") and line.strip():
            self._last.details.append(line.strip())
            return None
        if line.strip():
            self._last = None
        return None

    def _result(self, match: re.Match[str]) -> Event:
        name, region = match["name"], None
        if where := _WHERE.match(name):
            name, region = where["name"], where["region"]
        result = Result(
            phase=self.phase,
            status=Status(match["status"]),
            name=name,
            seconds=float(match["seconds"]),
        )
        if self.phase is Phase.DEPLOY:
            result.region = region or self.regions.get(result.test_file)
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
