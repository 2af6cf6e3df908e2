"""Time the `integ` command cold and warm, side by side with the serial layout, and the time a
broken rule takes to fail; print one table.

Each round runs, for each layout (test files side by side, one region each: the default; and
`--serial`, one after the other in one region, as on AWS), a cold run (the synth cache and the
bundle cache emptied first: every synthesis and bundle is built, as on a fresh clone once the
Node tools and the emulator's environment are installed) and then a warm run (everything cached).
The order of the layouts alternates between rounds, so a slow spell of the shared machine does
not always hit the same one. Each run uses a free port and its own embedded emulator; the
script reads the `time:` line of the command's summary and prints, per phase, the median of
each (layout, cold/warm) column.

Then the broken rule: `integ_friends.py` is copied into a scratch folder with one wait broken
(the requester's row is expected Friends where the rules leave it Requested), and the script
times `integ --directory <that folder>` from start to its failing exit, twice (the second warm).

Run from the workspace root (prefix with `nice -n 10` on a shared machine):

    uv run --package friend-integ python benchmarks/integ_phases.py              # 1 round
    uv run --package friend-integ python benchmarks/integ_phases.py --rounds 3 --emulator localstack

The load average is printed beside each run: on a shared machine compare columns of one run
only. Exit code 1 when a run does not end as expected; each run's output is kept in the log
folder printed at the start.
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

from friend_integ.emulators import DEFAULT_EMULATOR, EMULATORS
from friend_integ.paths import Layout
from friend_integ.test_support.emulators import free_port

LAYOUTS = {"side by side": [], "serial": ["--serial"]}
"""Each layout's extra arguments to `integ`."""
BROKEN_WAIT = ('row_becomes("alice", "bob", State.REQUESTED)', "State.REQUESTED", "State.FRIENDS")
"""(the wait in integ_friends.py, what it expects, what the broken copy expects instead)."""

_TIME_LINE = re.compile(r"^\s*time:\s+(?P<phases>.*);\s*total\s+(?P<total>[\d.]+)s\s*$")
_PHASE = re.compile(r"^(?P<name>.+)\s+(?P<seconds>[\d.]+)s$")
_STACK_VERBS = ("deploy ", "destroy ", "explain ")


@dataclass
class Run:
    """One `integ` run: its phases in seconds (`total` included), exit code and log."""

    column: str
    exit_code: int
    log: Path
    seconds: float
    load: str
    phases: dict[str, float] = field(default_factory=dict)


def integ_command() -> str:
    """The `integ` entry point of the environment this script runs in."""
    beside = Path(sys.executable).with_name("integ")
    found = str(beside) if beside.is_file() else shutil.which("integ")
    if found is None:
        raise SystemExit("no `integ` command: run under `uv run --package friend-integ`")
    return found


def load_average() -> str:
    """The 1-minute load average, as `uptime` reports it."""
    return f"{os.getloadavg()[0]:.1f}"


def parse_phases(output: str, emulator_title: str) -> dict[str, float]:
    """Phases of the summary's `time:` line (`MiniStack start` -> `emulator start`)."""
    phases: dict[str, float] = {}
    for line in output.splitlines():
        if match := _TIME_LINE.match(line):
            for part in match["phases"].split(", "):
                if phase := _PHASE.match(part.strip()):
                    name = phase["name"].replace(emulator_title, "emulator")
                    phases[name] = phases.get(name, 0.0) + float(phase["seconds"])
            phases["total"] = float(match["total"])
    return phases


def empty_caches(layout: Layout) -> None:
    """What a fresh clone lacks once its tools are installed: synthesized and bundled output."""
    shutil.rmtree(layout.synth_cache_dir, ignore_errors=True)
    shutil.rmtree(layout.state_root / "bundles", ignore_errors=True)


