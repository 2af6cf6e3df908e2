"""`integ`: deploy the stack, run the integ-runner tests against it, tear it down, report.

    uv run --package friend-integ integ                          # embedded MiniStack (default)
    uv run --package friend-integ integ --emulator localstack     # embedded LocalStack
    uv run --package friend-integ integ --snapshot-only          # no deployment, no endpoint
    uv run --package friend-integ integ --endpoint http://127.0.0.1:4566   # your emulator
    uv run --package friend-integ integ --aws-account 123456789012         # real AWS

Steps: install the pinned Node tools if needed; choose the target (start the embedded emulator
when nothing answers at the endpoint); prove the target is what it claims (health, account);
bootstrap it unless it is current; remove test stacks an earlier `--no-clean` run left; run
integ-runner; stop what this run started; print a summary.
"""

import argparse
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from queue import Empty, Queue
from types import FrameType
from typing import Any, NoReturn

from friend_integ import bootstrap, tools
from friend_integ.emulators import DEFAULT_EMULATOR, EMULATORS, Emulator, create, health
from friend_integ.emulators.cli import stop_command
from friend_integ.paths import Layout
from friend_integ.progress import Progress
from friend_integ.runner import Phase, ReportParser, RunnerOptions, Status, integ_runner_command
from friend_integ.targets import (
    CLOSED_ENDPOINT,
    DEFAULT_PORT,
    LOCALSTACK_ACCOUNT,
    REGION,
    Target,
    TargetError,
    TargetKind,
    aws_environment,
    check_account,
    check_cdk_profile,
    localstack_environment,
    missing_services,
    normalize_endpoint,
)
from friend_integ.watch import StackWatcher, cloudformation_client

EXIT_FAILED = 1
EXIT_SETUP = 2
EXIT_INTERRUPTED = 130
HEARTBEAT_SECONDS = 20.0
"""Silence longer than this gets a `still running` line, so a watcher knows it is alive."""
STOP_GRACE_SECONDS = 15.0
_ACCOUNT = re.compile(r"^\d{12}$")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="integ",
        description="Deploy the friend microservice, run its integration tests "
        "(integ-runner), destroy it, and report. Default target: an embedded emulator "
        "(MiniStack) on this host (no Docker, no account).",
        epilog="Arguments after `--` go to integ-runner unchanged.",
    )
    parser.add_argument(
        "tests",
        nargs="*",
        metavar="TEST",
        help="tests to run, e.g. integ_friends.py (default: all integ/integ_*.py)",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--snapshot-only",
        action="store_true",
        help="only check the committed snapshots: deploys nothing, needs no endpoint",
    )
    target.add_argument(
        "--endpoint",
        metavar="URL",
        help="use the LocalStack-compatible emulator already running at URL (your LocalStack "
        "in Docker, your own MiniStack); it is never started or stopped here",
    )
    target.add_argument(
        "--aws-account",
        metavar="ID",
        help="deploy to real AWS, in this account only (checked against your credentials)",
    )
    parser.add_argument(
        "--emulator",
        choices=sorted(EMULATORS),
        default=None,
        help=f"the embedded emulator to start when nothing answers at the port "
        f"(default: {DEFAULT_EMULATOR})",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="port of the embedded emulator (default: %(default)s)",
    )
    parser.add_argument(
        "--keep-emulator",
        action="store_true",
        help="leave the embedded emulator running after the run",
    )
    parser.add_argument(
        "--no-clean",
        dest="clean",
        action="store_false",
        help="keep the deployed stacks for inspection (implies --keep-emulator)",
    )
    parser.add_argument(
        "--force",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="deploy every selected test; --no-force deploys only tests whose snapshot "
        "changed (default: force, since the snapshot check cannot see a changed assertion)",
    )
    parser.add_argument(
        "--no-synth-cache",
        dest="synth_cache",
        action="store_false",
        help="synthesize every time instead of replaying cached assemblies",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="show integ-runner's report as it runs (-vv and more: integ-runner's verbosity)",
    )
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
    args = parser.parse_args(argv)
    args.extra = extra
    if args.aws_account is not None and not _ACCOUNT.match(args.aws_account):
        parser.error("--aws-account takes a 12-digit account id")
    if args.emulator is not None and (args.endpoint or args.aws_account or args.snapshot_only):
        parser.error("--emulator chooses the embedded emulator: not with another target")
    return args


