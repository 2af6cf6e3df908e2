"""The summary printed at the end of a run: results, timings, logs and what was kept."""

from datetime import datetime
from pathlib import Path

from friend_target import REGION

from friend_integ.emulators.cli import stop_command
from friend_integ.paths import Layout
from friend_integ.run_state import EXIT_FAILED, EXIT_INTERRUPTED, Run
from friend_integ.snapshots import assertion_count


def _cache_stats(layout: Layout, since: datetime) -> tuple[int, int]:
    log = layout.synth_cache_dir / "synth-cache.log"
    hits = misses = 0
    if not log.is_file():
        return hits, misses
    for line in log.read_text().splitlines():
        stamp, event, *_ = line.split()
        if datetime.fromisoformat(stamp) >= since:
            hits += event == "HIT"
            misses += event == "MISS"
    return hits, misses


def _inspect_hints(run: Run) -> list[str]:
    assert run.target is not None and run.target.endpoint is not None
    endpoint = run.target.endpoint
    inspect = "uv run --package friend-integ python -m friend_integ.inspect_stacks"
    return [
        "kept stacks: " + ", ".join(run.kept_stacks),
        f"inspect:     {inspect} --endpoint {endpoint} --scan --dlq",
        "page:        the `page` line that inspect prints: open it in a browser",
        f"AWS CLI:     AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test aws --endpoint-url "
        f"{endpoint} --region {REGION} dynamodb scan --table-name <TableName>",
        "next run:    `integ` removes these stacks before it deploys",
    ]


DETAIL_CHARS = 300
"""integ-runner's own detail lines are cut here: a timed-out wait's line is the whole custom
resource request as JSON; what it says is in the lines the command found (see `diagnose`)."""


def _result_lines(run: Run) -> list[str]:
    assert run.parser is not None
    parser, layout = run.parser, run.layout
    lines = []
    for verdict, result in parser.verdicts():
        extra = ""
        ok, total = result.assertions
        # A deploy result is named `<test file>-<test case>`: count that test's assertions.
        assertions = assertion_count(layout, [result.name.split("-", 1)[0]])
        if total:
            extra = f"  ({ok}/{total} assertions)"
        elif verdict == "PASS" and result.phase.value == "deploy" and assertions:
            extra = f"  ({assertions} assertions)"
        where = f"  ({result.region})" if result.region else ""
        lines.append(
            f"  {verdict}  {result.phase.value:8s} {result.name}  {result.seconds:.1f}s"
            f"{extra}{where}"
        )
        if verdict == "FAIL":
            details = [
                d if len(d) <= DETAIL_CHARS else d[: DETAIL_CHARS - 3] + "..."
                for d in result.details[:40]
            ]
            lines.extend(f"          {detail}" for detail in details)
            diagnosis = run.outcomes.diagnoses.get(result.name)
            if diagnosis is not None:
                lines.extend(f"          {line}" for line in diagnosis.lines(layout.tests_dir))
    if not parser.results:
        lines.append("  no test results: see the integ-runner log")
    lines.extend(
        f"  note: the snapshot of {name} changed; integ-runner rewrites it after a passing "
        "deploy: review `git diff` and commit it"
        for name in parser.rewritten_snapshots
    )
    return lines


def _runner_errors(run: Run) -> list[str]:
    """integ-runner's own error lines: why it failed when no test did (say, a snapshot change
    that destroys a resource, which it refuses even after a passing deploy)."""
    log = run.log_dir / "integ-runner.log"
    if not log.is_file():
        return []
    return [line.strip() for line in log.read_text().splitlines() if line.startswith("Error:")]


def summary(
    run: Run, started_at: datetime, exit_code: int, report: Path | None = None
) -> list[str]:
    lines = ["", "Summary"]
    if run.target is not None:
        lines.append(f"  target:  {run.target.describe()}")
    if run.parser is not None:
        lines.extend(_result_lines(run))
        lines.extend(f"  FAIL  destroy  {error}" for error in run.outcomes.teardown_errors)
        if exit_code == EXIT_FAILED and not run.parser.failed:
            lines.extend(f"  integ-runner: {error}" for error in _runner_errors(run))
    hits, misses = _cache_stats(run.layout, started_at)
    if hits or misses:
        lines.append(f"  synth cache: {hits} hits, {misses} misses")
    if run.timings:
        lines.append(
            "  time:    "
            + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in run.timings.items())
            + f"; total {run.progress.elapsed():.1f}s"
        )
    lines.append(f"  logs:    {run.log_dir}")
    if report is not None:
        lines.append(f"  report:  {report} (JUnit XML)")
    if run.emulator is not None:
        lines.append(f"  {run.emulator.title} log: {run.emulator.log_file}")
    if run.target is not None and run.target.is_emulator and run.kept_stacks:
        lines.extend("  " + hint for hint in _inspect_hints(run))
    if run.emulator is not None and run.keep_emulator:
        lines.append(
            f"  {run.emulator.title}: left running; stop it with: {stop_command(run.emulator)}"
        )
    elif run.embedded_already_running is not None:
        left = run.embedded_already_running
        lines.append(
            f"  {left.title}: the embedded one an earlier run left running; stop it with: "
            + stop_command(left)
        )
    verdict = {0: "PASSED", EXIT_INTERRUPTED: "INTERRUPTED"}.get(exit_code, "FAILED")
    lines.append(f"  result:  {verdict} (exit {exit_code})")
    if run.parser is not None:
        # The conventional closing line that CI systems and people scan for.
        verdicts = [verdict for verdict, _ in run.parser.verdicts()]
        failed = verdicts.count("FAIL") + len(run.outcomes.teardown_errors)
        lines.append(f"integ: {verdicts.count('PASS')} passed, {failed} failed")
    return lines
