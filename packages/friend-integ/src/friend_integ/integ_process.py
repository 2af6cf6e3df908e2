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

from friend_target import REGION

from friend_integ import processes
from friend_integ.cloudformation import StackWatcher, client
from friend_integ.run import Run
from friend_integ.runner import ReportParser, RunnerOptions, integ_runner_command
from friend_integ.snapshots import test_stacks

HEARTBEAT_SECONDS = 20.0
"""Silence longer than this gets a `still running` line, so a watcher knows it is alive."""
STOP_GRACE_SECONDS = 15.0


def _pump(stream: IO[str], lines: "Queue[str | None]") -> None:
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
    watcher = StackWatcher(client(run.env) if watched else None, watched, _stack_reporter(run))
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
            with shielded():
                processes.stop_group(process, STOP_GRACE_SECONDS)
        run.timed("integ-runner", started)
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
def shielded() -> Iterator[None]:
    """Let a cleanup finish: a second Ctrl-C (or `uv run` forwarding the first one again)
    must not leave integ-runner or the emulator half stopped. The cleanups are bounded."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
