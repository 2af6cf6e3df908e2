"""The summary printed at the end of a run: results, timings, logs and what was kept."""

from datetime import datetime

from friend_target import REGION

from friend_integ.emulators.cli import stop_command
from friend_integ.paths import Layout
from friend_integ.run import EXIT_FAILED, EXIT_INTERRUPTED, Run
from friend_integ.runner import ReportParser
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
    inspect = "uv run --package friend-integ python -m friend_integ.inspect"
    return [
        "kept stacks: " + ", ".join(run.kept_stacks),
        f"inspect:     {inspect} --endpoint {endpoint} --scan --dlq",
        "page:        the `page` line that inspect prints: open it in a browser",
        f"AWS CLI:     AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test aws --endpoint-url "
        f"{endpoint} --region {REGION} dynamodb scan --table-name <TableName>",
        "next run:    `integ` removes these stacks before it deploys",
    ]


def _result_lines(parser: ReportParser, layout: Layout) -> list[str]:
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
        lines.append(
            f"  {verdict}  {result.phase.value:8s} {result.name}  {result.seconds:.1f}s{extra}"
        )
        if verdict == "FAIL":
            lines.extend(f"          {detail}" for detail in result.details[:40])
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


def summary(run: Run, started_at: datetime, exit_code: int) -> list[str]:
    lines = ["", "Summary"]
    if run.target is not None:
        lines.append(f"  target:  {run.target.describe()}")
    if run.parser is not None:
        lines.extend(_result_lines(run.parser, run.layout))
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
        lines.append(f"integ: {verdicts.count('PASS')} passed, {verdicts.count('FAIL')} failed")
    return lines
