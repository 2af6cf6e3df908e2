"""Run integ-runner as a process group, echo its progress, and stop it cleanly."""

import argparse
import contextlib
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from queue import Empty, Queue
from typing import IO

from friend_integ import processes
from friend_integ.cloudformation import StackWatcher, client
from friend_integ.finish import Finisher
from friend_integ.integ_runner import Phase, ReportParser, RunnerOptions, integ_runner_command
from friend_integ.run_state import Outcomes, Run
from friend_integ.snapshots import test_stacks

HEARTBEAT_SECONDS = 20.0
"""Silence longer than this gets a `still running` line, so a watcher knows it is alive."""
STOP_GRACE_SECONDS = 15.0


def _pump(stream: IO[str], lines: "Queue[str | None]") -> None:
    for line in iter(stream.readline, ""):
        lines.put(line)
    lines.put(None)


def _start(command: list[str], run: Run) -> tuple["subprocess.Popen[str]", "Queue[str | None]"]:
    """integ-runner in a process group of its own, its report read into a queue."""
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
    return process, lines


def _options(args: argparse.Namespace, run: Run) -> RunnerOptions:
    tests_dir, package_dir = run.layout.tests_dir, run.layout.package_dir
    directory = (
        tests_dir.relative_to(package_dir) if tests_dir.is_relative_to(package_dir) else tests_dir
    )
    return RunnerOptions(
        tests=args.tests,
        deploy=not args.snapshot_only,
        force=args.force,
        regions=run.regions,
        directory=str(directory),
        synth_cache=args.synth_cache,
        verbosity=max(0, args.verbose - 1),
        extra=args.extra,
    )


def run_integ_runner(
    args: argparse.Namespace,
    run: Run,
    integ_runner: Path,
    parser: ReportParser,
    outcomes: Outcomes,
) -> int:
    """Run integ-runner, feeding its report to ``parser`` and echoing progress from it, finishing
    each test as its result arrives (what a failure needs, then teardown: into ``outcomes``);
    stop it on interruption. Returns its exit code."""
    options = _options(args, run)
    command = integ_runner_command(integ_runner, options)
    log_path = run.log_dir / "integ-runner.log"
    started = time.monotonic()
    tests = " ".join(args.tests) or "all tests"
    run.progress.step(f"integ-runner: {tests} ({'deploy' if options.deploy else 'snapshot check'})")
    process, lines = _start(command, run)
    current = "integ-runner"
    watcher = StackWatcher(lambda region: client(run.env, region=region), stack_reporter(run))
    embedded = run.emulator or run.embedded_already_running
    emulator_log = embedded.log_file if embedded is not None else None
    finisher = Finisher(
        run,
        outcomes,
        clean=args.clean,
        since_ms=int(time.time() * 1000) - 1000,
        emulator_log=emulator_log,
        emulator_log_offset=emulator_log.stat().st_size
        if emulator_log and emulator_log.is_file()
        else 0,
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
                if event is None:
                    continue
                current = event.message
                run.progress.step(event.message)
                if event.started is not None and options.deploy:
                    region = parser.regions[event.started]
                    watcher.watch(region, test_stacks(run.layout, [event.started]))
                if options.deploy and event.result and event.result.phase is Phase.DEPLOY:
                    finisher.submit(event.result)
            process.wait()
            finisher.wait()
    finally:
        if process.poll() is None:
            run.progress.step("stopping integ-runner")
            with shielded():
                processes.stop_group(process, STOP_GRACE_SECONDS)
        run.timed("integ-runner", started)
    return process.returncode


_VERBS = {"CREATE": "deploy", "UPDATE": "update", "DELETE": "destroy"}


def stack_reporter(run: Run) -> Callable[[str, str, str, float], None]:
    """Progress lines for stack status changes; the time each operation took, for the summary.

    A deletion seen straight after a creation or update in progress means the watcher missed
    the operation's end (the stack was deleted between two looks): that span is no operation's
    time.
    """

    def report(stack: str, previous: str, status: str, seconds: float) -> None:
        if status == "REVIEW_IN_PROGRESS":
            return  # a change set being prepared: the creation proper follows
        operation = previous.split("_", 1)[0]
        verb = _VERBS.get(operation)
        missed_end = status.startswith("DELETE_") and operation != "DELETE"
        timed = verb is not None and previous.endswith("_IN_PROGRESS") and not missed_end
        took = f" ({seconds:.1f}s)" if timed else ""
        run.progress.step(f"stack {stack}: {status}{took}")
        if timed:
            run.timings[f"{verb} {stack}"] = seconds

    return report


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Let a cleanup finish: a second Ctrl-C (or `uv run` forwarding the first one again)
    must not leave integ-runner or the emulator half stopped. The cleanups are bounded."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
