"""Time the `integ` command on both embedded emulators, side by side, and print a table.

Each round runs `integ --emulator ministack` and `integ --emulator localstack` one after the
other (the order alternates between rounds, so a slow spell of the shared machine does not
always hit the same emulator), each on a free port of its own. Every run deploys the real stack,
runs the assertions, destroys and stops its emulator; the script reads the `time:` line of the
command's summary and prints, per emulator, min/median/max of the total and of each phase
(tools, environment, start, target checks, bootstrap, integ-runner, deploy/destroy of each stack,
stop), and the ratio localstack/ministack of the medians.

One unmeasured run of each emulator comes first, so the measured rounds see a warm synth cache,
installed Node tools and installed emulator environments (`--no-warmup` measures from the first
run on). `--fresh-state` gives every measured run an empty emulator state folder
(`FRIEND_STATE_DIR` in a temporary folder), so the `environment` phase is a cold emulator
install (packages still come from uv's and npm's download caches when they hold them); the
synth cache and the Node tools stay warm.

Run from the workspace root:

    uv run --package friend-integ python benchmarks/integ_phases.py              # 2 rounds
    uv run --package friend-integ python benchmarks/integ_phases.py --rounds 5
    uv run --package friend-integ python benchmarks/integ_phases.py --fresh-state

Exit code 1 when a run fails (the table still prints; failed runs are left out of it).
Each run's full output is kept in a log folder printed at the start.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from friend_integ.emulators import EMULATORS as KNOWN_EMULATORS
from friend_integ.test_support.emulators import free_port

EMULATORS = ("ministack", "localstack")
"""Measured in this order (then reversed every other round); the ratio is the second over the
first."""
TITLES = {key: KNOWN_EMULATORS[key].title for key in EMULATORS}
STACK_PREFIX = "FriendMicroservicesInteg"
STACK_VERBS = ("deploy ", "update ", "destroy ")

_TIME_LINE = re.compile(r"^\s*time:\s+(?P<phases>.*);\s*total\s+(?P<total>[\d.]+)s\s*$")
_PHASE = re.compile(r"^(?P<name>.+)\s+(?P<seconds>[\d.]+)s$")
_CACHE_LINE = re.compile(r"^\s*synth cache:\s+(?P<hits>\d+) hits, (?P<misses>\d+) misses")


@dataclass
class Run:
    """One `integ` run: its phases in seconds (``total`` included) or why it failed."""

    emulator: str
    label: str
    exit_code: int
    log: Path
    phases: dict[str, float] = field(default_factory=dict)
    synth_cache: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and "total" in self.phases


def integ_command() -> str:
    """The `integ` entry point of the environment this script runs in."""
    beside = Path(sys.executable).with_name("integ")
    found = str(beside) if beside.is_file() else shutil.which("integ")
    if found is None:
        raise SystemExit("no `integ` command: run under `uv run --package friend-integ`")
    return found


def phase_name(emulator: str, name: str) -> str:
    """One name per phase on both emulators: `LocalStack start` and `MiniStack start` -> `start`;
    stack names shortened (`deploy FriendMicroservicesIntegAssertions` -> `deploy Assertions`)."""
    name = name.removeprefix(TITLES[emulator] + " ")
    verb, _, stack = name.partition(" ")
    if stack.startswith(STACK_PREFIX):
        name = f"{verb} {stack.removeprefix(STACK_PREFIX) or 'stack'}"
    return name


def parse_summary(emulator: str, output: str) -> tuple[dict[str, float], str]:
    """Phases (seconds, `total` last) and the synth cache line of the command's summary."""
    phases: dict[str, float] = {}
    cache = ""
    for line in output.splitlines():
        if match := _TIME_LINE.match(line):
            for part in match["phases"].split(", "):
                phase = _PHASE.match(part.strip())
                if phase:
                    name = phase_name(emulator, phase["name"])
                    phases[name] = phases.get(name, 0.0) + float(phase["seconds"])
            phases["total"] = float(match["total"])
        elif match := _CACHE_LINE.match(line):
            cache = f"{match['hits']} hits, {match['misses']} misses"
    return phases, cache


