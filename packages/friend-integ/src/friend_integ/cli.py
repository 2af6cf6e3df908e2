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
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import NoReturn

from filelock import FileLock, Timeout
from friend_target import TargetError, TargetKind

from friend_integ import junit, snapshots, tools, waits
from friend_integ.emulators import DEFAULT_EMULATOR, DEFAULT_PORT, EMULATORS, Emulator
from friend_integ.integ_runner import ReportParser, regions_for
from friend_integ.integ_runner_process import run_integ_runner, shielded
from friend_integ.paths import Layout
from friend_integ.prepare import check_answers, choose_target, named, probe, verify_and_prepare
from friend_integ.progress import Progress
from friend_integ.run_state import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_SETUP, Run
from friend_integ.summary import summary

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
        choices=EMULATORS.choices(),
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
        "--serial",
        action="store_true",
        help="on an emulator, run the test files one after the other in one region (as on "
        "AWS) instead of side by side, one region each",
    )
    parser.add_argument(
        "--directory",
        type=Path,
        metavar="DIR",
        help="run the integ tests of DIR (integ_*.py with their snapshots) instead of the "
        "package's own integ/",
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


KEEP_LOGS = 20
"""Runs whose logs are kept."""


def _prune_logs(logs_dir: Path) -> None:
    """Keep the logs of the latest runs only."""
    runs = sorted((p for p in logs_dir.iterdir() if p.is_dir()), reverse=True)
    for old in runs[KEEP_LOGS:]:
        shutil.rmtree(old, ignore_errors=True)


def _interrupt(signum: int, _frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    layout = Layout(tests=args.directory.resolve() if args.directory else None)
    layout.run_lock.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(layout.run_lock)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(
            f"integ: another integ run is using {layout.tests_dir} (integ-runner writes the "
            "snapshots and its output folders there); wait for it to end",
            file=sys.stderr,
        )
        return EXIT_SETUP
    try:
        return _main(args, layout)
    finally:
        lock.release()


def _main(args: argparse.Namespace, layout: Layout) -> int:
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
            with shielded():
                run.emulator.stop()
            run.timed(f"{run.emulator.title} stop", stop_started)
        signal.signal(signal.SIGTERM, previous_handler)
    report = junit.write(run, started_at, run.log_dir / "junit.xml")
    print("\n".join(summary(run, started_at, exit_code, report)), file=sys.stderr)
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

    open_target(args, run)
    assert run.target is not None
    on_aws = run.target.kind is TargetKind.AWS
    run.env[waits.PATIENCE_ENV] = str(waits.patience_for(on_aws=on_aws))
    side_by_side = run.target.is_emulator and not args.serial
    run.regions = regions_for(len(_test_files(layout, args.tests)), side_by_side=side_by_side)
    run.progress.step(f"target: {run.target.describe()}")
    if run.target.kind is not TargetKind.NONE:
        cdk_package = layout.package_dir / "node_modules" / "aws-cdk"
        verify_and_prepare(args, run, cdk_package, node_tools.cdk)

    backup = run.log_dir / "snapshots-before"
    if not args.snapshot_only:
        snapshots.backup(layout, backup)
    run.parser = ReportParser(deploying=not args.snapshot_only)
    try:
        code = run_integ_runner(args, run, node_tools.integ_runner, run.parser, run.outcomes)
    finally:  # an interrupted run too: integ-runner may have rewritten a snapshot by then
        if not args.snapshot_only:
            # The committed snapshots hold the emulators' waits: AWS's longer ones are not news.
            with shielded():
                snapshots.restore_unchanged(layout, backup, run.parser, everything=on_aws)
    if not args.clean and run.target.kind is not TargetKind.NONE:
        names = snapshots.test_stacks(layout, args.tests)
        for region in run.regions:
            present = probe(run, names, region).get("stacks", {})
            run.kept_stacks.extend(f"{name} ({region})" for name in names if name in present)
    if code != 0 or run.parser.failed or run.outcomes.teardown_errors:
        return EXIT_FAILED
    return 0


def _test_files(layout: Layout, selected: Sequence[str]) -> list[str]:
    """The test files a run covers: those selected, else every `integ_*.py` of the folder."""
    return list(selected) or sorted(p.name for p in layout.tests_dir.glob("integ_*.py"))


def open_target(args: argparse.Namespace, run: Run) -> None:
    """Choose the target, start the embedded emulator when it is chosen, check it answers."""
    choice = choose_target(args, run.layout, run.progress)
    run.env = choice.env
    run.embedded_already_running = choice.reused
    run.target = choice.target
    if choice.to_start is not None:
        run.emulator = choice.to_start
        start_embedded(run.emulator, run)
        run.target = named(choice.target, run.emulator)
    check_answers(run.target)


def start_embedded(emulator: Emulator, run: Run) -> None:
    """Install the embedded emulator's environment (once) and start it on its port."""
    started = time.monotonic()
    run.progress.step(f"embedded {emulator.title}: checking its environment (installs once)")
    emulator.install()
    run.timed(f"{emulator.title} environment", started)
    started = time.monotonic()
    run.progress.step(f"embedded {emulator.title}: starting at {emulator.endpoint}")
    emulator.start(timeout=90)
    run.progress.detail(f"ready after {run.timed(f'{emulator.title} start', started):.1f}s")


if __name__ == "__main__":
    sys.exit(main())
