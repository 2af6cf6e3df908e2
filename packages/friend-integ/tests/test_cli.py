"""The integ command end to end, with a stand-in for integ-runner.

The stand-in records the arguments and environment it was started with and prints a report
in integ-runner's format, so these tests check what the command hands integ-runner (flags,
selection, a fail-closed environment) and how it turns the report into a summary and an exit
code, without Node, an emulator or AWS.
"""

import json
import os
import stat
import sys
from pathlib import Path
from typing import ClassVar

import pytest
from filelock import FileLock
from friend_integ import cli, prepare, snapshots, waits
from friend_integ.paths import Layout
from friend_integ.progress import Progress
from friend_integ.run_state import EXIT_INTERRUPTED, EXIT_SETUP, Run
from friend_integ.tools import NodeTools
from friend_target import Target, TargetError, TargetKind

FAKE_RUNNER = """\
#!{python}
import json, os, sys
with open(os.environ["FAKE_RECORD"], "w") as record:
    json.dump({{"argv": sys.argv[1:], "env": dict(os.environ), "cwd": os.getcwd()}}, record)
sys.stderr.write(os.environ["FAKE_REPORT"])
sys.exit(int(os.environ.get("FAKE_EXIT", "0")))
"""

PASSING_SNAPSHOT = """\
Verifying integration test snapshots...

  UNCHANGED  integ_friends 1.5s

Tests:    1 passed, 1 total
"""

FAILING_DEPLOY = """\
Verifying integration test snapshots...

  UNCHANGED  integ_friends 1.5s

Running integration tests for failed tests...

Running test /ws/integ/integ_friends.py in us-east-1
  ASSERT     integ_friends-FriendMicroservices/DefaultTest (undefined/us-east-1) 70.5s
      AssertionResultsAwsApiCallDynamoDBquery2
      Expected Count 1, got 0
"""


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Layout:
    root = tmp_path / "ws"
    package = root / "packages" / "friend-integ"
    (package / "integ").mkdir(parents=True)
    (root / "uv.lock").write_text("")
    fake = tmp_path / "integ-runner"
    fake.write_text(FAKE_RUNNER.format(python=sys.executable))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    layout = Layout(package_dir=package)
    monkeypatch.setattr(cli, "Layout", lambda tests=None: Layout(package_dir=package, tests=tests))
    monkeypatch.setattr(
        cli.tools, "ensure_node_tools", lambda *_: (NodeTools(fake, tmp_path / "cdk"), False)
    )
    monkeypatch.setenv("FAKE_RECORD", str(tmp_path / "record.json"))
    return layout


def _record(tmp_path: Path) -> dict[str, object]:
    record: dict[str, object] = json.loads((tmp_path / "record.json").read_text())
    return record


def test_snapshot_only_passes_with_no_credentials_reachable(
    layout: Layout,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FAKE_REPORT", PASSING_SNAPSHOT)
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "real-token")

    assert cli.main(["--snapshot-only"]) == 0

    record = _record(tmp_path)
    argv, env = record["argv"], record["env"]
    assert isinstance(argv, list) and isinstance(env, dict)
    assert "--force" not in argv
    assert argv[argv.index("--directory") + 1] == "integ"
    assert record["cwd"] == str(layout.package_dir)
    assert "AWS_PROFILE" not in env and "AWS_SESSION_TOKEN" not in env
    assert env["AWS_ACCESS_KEY_ID"] == "test"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"
    # Waits sized for an emulator unless the target is AWS (see friend_integ.waits).
    assert env[waits.PATIENCE_ENV] == str(waits.EMULATOR_PATIENCE_SECONDS)
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    err = capsys.readouterr().err
    assert "PASS  snapshot integ_friends  1.5s" in err
    assert "result:  PASSED (exit 0)" in err
    assert err.rstrip().endswith("integ: 1 passed, 0 failed")
    assert (layout.logs_dir).is_dir()


@pytest.mark.usefixtures("layout")
def test_selection_and_pass_through_reach_integ_runner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_REPORT", PASSING_SNAPSHOT)

    cli.main(["--snapshot-only", "integ_friends.py", "--", "--inspect-failures"])

    argv = _record(tmp_path)["argv"]
    assert isinstance(argv, list)
    assert argv[-2:] == ["--inspect-failures", "integ_friends.py"]