def run_integ(column: str, arguments: Sequence[str], emulator: str, log_dir: Path) -> Run:
    """Run `integ` once on a free port; its whole output goes to a log file."""
    command = [integ_command(), "--emulator", emulator, "--port", str(free_port()), *arguments]
    log = log_dir / f"{len(list(log_dir.iterdir())):02d}-{column.replace(' ', '-')}.log"
    load = load_average()
    print(f"{column:<22} load {load:>5} ...", end="", flush=True)
    started = time.monotonic()
    with log.open("w") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        result = subprocess.run(  # noqa: S603 - argument list, no shell
            command, stdout=out, stderr=subprocess.STDOUT, check=False
        )
    seconds = time.monotonic() - started
    phases = parse_phases(log.read_text(errors="replace"), EMULATORS[emulator].title)
    print(f" {seconds:6.1f}s exit {result.returncode}  ({log.name})", flush=True)
    return Run(column, result.returncode, log, seconds, load, phases)


def broken_copy(layout: Layout, folder: Path) -> None:
    """integ_friends.py and its snapshot in `folder`, with the wait of `BROKEN_WAIT` broken."""
    wait, wanted, broken = BROKEN_WAIT
    folder.mkdir(parents=True)
    shutil.copytree(
        layout.tests_dir / "integ_friends.py.snapshot",
        folder / "integ_friends.py.snapshot",
        ignore=shutil.ignore_patterns("asset.*"),
    )
    source = (layout.tests_dir / "integ_friends.py").read_text()
    if wait not in source:
        raise SystemExit(f"integ_friends.py no longer has {wait}: update BROKEN_WAIT")
    (folder / "integ_friends.py").write_text(source.replace(wait, wait.replace(wanted, broken), 1))


def table(runs: Sequence[Run], columns: Sequence[str]) -> list[str]:
    """Per phase, the median seconds of each column (`-`: not in that column's summaries)."""
    names: list[str] = []
    for run in runs:
        names.extend(name for name in run.phases if name not in names and name != "total")
    names.append("total")
    lines = [f"{'phase (s)':<34}" + "".join(f" {column:>20}" for column in columns)]
    for name in names:
        row = f"{('  ' + name) if name.startswith(_STACK_VERBS) else name:<34}"
        for column in columns:
            values = [r.phases[name] for r in runs if r.column == column and name in r.phases]
            row += f" {statistics.median(values):>20.1f}" if values else f" {'-':>20}"
        lines.append(row)
    loads = [", ".join(r.load for r in runs if r.column == column) for column in columns]
    lines.append(f"{'load average at start':<34}" + "".join(f" {load:>20}" for load in loads))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="cold and warm runs per layout")
    parser.add_argument("--emulator", choices=EMULATORS.choices(), default=DEFAULT_EMULATOR)
    args = parser.parse_args(argv)
    layout = Layout()
    log_dir = Path(tempfile.mkdtemp(prefix="bench-integ-"))
    print(f"logs: {log_dir}")
    runs: list[Run] = []
    order = list(LAYOUTS)
    for index in range(args.rounds):
        for name in order if index % 2 == 0 else order[::-1]:
            empty_caches(layout)
            runs.append(run_integ(f"{name}, cold", LAYOUTS[name], args.emulator, log_dir))
            runs.append(run_integ(f"{name}, warm", LAYOUTS[name], args.emulator, log_dir))
    # A fixed folder: the same broken copy is the same app to the synth cache, so its second
    # run is warm (the first is too when an earlier benchmark left it in the cache).
    scratch = layout.state_dir / "scratch" / "bench-broken-rule"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        broken_copy(layout, scratch)
        broken = [
            run_integ(f"broken rule {n}", ["--directory", str(scratch)], args.emulator, log_dir)
            for n in (1, 2)
        ]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    columns = [f"{name}, {kind}" for kind in ("cold", "warm") for name in LAYOUTS]
    print(f"\n`integ` on {EMULATORS[args.emulator].title}, {args.rounds} round(s), medians")
    print("\n".join(table(runs, columns)))
    for run in broken:
        print(
            f"{run.column}: failing verdict after {run.seconds:.1f}s (exit {run.exit_code}, "
            f"load {run.load}); its summary: {run.log}"
        )
    unexpected = [run for run in runs if run.exit_code != 0]
    unexpected.extend(run for run in broken if run.exit_code != 1)
    for run in unexpected:
        print(f"unexpected: {run.column} exit {run.exit_code}: {run.log}")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