def run_integ(emulator: str, label: str, log_dir: Path, fresh_state: bool) -> Run:
    """Run `integ` once on a free port; its whole output goes to a log file."""
    port = free_port()
    log = log_dir / f"{label}-{emulator}.log"
    env = dict(os.environ)
    state = tempfile.mkdtemp(prefix=f"friend-state-{emulator}-") if fresh_state else None
    if state is not None:
        env["FRIEND_STATE_DIR"] = state
    command = [integ_command(), "--emulator", emulator, "--port", str(port)]
    print(f"{label:>8}  {emulator:<10} port {port} ...", end="", flush=True)
    started = time.monotonic()
    try:
        with log.open("w") as out:
            out.write(f"$ {' '.join(command)}\n")
            out.flush()
            result = subprocess.run(  # noqa: S603 - argument list, no shell
                command, stdout=out, stderr=subprocess.STDOUT, env=env, check=False
            )
    finally:
        if state is not None:
            shutil.rmtree(state, ignore_errors=True)
    phases, cache = parse_summary(emulator, log.read_text(errors="replace"))
    run = Run(emulator, label, result.returncode, log, phases, cache)
    verdict = "ok" if run.ok else f"FAILED (exit {result.returncode}, see {log})"
    total = phases.get("total", time.monotonic() - started)
    print(f" {total:.1f}s {verdict}" + (f"  [synth cache {cache}]" if cache else ""), flush=True)
    return run


def phase_order(runs: Sequence[Run]) -> list[str]:
    """Phases in the order the command reports them, the stack operations (which happen
    within integ-runner) right after it, `total` last."""
    names: list[str] = []
    for run in sorted(runs, key=lambda run: -len(run.phases)):
        names.extend(name for name in run.phases if name not in names)
    inner = [name for name in names if name.startswith(STACK_VERBS)]
    outer = [name for name in names if name not in inner and name != "total"]
    at = outer.index("integ-runner") + 1 if "integ-runner" in outer else len(outer)
    return [*outer[:at], *inner, *outer[at:], "total"]


def _seconds(values: Sequence[float]) -> str:
    if not values:
        return "-"
    return f"{min(values):6.1f} {statistics.median(values):6.1f} {max(values):6.1f}"


def table(runs: Sequence[Run]) -> list[str]:
    """Per phase: min/median/max per emulator and the ratio of the medians."""
    ok = [run for run in runs if run.ok]
    names = phase_order(ok)
    counts = {e: sum(run.emulator == e for run in ok) for e in EMULATORS}
    head = f"{'phase (s)':<22}"
    for emulator in EMULATORS:
        head += f" {TITLES[emulator] + f' (n={counts[emulator]})':>20}"
    lines = [
        head + "  localstack/ministack",
        f"{'':<22}" + f" {'min    med    max':>20}" * len(EMULATORS) + "  (medians)",
    ]
    for name in names:
        values = {
            e: [r.phases[name] for r in ok if r.emulator == e and name in r.phases]
            for e in EMULATORS
        }
        shown = f"  {name}" if name.startswith(STACK_VERBS) else name
        row = f"{shown:<22}" + "".join(f" {_seconds(values[e]):>20}" for e in EMULATORS)
        mini, local = values["ministack"], values["localstack"]
        if mini and local and statistics.median(mini) > 0:
            row += f"  {statistics.median(local) / statistics.median(mini):6.1f}x"
        lines.append(row)
    lines.append(
        "(indented: parts of integ-runner; -: not in a summary, e.g. a stack operation that "
        "finished between two polls of the command's stack watcher)"
    )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="measured runs per emulator")
    parser.add_argument(
        "--no-warmup",
        dest="warmup",
        action="store_false",
        help="measure from the first run on (it may pay for installs and a cold synth cache)",
    )
    parser.add_argument(
        "--fresh-state",
        action="store_true",
        help="each measured run installs its emulator into an empty state folder",
    )
    args = parser.parse_args(argv)
    log_dir = Path(tempfile.mkdtemp(prefix="bench-integ-"))
    print(f"logs: {log_dir}")
    warmups = [
        run_integ(e, "warm-up", log_dir, fresh_state=False)
        for e in (EMULATORS if args.warmup else ())
    ]
    runs: list[Run] = []
    for index in range(args.rounds):
        order = EMULATORS if index % 2 == 0 else EMULATORS[::-1]
        for emulator in order:
            runs.append(run_integ(emulator, f"round {index + 1}", log_dir, args.fresh_state))
    state = "fresh emulator state (cold install)" if args.fresh_state else "installed emulators"
    print(f"\nintegration run times, {args.rounds} round(s), warm synth cache, {state}")
    print("\n".join(table(runs)))
    failed = [run for run in [*warmups, *runs] if not run.ok]
    for run in failed:
        print(f"failed: {run.label} {run.emulator} (exit {run.exit_code}): {run.log}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