@pytest.mark.usefixtures("tmp_path", "layout")
def test_failed_assertion_fails_the_run_and_shows_why(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # integ-runner exits 0 here on purpose: the report alone must be enough to fail the run.
    monkeypatch.setenv("FAKE_REPORT", FAILING_DEPLOY)

    assert cli.main(["--snapshot-only"]) == cli.EXIT_FAILED

    err = capsys.readouterr().err
    assert "FAIL  deploy   integ_friends-FriendMicroservices/DefaultTest  70.5s" in err
    assert "(us-east-1)" in err
    assert "undefined" not in err
    assert "Expected Count 1, got 0" in err
    assert "result:  FAILED (exit 1)" in err
    assert err.rstrip().endswith("integ: 1 passed, 1 failed")


@pytest.mark.usefixtures("layout")
def test_integ_runner_exit_code_alone_fails_the_run_and_its_error_is_shown(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAKE_REPORT", PASSING_SNAPSHOT + "Error: Some changes were destructive!\n")
    monkeypatch.setenv("FAKE_EXIT", "1")

    assert cli.main(["--snapshot-only"]) == cli.EXIT_FAILED

    err = capsys.readouterr().err
    assert "integ-runner: Error: Some changes were destructive!" in err
    assert "result:  FAILED (exit 1)" in err


def test_a_second_run_on_the_same_tests_is_refused_while_the_first_runs(
    layout: Layout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two runs on one folder of tests would overwrite each other's snapshots and integ-runner's
    # output folders there: the second is told, and touches nothing.
    with FileLock(layout.run_lock):
        code = cli.main(["--snapshot-only"])

    assert code == EXIT_SETUP
    assert f"another integ run is using {layout.tests_dir}" in capsys.readouterr().err
    assert not (tmp_path / "record.json").exists()


def test_a_run_on_other_tests_goes_ahead_beside_it(
    layout: Layout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.setenv("FAKE_REPORT", PASSING_SNAPSHOT)

    with FileLock(layout.run_lock):
        code = cli.main(["--snapshot-only", "--directory", str(other)])

    assert code == 0
    argv = _record(tmp_path)["argv"]
    assert isinstance(argv, list) and argv[argv.index("--directory") + 1] == str(other)


def test_aws_target_requires_a_twelve_digit_account() -> None:
    with pytest.raises(SystemExit):
        cli.parse_args(["--aws-account", "prod"])


def test_targets_are_mutually_exclusive() -> None:
    with pytest.raises(SystemExit):
        cli.parse_args(["--snapshot-only", "--endpoint", "http://127.0.0.1:4566"])


def test_emulator_is_a_choice_of_the_embedded_target_only() -> None:
    assert cli.parse_args([]).emulator is None
    assert cli.parse_args(["--emulator", "localstack"]).emulator == "localstack"
    with pytest.raises(SystemExit):
        cli.parse_args(["--emulator", "docker"])
    with pytest.raises(SystemExit):
        cli.parse_args(["--emulator", "ministack", "--endpoint", "http://127.0.0.1:4566"])


def test_no_clean_keeps_the_emulator_for_inspection() -> None:
    args = cli.parse_args(["--no-clean"])
    assert args.clean is False
    assert args.force is True
    assert cli.parse_args(["--no-force"]).force is False


def test_aws_target_keeps_user_credentials_and_drops_endpoints(
    layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "deployer")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    run = Run(layout=layout, progress=Progress(), log_dir=layout.logs_dir)

    cli.open_target(cli.parse_args(["--aws-account", "123456789012"]), run)

    assert run.target is not None and run.target.account == "123456789012"
    assert run.env["AWS_PROFILE"] == "deployer"
    assert "AWS_ENDPOINT_URL" not in run.env
    assert run.env["AWS_REGION"] == "us-east-1"
    # The CDK deploys to the named account only, never to whatever a profile resolves to.
    assert run.env["CDK_DEFAULT_ACCOUNT"] == "123456789012"


def test_stack_names_come_from_the_committed_snapshots(layout: Layout) -> None:
    snapshot = layout.tests_dir / "integ_friends.py.snapshot"
    snapshot.mkdir()
    (snapshot / "integ.json").write_text(
        json.dumps(
            {
                "testCases": {
                    "Case/DefaultTest": {
                        "stacks": ["FriendMicroservicesInteg"],
                        "assertionStackName": "CaseDefaultTestDeployAssert1234",
                    }
                }
            }
        )
    )

    expected = ["CaseDefaultTestDeployAssert1234", "FriendMicroservicesInteg"]
    assert snapshots.test_stacks(layout, []) == expected
    assert snapshots.test_stacks(layout, ["integ_friends.py"]) == expected
    assert snapshots.test_stacks(layout, ["integ_other.py"]) == []


def test_a_stack_shared_by_two_test_cases_is_named_once(layout: Layout) -> None:
    snapshot = layout.tests_dir / "integ_friends.py.snapshot"
    snapshot.mkdir()
    cases = {
        f"Case/{name}": {"stacks": ["Stack"], "assertionStackName": f"{name}Assert"}
        for name in ("First", "Second")
    }
    (snapshot / "integ.json").write_text(json.dumps({"testCases": cases}))

    assert snapshots.test_stacks(layout, []) == ["FirstAssert", "SecondAssert", "Stack"]


def test_assertion_count_comes_from_the_assertion_stack_of_the_snapshot(layout: Layout) -> None:
    snapshot = layout.tests_dir / "integ_friends.py.snapshot"
    snapshot.mkdir()
    (snapshot / "integ.json").write_text(
        json.dumps({"testCases": {"Case": {"stacks": ["S"], "assertionStackName": "A"}}})
    )
    outputs = {"AssertionResultsQuery1": {}, "AssertionResultsHttp2": {}, "QueueUrl": {}}
    (snapshot / "A.template.json").write_text(json.dumps({"Outputs": outputs}))

    assert snapshots.assertion_count(layout, []) == 2
    assert snapshots.assertion_count(layout, ["integ_other.py"]) == 0


REWRITING_RUNNER_REPORT = """\
Verifying integration test snapshots...

  {status}  integ_friends 1.5s

Running integration tests for failed tests...

Running test /ws/integ/integ_friends.py in us-east-1
  SUCCESS    integ_friends-FriendMicroservices/DefaultTest 60.0s
"""


def _rewriting_runner(
    layout: Layout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, report: str, then: str = ""
) -> Path:
    """A stand-in that rewrites the committed snapshot as integ-runner does after a passing
    deploy, reports `report`, then runs `then`; on a local target. Returns the template."""
    snapshot = layout.tests_dir / "integ_friends.py.snapshot"
    snapshot.mkdir()
    template = snapshot / "Stack.template.json"
    template.write_text("committed")
    monkeypatch.setenv("FAKE_REPORT", report)
    fake = tmp_path / "integ-runner"
    fake.write_text(
        fake.read_text().replace(
            'sys.stderr.write(os.environ["FAKE_REPORT"])',
            f"open({str(template)!r}, 'w').write('new')\n"
            'sys.stderr.write(os.environ["FAKE_REPORT"])\n'
            f"sys.stderr.flush()\n{then}",
        )
    )

    def local_target(*_: object) -> prepare.TargetChoice:
        target = Target(TargetKind.EMULATOR, "000000000000", endpoint="http://x:1")
        return prepare.TargetChoice(target, dict(os.environ))

    monkeypatch.setattr(cli, "choose_target", local_target)
    monkeypatch.setattr(cli, "check_answers", lambda _target: None)
    monkeypatch.setattr(cli, "verify_and_prepare", lambda *_: None)
    return template


@pytest.mark.parametrize(("status", "kept"), [("UNCHANGED", "committed"), ("CHANGED  ", "new")])
def test_deploying_run_keeps_the_committed_snapshot_unless_it_changed(
    layout: Layout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: str, kept: str
) -> None:
    report = REWRITING_RUNNER_REPORT.format(status=status)
    template = _rewriting_runner(layout, tmp_path, monkeypatch, report)

    assert cli.main([]) == 0
    assert template.read_text() == kept


def test_an_interrupted_run_keeps_the_committed_snapshot_of_an_unchanged_test(
    layout: Layout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stopped (SIGTERM, or Ctrl-C) while integ-runner runs, after it rewrote a snapshot.
    report = REWRITING_RUNNER_REPORT.format(status="UNCHANGED").split("Running")[0]
    stop_parent = (
        "import signal, time\ntime.sleep(1)\n"
        "os.kill(os.getppid(), signal.SIGTERM)\ntime.sleep(60)\n"
    )
    template = _rewriting_runner(layout, tmp_path, monkeypatch, report, then=stop_parent)

    assert cli.main([]) == EXIT_INTERRUPTED
    assert template.read_text() == "committed"


class FakeEmbedded:
    """Stands in for an embedded emulator: records what the command asked of it."""

    instances: ClassVar[list["FakeEmbedded"]] = []
    running: ClassVar[set[tuple[str, int]]] = set()
    """(emulator, port) pairs that an earlier run left running."""

    def __init__(self, key: str, port: int) -> None:
        self.key = key
        self.title = key.capitalize()
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"
        self.calls: list[str] = []
        FakeEmbedded.instances.append(self)

    def install(self) -> None:
        self.calls.append("install")

    def start(self, timeout: float = 60) -> None:  # noqa: ARG002 - the emulator's signature
        self.calls.append("start")

    def is_running(self) -> bool:
        return (self.key, self.port) in FakeEmbedded.running

    def version(self) -> str:
        return "9.9"


HEALTHY = {
    "services": dict.fromkeys(
        [
            "apigateway",
            "cloudformation",
            "dynamodb",
            "dynamodbstreams",
            "iam",
            "kms",
            "lambda",
            "logs",
            "monitoring",
            "s3",
            "sns",
            "sqs",
            "ssm",
            "states",
            "sts",
        ],
        "available",
    )
}
"""A health report as MiniStack gives it (Step Functions listed as `states`)."""


@pytest.fixture
def fake_emulators(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """Health answers per endpoint (None: nothing listens); emulators are `FakeEmbedded`."""
    answers: dict[str, object] = {}
    FakeEmbedded.instances = []
    FakeEmbedded.running = set()
    monkeypatch.setattr(prepare, "create", FakeEmbedded)
    monkeypatch.setattr(prepare, "health", answers.get)
    return answers


def _run(layout: Layout) -> Run:
    return Run(layout=layout, progress=Progress(), log_dir=layout.logs_dir)


@pytest.mark.parametrize(
    ("argv", "expected"), [([], "ministack"), (["--emulator", "localstack"], "localstack")]
)
def test_embedded_emulator_is_started_when_nothing_answers(
    layout: Layout, fake_emulators: dict[str, object], argv: list[str], expected: str
) -> None:
    run = _run(layout)
    original_start = FakeEmbedded.start

    def start_and_answer(self: FakeEmbedded, timeout: float = 60) -> None:
        original_start(self, timeout)
        fake_emulators[self.endpoint] = HEALTHY

    FakeEmbedded.start = start_and_answer  # type: ignore[method-assign]
    try:
        cli.open_target(cli.parse_args(["--port", "4599", *argv]), run)
    finally:
        FakeEmbedded.start = original_start  # type: ignore[method-assign]

    started = FakeEmbedded.instances[0]
    assert run.target is not None and run.target.kind is TargetKind.EMBEDDED
    assert run.emulator is started and started.key == expected
    assert started.calls == ["install", "start"]
    assert run.env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4599"
    assert run.target.describe().startswith(
        f"embedded {started.title} 9.9 at http://127.0.0.1:4599"
    )


def test_an_emulator_that_already_answers_is_used_and_not_started(
    layout: Layout, fake_emulators: dict[str, object]
) -> None:
    fake_emulators["http://127.0.0.1:4566"] = HEALTHY
    run = _run(layout)

    cli.open_target(cli.parse_args([]), run)

    assert run.target is not None and run.target.kind is TargetKind.EMULATOR
    assert run.emulator is None and run.embedded_already_running is None
    assert all(instance.calls == [] for instance in FakeEmbedded.instances)


def test_an_embedded_emulator_left_running_is_reused_and_named(
    layout: Layout, fake_emulators: dict[str, object]
) -> None:
    fake_emulators["http://127.0.0.1:4566"] = HEALTHY
    FakeEmbedded.running = {("localstack", 4566)}
    run = _run(layout)

    cli.open_target(cli.parse_args([]), run)

    assert run.target is not None and run.target.kind is TargetKind.EMBEDDED
    assert run.embedded_already_running is not None
    assert run.embedded_already_running.key == "localstack"
    assert run.emulator is None  # not started here, so not stopped here


def test_an_explicit_emulator_refuses_another_one_on_its_port(
    layout: Layout, fake_emulators: dict[str, object]
) -> None:
    fake_emulators["http://127.0.0.1:4566"] = HEALTHY
    FakeEmbedded.running = {("ministack", 4566)}

    with pytest.raises(TargetError, match="another emulator already answers"):
        cli.open_target(cli.parse_args(["--emulator", "localstack"]), _run(layout))


def test_given_endpoint_must_be_healthy_and_complete(
    layout: Layout, fake_emulators: dict[str, object]
) -> None:
    with pytest.raises(TargetError, match="no emulator answers"):
        cli.open_target(cli.parse_args(["--endpoint", "http://localhost:4510"]), _run(layout))

    fake_emulators["http://127.0.0.1:4510"] = {"services": {"sqs": "running"}}
    with pytest.raises(TargetError, match="lacks services"):
        cli.open_target(cli.parse_args(["--endpoint", "http://localhost:4510"]), _run(layout))
    assert FakeEmbedded.instances == []  # an explicit endpoint is never started here
