"""Mutation testing of the stream rules and the recovery commands: how many changes to their code
the tests notice.

mutmut (configured in ``[tool.mutmut]`` of each package's pyproject) copies the package's
``src/`` into ``packages/<package>/mutants/``, with every selected function replaced by a
trampoline to its mutants, and runs pytest there. It runs from the package directory because it
names a mutant by its file's path under ``src/`` and keeps only those mutants whose name is the
module the tests import (``friend_handlers.dal``); it puts ``mutants/src`` first on ``sys.path``
and drops the editable ``src``, so the tests import the mutated copy (mutmut refuses to start
when a forced failure of every trampoline does not fail the tests).

Which tests, and why:

- friend-handlers: every test but the emulator ones, the random storms of ``test_lifecycle``
  and ``test_openapi`` (it checks the committed API document, found from the test's own path,
  which the copy under ``mutants/`` moves). The storms take minutes per run and check the same
  pair invariant as the state machine ``test_rules_stateful``, which stays in at
  ``FRIEND_RULES_EXAMPLES`` examples (10: a stale replay after an Accept and an Unfriend is
  among its first schedules), so that a guard of the rules that only a schedule exposes is
  still tried.
- friend-ops: every test but the emulator ones and the two slow permutation sweeps
  (``test_failed_batches_redriven_in_any_order_and_twice_end_as_asked``,
  ``test_after_each_repair_the_handlers_finish_every_later_action``), whose scenarios are
  also in the fast tests; the operations state machine stays in at ``FRIEND_OPS_EXAMPLES``
  examples (3).

mutmut runs, for each mutant, only the tests that called the mutated function when it ran them
all once (its own test selection), stopping at the first failure (``-x``). It runs under
``nice -n 10`` with at most two workers: the machine is shared.

Usage: ``uv run python benchmarks/rules_mutation.py handlers [--module reactions]`` or ``ops``;
``--module`` narrows a run to the mutants of one module, ``--mutants`` to the named ones (e.g.
the survivors of an earlier run, once tests are added); results of earlier runs are kept in
``mutants/`` and reported too.
"""

import argparse
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TARGETS = {
    "handlers": ("friend-handlers", "friend_handlers", {"FRIEND_RULES_EXAMPLES": "10"}),
    "ops": ("friend-ops", "friend_ops", {"FRIEND_OPS_EXAMPLES": "3"}),
}
"""Per target: the workspace member, its import package, the example counts of its state
machines."""

COLUMNS = ("killed", "survived", "timeout", "no tests")


def mutmut(package: str, *arguments: str, env: dict[str, str]) -> str:
    """Run a mutmut command for ``package`` from its directory, niced, and return its output."""
    command = ["nice", "-n", "10", sys.executable, "-m", "mutmut", *arguments]
    done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        command,
        cwd=ROOT / "packages" / package,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"mutmut {arguments[0]} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def module_of(mutant: str) -> str:
    """``friend_handlers.dal.x_apply__mutmut_3`` -> ``friend_handlers.dal`` (methods are named
    ``xǁClassǁmethod``)."""
    parts = mutant.split(".")
    for index, part in enumerate(parts):
        if part.startswith(("x_", "xǁ")):
            return ".".join(parts[:index])
    return mutant.rpartition(".")[0]


def report(results: str) -> int:
    """Print the score per module and the survivors; the number of survivors."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    survivors: list[str] = []
    for line in results.splitlines():
        mutant, _, status = line.strip().rpartition(": ")
        if not mutant or status == "not checked":
            continue
        counts[module_of(mutant)][status] += 1
        if status != "killed":
            survivors.append(f"{status:>9}  {mutant}")
    print(f"{'module':<36}" + "".join(f"{column:>10}" for column in COLUMNS) + f"{'score':>8}")
    for module, count in sorted(counts.items()):
        tried = sum(count.values())
        score = f"{100 * count['killed'] / tried:.1f}%"
        other = set(count) - set(COLUMNS)
        extra = f"  ({', '.join(f'{status} {count[status]}' for status in sorted(other))})"
        print(
            f"{module:<36}"
            + "".join(f"{count[column]:>10}" for column in COLUMNS)
            + f"{score:>8}"
            + (extra if other else "")
        )
    print("\nnot killed:" if survivors else "\nevery mutant tried was killed")
    for survivor in survivors:
        print(f"  {survivor}")
    return len(survivors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("--module", help="only this module's mutants, e.g. reactions or dal")
    parser.add_argument("--mutants", nargs="+", default=[], help="mutant names or globs")
    parser.add_argument("--max-children", type=int, default=2)
    arguments = parser.parse_args()
    package, import_name, env = TARGETS[arguments.target]
    selection = list(arguments.mutants)
    if arguments.module is not None:
        selection.append(f"{import_name}*.{arguments.module}.*")
    started = time.monotonic()
    mutmut(package, "run", "--max-children", str(arguments.max_children), *selection, env=env)
    print(f"mutmut run: {time.monotonic() - started:.0f} s\n")
    report(mutmut(package, "results", "--all", "true", env=env))


if __name__ == "__main__":
    main()