@dataclass
class Run:
    """What this run started, measured and found, for the summary and the cleanup."""

    layout: Layout
    progress: Progress
    log_dir: Path
    target: Target | None = None
    env: dict[str, str] = field(default_factory=dict)
    emulator: Emulator | None = None
    """The embedded emulator this run started, if any (it stops it unless kept)."""
    keep_emulator: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    parser: ReportParser | None = None
    runner_exit: int | None = None
    kept_stacks: list[str] = field(default_factory=list)
    parser_tests: Sequence[str] = ()
    embedded_already_running: Emulator | None = None
    """An embedded emulator that an earlier run started and left running, if in use."""

    def timed(self, name: str, started: float) -> float:
        seconds = time.monotonic() - started
        self.timings[name] = self.timings.get(name, 0.0) + seconds
        return seconds


def base_environment(layout: Layout) -> dict[str, str]:
    """The user's environment plus what every tool of the run needs here."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(
        {
            # Node 20 works; its deprecation banners only bury the report.
            "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "18,20",
            "FORCE_COLOR": "0",
            "NO_COLOR": "1",
            "CDK_DISABLE_VERSION_CHECK": "1",
            "CDK_DISABLE_CLI_TELEMETRY": "true",
            # integ-runner sets this for deploys but not for snapshot checks; the same value
            # in both keeps their syntheses identical (bundling is local, Docker is unused).
            "CDK_DOCKER": "docker",
        }
    )
    return env


def _empty_config(layout: Layout) -> Path:
    path = layout.state_dir / "empty-aws-config"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    return path


# Target ------------------------------------------------------------------------------------


def choose_target(args: argparse.Namespace, run: Run) -> None:
    """Decide the target and its environment; start the embedded emulator if needed."""
    base = base_environment(run.layout)
    if args.snapshot_only:
        # No target, and no way to reach one: test credentials and a closed endpoint.
        run.target = Target(TargetKind.NONE, LOCALSTACK_ACCOUNT)
        run.env = localstack_environment(base, CLOSED_ENDPOINT, _empty_config(run.layout))
        return
    if args.aws_account:
        run.target = Target(TargetKind.AWS, args.aws_account)
        run.env = aws_environment(base, REGION, args.aws_account)
        return
    if args.endpoint:
        run.target = Target(
            TargetKind.EMULATOR, LOCALSTACK_ACCOUNT, endpoint=normalize_endpoint(args.endpoint)
        )
    else:
        run.target = _embedded_target(args, run)
    endpoint = run.target.endpoint
    assert endpoint is not None
    run.env = localstack_environment(base, endpoint, _empty_config(run.layout))
    answer = health(endpoint)
    if answer is None:
        raise TargetError(f"no emulator answers at {endpoint}/_localstack/health")
    missing = missing_services(answer)
    if missing:
        raise TargetError(f"the emulator at {endpoint} lacks services: {', '.join(missing)}")


def _embedded_target(args: argparse.Namespace, run: Run) -> Target:
    """The embedded emulator at the port: one already running there, else one started now."""
    wanted = create(args.emulator or DEFAULT_EMULATOR, port=args.port)
    endpoint = wanted.endpoint
    if health(endpoint) is not None:
        running = [name for name in EMULATORS if create(name, port=args.port).is_running()]
        if args.emulator is not None and running != [args.emulator]:
            raise TargetError(
                f"--emulator {args.emulator}: another emulator already answers at {endpoint}; "
                "stop it or choose another --port"
            )
        if not running:
            run.progress.step(f"an emulator already answers at {endpoint}: using it as it is")
            return Target(TargetKind.EMULATOR, LOCALSTACK_ACCOUNT, endpoint=endpoint)
        found = create(running[0], port=args.port)
        run.progress.step(f"embedded {found.title} already runs at {endpoint}: using it")
        run.embedded_already_running = found
        return Target(TargetKind.EMBEDDED, LOCALSTACK_ACCOUNT, endpoint=endpoint, name=_name(found))
    started = time.monotonic()
    run.progress.step(f"embedded {wanted.title}: checking its environment (installs once)")
    wanted.install()
    run.timed(f"{wanted.title} environment", started)
    started = time.monotonic()
    run.progress.step(f"embedded {wanted.title}: starting at {endpoint}")
    run.emulator = wanted
    wanted.start(timeout=90)
    run.progress.detail(f"ready after {run.timed(f'{wanted.title} start', started):.1f}s")
    return Target(TargetKind.EMBEDDED, LOCALSTACK_ACCOUNT, endpoint=endpoint, name=_name(wanted))


def _name(emulator: Emulator) -> str:
    """How the target is named in progress and summary: which emulator, which version."""
    version = emulator.version()
    return f"embedded {emulator.title}" + (f" {version}" if version else "")


def probe(run: Run, stacks: Sequence[str]) -> dict[str, Any]:
    """Ask the target (with the tools' exact environment) who we are and what it holds."""
    result = subprocess.run(  # noqa: S603 - argument list, no shell
        [sys.executable, "-m", "friend_integ.probe", *stacks],
        env=run.env,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        answer: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError:
        answer = {"error": (result.stderr or result.stdout).strip()[-2000:]}
    return answer


def test_stacks(layout: Layout, selected: Sequence[str]) -> list[str]:
    """Stack names of the selected tests, assertion stacks first, from their snapshots."""
    names: list[str] = []
    for manifest in sorted(layout.tests_dir.glob("*.snapshot/integ.json")):
        test_file = manifest.parent.name.removesuffix(".snapshot")
        if selected and not any(Path(s).name.removesuffix(".py") in test_file for s in selected):
            continue
        cases = json.loads(manifest.read_text()).get("testCases", {})
        for case in cases.values():
            if case.get("assertionStackName"):
                names.append(case["assertionStackName"])
            names.extend(case.get("stacks", []))
    return names


def verify_and_prepare(args: argparse.Namespace, run: Run, cdk_package: Path, cdk: Path) -> None:
    """Check the account, bootstrap when needed, clear stacks left by a `--no-clean` run."""
    assert run.target is not None
    started = time.monotonic()
    stacks = test_stacks(run.layout, args.tests)
    if run.target.kind is TargetKind.AWS:
        check_cdk_profile(Path(run.env.get("HOME", str(Path.home()))) / ".cdk.json", run.env)
    answer = probe(run, stacks)
    if "error" in answer:
        raise TargetError(f"{run.target.describe()} did not answer: {answer['error']}")
    check_account(run.target, answer.get("account"))
    run.progress.detail(f"caller {answer['arn']} (account verified)")
    run.timed("target checks", started)

    wanted = bootstrap.template_version(cdk_package)
    if bootstrap.is_current(answer["bootstrap_status"], answer["bootstrap_version"], wanted):
        run.progress.step(f"bootstrap: CDKToolkit is current (version {wanted}), skipped")
    else:
        started = time.monotonic()
        run.progress.step(f"bootstrap: cdk bootstrap aws://{run.target.account}/{REGION}")
        bootstrap.bootstrap(cdk, run.target, run.env, run.log_dir / "bootstrap.log")
        run.progress.detail(f"done in {run.timed('bootstrap', started):.1f}s")

    leftovers = list(answer.get("stacks", {}))
    if leftovers:
        if not run.target.is_emulator:
            raise TargetError(
                f"stacks from an earlier run exist in {run.target.describe()}: "
                f"{', '.join(leftovers)}; delete them first (cdk destroy or the console)"
            )
        started = time.monotonic()
        run.progress.step(f"removing stacks left by an earlier --no-clean run: {leftovers}")
        _delete_stacks(run, leftovers)
        run.timed("leftover cleanup", started)


def _delete_stacks(run: Run, names: Sequence[str]) -> None:
    """Delete stacks in order (assertion stacks first) and wait for each to go."""
    code = (
        "import sys, boto3\n"
        "cfn = boto3.client('cloudformation')\n"
        "for name in sys.argv[1:]:\n"
        "    cfn.delete_stack(StackName=name)\n"
        "    cfn.get_waiter('stack_delete_complete').wait(\n"
        "        StackName=name, WaiterConfig={'Delay': 1, 'MaxAttempts': 300})\n"
    )
    result = subprocess.run(  # noqa: S603 - argument list, no shell
        [sys.executable, "-c", code, *names],
        env=run.env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise TargetError(f"could not delete leftover stacks: {result.stderr.strip()[-2000:]}")


# integ-runner ------------------------------------------------------------------------------


def _pump(stream: Any, lines: "Queue[str | None]") -> None:
    for line in iter(stream.readline, ""):
        lines.put(line)
    lines.put(None)


def run_integ_runner(args: argparse.Namespace, run: Run, integ_runner: Path) -> int:
    """Run integ-runner, echoing progress from its report; stop it on interruption."""
    options = RunnerOptions(
        tests=args.tests,
        deploy=not args.snapshot_only,
        force=args.force,
        clean=args.clean,
        region=REGION,
        synth_cache=args.synth_cache,
        verbosity=max(0, args.verbose - 1),
        extra=args.extra,
    )
    command = integ_runner_command(integ_runner, options)
    log_path = run.log_dir / "integ-runner.log"
    parser = ReportParser(deploying=options.deploy)
    run.parser = parser
    run.parser_tests = args.tests
    started = time.monotonic()
    tests = " ".join(args.tests) or "all tests"
    run.progress.step(f"integ-runner: {tests} ({'deploy' if options.deploy else 'snapshot check'})")
    process = subprocess.Popen(  # noqa: S603 - argument list, no shell
        command,
        cwd=run.layout.package_dir,
        env=run.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    lines: Queue[str | None] = Queue()
    assert process.stdout is not None
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    current = "integ-runner"
    watched = test_stacks(run.layout, args.tests) if options.deploy else []
    watcher = StackWatcher(
        cloudformation_client(run.env) if watched else None, watched, _stack_reporter(run)
    )
    try:
        with log_path.open("w") as log, watcher:
            log.write(f"$ {shlex.join(command)}\n")
            while True:
                try:
                    line = lines.get(timeout=1.0)
                except Empty:
                    if time.monotonic() - run.progress.last_line > HEARTBEAT_SECONDS:
                        run.progress.detail(f"... still running: {current}")
                    continue
                if line is None:
                    break
                log.write(line)
                log.flush()
                if args.verbose:
                    sys.stderr.write(line)
                event = parser.feed(line)
                if event is not None:
                    current = event.message
                    run.progress.step(event.message)
        process.wait()
    finally:
        if process.poll() is None:
            run.progress.step("stopping integ-runner")
            with _shielded():
                _stop_group(process)
        run.timed("integ-runner", started)
    run.runner_exit = process.returncode
    return process.returncode


_VERBS = {"CREATE": "deploy", "UPDATE": "update", "DELETE": "destroy"}


def _stack_reporter(run: Run) -> Callable[[str, str, str, float], None]:
    """Progress lines for stack status changes; the time each operation took, for the summary."""

    def report(stack: str, previous: str, status: str, seconds: float) -> None:
        if status == "REVIEW_IN_PROGRESS":
            return  # a change set being prepared: the creation proper follows
        verb = _VERBS.get(previous.split("_", 1)[0])
        timed = verb is not None and previous.endswith("_IN_PROGRESS")
        took = f" ({seconds:.1f}s)" if timed else ""
        run.progress.step(f"stack {stack}: {status}{took}")
        if timed:
            run.timings[f"{verb} {stack}"] = seconds

    return report


@contextlib.contextmanager
def _shielded() -> Iterator[None]:
    """Let a cleanup finish: a second Ctrl-C (or `uv run` forwarding the first one again)
    must not leave integ-runner or the emulator half stopped. The cleanups are bounded."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _group_alive(pgid: int) -> bool:
    """Whether any live (not zombie) process is left in the process group `pgid`."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command name: state, ppid, pgrp.
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def _stop_group(process: "subprocess.Popen[str]") -> None:
    """Stop integ-runner's whole process group: it, its workers and the syntheses they run.

    SIGINT first (what Ctrl-C would have sent), then SIGTERM, then SIGKILL, each until the group
    is empty or a grace period ends; a child that ignores one signal gets the next.
    """
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while time.monotonic() < deadline:
            process.poll()
            if not _group_alive(process.pid):
                break
            time.sleep(0.1)
        if not _group_alive(process.pid):
            break
    process.wait()


def _backup_snapshots(layout: Layout, backup: Path) -> None:
    for snapshot in layout.tests_dir.glob("**/*.snapshot"):
        if snapshot.is_dir():
            target = backup / snapshot.relative_to(layout.tests_dir)
            # Bundled assets are git-ignored build output, not part of what is kept.
            shutil.copytree(snapshot, target, ignore=shutil.ignore_patterns("asset.*"))


def _restore_unchanged_snapshots(layout: Layout, backup: Path, parser: ReportParser) -> None:
    """Put back the committed snapshot of each test whose snapshot check found no change.

    After a passing deploy integ-runner rewrites every snapshot from a fresh synthesis, which
    always differs in volatile values (assertion time stamps, asset hashes of rebuilt
    bundles) that its own comparison ignores. Keeping the committed files for unchanged tests
    leaves the working tree clean; a real change still shows up for review.
    """
    for result in parser.results:
        if result.phase is Phase.SNAPSHOT and result.status is Status.UNCHANGED:
            saved = backup / f"{result.name}.py.snapshot"
            current = layout.tests_dir / f"{result.name}.py.snapshot"
            if saved.is_dir():
                shutil.rmtree(current, ignore_errors=True)
                shutil.copytree(saved, current)


# Summary -----------------------------------------------------------------------------------


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
        f"AWS CLI:     AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test aws --endpoint-url "
        f"{endpoint} --region {REGION} dynamodb scan --table-name <TableName>",
        "next run:    `integ` removes these stacks before it deploys",
    ]


def assertion_count(layout: Layout, selected: Sequence[str]) -> int:
    """Assertions of the selected tests: the `AssertionResults` outputs of their snapshots.

    integ-runner lists assertion results only when some fail; on success this count says how
    many passed.
    """
    count = 0
    for manifest in sorted(layout.tests_dir.glob("*.snapshot/integ.json")):
        test_file = manifest.parent.name.removesuffix(".snapshot")
        if selected and not any(Path(s).name.removesuffix(".py") in test_file for s in selected):
            continue
        for case in json.loads(manifest.read_text()).get("testCases", {}).values():
            template = manifest.parent / f"{case.get('assertionStackName')}.template.json"
            if template.is_file():
                outputs = json.loads(template.read_text()).get("Outputs", {})
                count += sum(name.startswith("AssertionResults") for name in outputs)
    return count


def _result_lines(parser: ReportParser, assertions: int) -> list[str]:
    lines = []
    for verdict, result in parser.verdicts():
        extra = ""
        ok, total = result.assertions
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


def summary(run: Run, started_at: datetime, exit_code: int) -> list[str]:
    lines = ["", "Summary"]
    if run.target is not None:
        lines.append(f"  target:  {run.target.describe()}")
    if run.parser is not None:
        selected = run.parser_tests
        lines.extend(_result_lines(run.parser, assertion_count(run.layout, selected)))
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


# Main --------------------------------------------------------------------------------------


KEEP_LOGS = 20


def _prune_logs(logs_dir: Path) -> None:
    """Keep the logs of the latest runs only."""
    runs = sorted((p for p in logs_dir.iterdir() if p.is_dir()), reverse=True)
    for old in runs[KEEP_LOGS:]:
        shutil.rmtree(old, ignore_errors=True)


def _interrupt(signum: int, _frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    layout = Layout()
    started_at = datetime.now().astimezone()
    log_dir = layout.logs_dir / f"{started_at:%Y%m%d-%H%M%S}-{os.getpid()}"
    log_dir.mkdir(parents=True, exist_ok=True)
    _prune_logs(layout.logs_dir)
    run = Run(
        layout=layout,
        progress=Progress(),
        log_dir=log_dir,
        keep_emulator=args.keep_emulator or not args.clean,
    )
    previous_handler = signal.signal(signal.SIGTERM, _interrupt)
    exit_code = 0
    try:
        exit_code = _run(args, run)
    except KeyboardInterrupt:
        run.progress.step("interrupted: stopping what this run started")
        run.keep_emulator = False
        exit_code = EXIT_INTERRUPTED
    except (TargetError, tools.ToolError, RuntimeError, OSError) as error:
        run.progress.step(f"error: {error}")
        exit_code = EXIT_SETUP
    finally:
        if run.emulator is not None and not run.keep_emulator:
            stop_started = time.monotonic()
            run.progress.step(f"embedded {run.emulator.title}: stopping")
            with _shielded():
                run.emulator.stop()
            run.timed(f"{run.emulator.title} stop", stop_started)
        signal.signal(signal.SIGTERM, previous_handler)
    print("\n".join(summary(run, started_at, exit_code)), file=sys.stderr)
    return exit_code


def _run(args: argparse.Namespace, run: Run) -> int:
    layout = run.layout
    started = time.monotonic()
    run.progress.step("tools: integ-runner and the CDK CLI from package-lock.json")
    node_tools, installed_now = tools.ensure_node_tools(
        layout.package_dir, run.log_dir / "npm-ci.log"
    )
    run.progress.detail("installed with npm ci" if installed_now else "up to date")
    run.timed("tools", started)

    choose_target(args, run)
    assert run.target is not None
    run.progress.step(f"target: {run.target.describe()}")
    if run.target.kind is not TargetKind.NONE:
        cdk_package = layout.package_dir / "node_modules" / "aws-cdk"
        verify_and_prepare(args, run, cdk_package, node_tools.cdk)

    backup = run.log_dir / "snapshots-before"
    if not args.snapshot_only:
        _backup_snapshots(layout, backup)
    code = run_integ_runner(args, run, node_tools.integ_runner)
    if not args.snapshot_only:
        assert run.parser is not None
        _restore_unchanged_snapshots(layout, backup, run.parser)
    if not args.clean and run.target.kind is not TargetKind.NONE:
        names = test_stacks(layout, args.tests)
        present = probe(run, names).get("stacks", {})
        run.kept_stacks = [name for name in names if name in present]
    assert run.parser is not None
    if code == 0 and run.parser.failed:
        return EXIT_FAILED
    return EXIT_FAILED if code != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
