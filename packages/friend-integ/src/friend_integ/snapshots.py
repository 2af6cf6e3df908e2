"""What the committed snapshots say about the integ tests, and keeping them clean.

integ-runner's snapshot folders (`integ/<test>.py.snapshot/`) name each test's stacks and hold
the assertion stack's template, so the command reads stack names and assertion counts from them
without synthesizing anything.
"""

import json
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from friend_integ.integ_runner import Phase, ReportParser, Status
from friend_integ.paths import Layout


def _selected_cases(layout: Layout, selected: Sequence[str]) -> Iterator[tuple[Path, Any]]:
    """Each test case of the selected tests (all tests when none) with its snapshot folder."""
    for manifest in sorted(layout.tests_dir.glob("*.snapshot/integ.json")):
        test_file = manifest.parent.name.removesuffix(".snapshot")
        if selected and not any(Path(s).name.removesuffix(".py") in test_file for s in selected):
            continue
        for case in json.loads(manifest.read_text()).get("testCases", {}).values():
            yield manifest.parent, case


def test_stacks(layout: Layout, selected: Sequence[str]) -> list[str]:
    """Stack names of the selected tests, each once, assertion stacks first (they depend on the
    stacks under test, so they are deleted first), from their snapshots."""
    assertion_stacks: list[str] = []
    tested: list[str] = []
    for _, case in _selected_cases(layout, selected):
        if case.get("assertionStackName"):
            assertion_stacks.append(case["assertionStackName"])
        tested.extend(case.get("stacks", []))
    return list(dict.fromkeys(assertion_stacks + tested))


def assertion_count(layout: Layout, selected: Sequence[str]) -> int:
    """Assertions of the selected tests: the `AssertionResults` outputs of their snapshots.

    integ-runner lists assertion results only when some fail; on success this count says how
    many passed.
    """
    count = 0
    for folder, case in _selected_cases(layout, selected):
        template = folder / f"{case.get('assertionStackName')}.template.json"
        if template.is_file():
            outputs = json.loads(template.read_text()).get("Outputs", {})
            count += sum(name.startswith("AssertionResults") for name in outputs)
    return count


def backup(layout: Layout, backup: Path) -> None:
    for snapshot in layout.tests_dir.glob("**/*.snapshot"):
        if snapshot.is_dir():
            target = backup / snapshot.relative_to(layout.tests_dir)
            # Bundled assets are git-ignored build output, not part of what is kept.
            shutil.copytree(snapshot, target, ignore=shutil.ignore_patterns("asset.*"))


def restore_unchanged(layout: Layout, backup: Path, parser: ReportParser) -> None:
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
