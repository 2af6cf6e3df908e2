"""integ-runner's command line and the reading of its report."""

import io
import shlex
import sys
from pathlib import Path

import pytest
from friend_integ.integ_runner import (
    Phase,
    ReportParser,
    RunnerOptions,
    Status,
    app_command,
    integ_runner_command,
    regions_for,
)
from friend_integ.integ_runner_process import stack_reporter
from friend_integ.paths import Layout
from friend_integ.progress import Progress
from friend_integ.run_state import Run

RUNNER = Path("/tools/integ-runner")


def _flags(command: list[str]) -> list[str]:
    return [arg for arg in command if arg.startswith("--")]


def test_deploying_run_forces_and_pins_language_directory_region_and_workflow() -> None:
    command = integ_runner_command(RUNNER, RunnerOptions())

    assert command[0] == str(RUNNER)
    assert command[command.index("--language") + 1] == "python"
    assert command[command.index("--directory") + 1] == "integ"
    assert command[command.index("--parallel-regions") + 1] == "us-east-1"
    assert "--no-update-workflow" in command
    assert "--force" in command
    # The command deletes each test's stacks itself (see friend_integ.finish).
    assert "--no-clean" in command
    assert "--strict" not in command


def test_test_files_run_side_by_side_one_region_each_when_asked() -> None:
    regions = regions_for(2, side_by_side=True)
    command = integ_runner_command(RUNNER, RunnerOptions(regions=regions))

    assert len(set(regions)) == 2
    assert command[command.index("--parallel-regions") + 1] == ",".join(regions)
    assert regions_for(2, side_by_side=False) == ("us-east-1",)
    assert regions_for(0, side_by_side=True) == ("us-east-1",)


def test_app_runs_the_workspace_interpreter_through_the_synth_cache() -> None:
    command = integ_runner_command(RUNNER, RunnerOptions())
    app = shlex.split(command[command.index("--app") + 1])

    assert app == [sys.executable, "-m", "friend_integ.synth_cache", "{filePath}"]
    uncached = shlex.split(app_command("/venv/bin/python", synth_cache=False))
    assert uncached == ["/venv/bin/python", "{filePath}"]


def test_snapshot_only_never_forces_a_deployment() -> None:
    command = integ_runner_command(RUNNER, RunnerOptions(deploy=False, force=True))
    assert "--force" not in command


def test_pass_through_of_directory_force_selection_and_extra_arguments() -> None:
    options = RunnerOptions(
        tests=["integ_friends.py"],
        force=False,
        directory="/elsewhere/tests",
        verbosity=2,
        extra=["--inspect-failures"],
    )
    command = integ_runner_command(RUNNER, options)

    assert "--force" not in command
    assert command[command.index("--directory") + 1] == "/elsewhere/tests"
    assert command.count("--verbose") == 2
    assert "--strict" in command
    assert command[-2:] == ["--inspect-failures", "integ_friends.py"]


def test_a_run_without_any_result_fails() -> None:
    parser = ReportParser(deploying=True)
    parser.feed("No such integ test: integ_nope.py")

    assert parser.failed


DEPLOY_REPORT = """\
Verifying integration test snapshots...

  \x1b[32mUNCHANGED  integ_friends 21.35s\x1b[39m

Snapshot Results:

Tests:    1 passed, 1 total

Running integration tests for failed tests...

Running in parallel across regions: us-east-1
Running test /repo/packages/friend-integ/integ/integ_friends.py in us-east-1
  SUCCESS    integ_friends-FriendMicroservices/DefaultTest 63.2s
      AssertionResultsAwsApiCallSQSsendMessage1 - success
      AssertionResultsAwsApiCallDynamoDBquery2 - success

Test Results:

Tests:    1 passed, 1 total
"""

FAILED_REPORT = """\
Verifying integration test snapshots...

  CHANGED    integ_friends 20.1s
      Resources
      [~] AWS::Lambda::Function Front

Running integration tests for failed tests...

Running test /repo/integ/integ_friends.py in us-east-1
  ASSERT     integ_friends-FriendMicroservices/DefaultTest (undefined/us-east-1) 70.5s
      AssertionResultsAwsApiCallDynamoDBquery2
      Expected Count 1, got 0
  FAILED     integ_other-Case/DefaultTest (undefined/us-east-1) 12.0s
      Integration test failed: Error: stack rolled back

Tests:    2 failed, 2 total
"""


def _parse(report: str, *, deploying: bool) -> tuple[ReportParser, list[str]]:
    parser = ReportParser(deploying=deploying)
    events = [event.message for line in report.splitlines() if (event := parser.feed(line))]
    return parser, events


def test_a_passing_deploy_report() -> None:
    parser, events = _parse(DEPLOY_REPORT, deploying=True)

    assert [(r.phase, r.status, r.name, r.seconds) for r in parser.results] == [
        (Phase.SNAPSHOT, Status.UNCHANGED, "integ_friends", 21.35),
        (Phase.DEPLOY, Status.SUCCESS, "integ_friends-FriendMicroservices/DefaultTest", 63.2),
    ]
    assert parser.results[1].assertions == (2, 2)
    assert [verdict for verdict, _ in parser.verdicts()] == ["PASS", "PASS"]
    assert not parser.failed
    assert "integ_friends.py: synth, deploy, assertions (us-east-1)" in events
    assert parser.regions == {"integ_friends.py": "us-east-1"}
    assert parser.results[1].region == "us-east-1"


def test_a_failing_deploy_report_keeps_the_reasons() -> None:
    parser, _ = _parse(FAILED_REPORT, deploying=True)

    verdicts = [(verdict, r.name, r.region) for verdict, r in parser.verdicts()]
    # The changed snapshot is news in a deploying run; the deploy results decide. The region
    # is kept apart from the name (integ-runner writes `(undefined/<region>)` after it).
    assert verdicts == [
        ("FAIL", "integ_friends-FriendMicroservices/DefaultTest", "us-east-1"),
        ("FAIL", "integ_other-Case/DefaultTest", "us-east-1"),
    ]
    assert [r.test_file for r in parser.results[1:]] == ["integ_friends.py", "integ_other.py"]
    assert parser.results[1].details == [
        "AssertionResultsAwsApiCallDynamoDBquery2",
        "Expected Count 1, got 0",
    ]
    assert parser.failed
    assert parser.rewritten_snapshots == ["integ_friends"]


def test_a_changed_or_missing_snapshot_fails_a_snapshot_only_run() -> None:
    report = "Verifying integration test snapshots...\n  CHANGED    a 1.0s\n  NEW        b 0.0s\n"
    parser, _ = _parse(report, deploying=False)

    assert [verdict for verdict, _ in parser.verdicts()] == ["FAIL", "FAIL"]
    assert parser.failed
    assert parser.rewritten_snapshots == []


def test_unchanged_snapshots_pass_a_snapshot_only_run() -> None:
    report = "Verifying integration test snapshots...\n  UNCHANGED  a 1.5s\n  WARN       a 60s\n"
    parser, _ = _parse(report, deploying=False)

    assert [(verdict, r.name) for verdict, r in parser.verdicts()] == [("PASS", "a")]
    assert not parser.failed


@pytest.mark.parametrize(
    ("previous", "status", "timing"),
    [
        ("CREATE_IN_PROGRESS", "CREATE_COMPLETE", "deploy FriendInteg"),
        ("CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "deploy FriendInteg"),
        ("DELETE_IN_PROGRESS", "DELETE_COMPLETE", "destroy FriendInteg"),
        # The watcher did not see the creation end before the deletion began.
        ("CREATE_IN_PROGRESS", "DELETE_IN_PROGRESS", None),
        ("UPDATE_IN_PROGRESS", "DELETE_COMPLETE", None),
    ],
)
def test_a_stacks_operation_is_timed_only_when_its_end_was_seen(
    tmp_path: Path, previous: str, status: str, timing: str | None
) -> None:
    out = io.StringIO()
    run = Run(layout=Layout(), progress=Progress(out), log_dir=tmp_path)

    stack_reporter(run)("FriendInteg", previous, status, 12.5)

    assert run.timings == ({timing: 12.5} if timing else {})
    assert (
        out.getvalue()
        .rstrip()
        .endswith(f"stack FriendInteg: {status}" + (" (12.5s)" if timing else ""))
    )
