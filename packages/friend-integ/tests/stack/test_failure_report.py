"""A broken expectation on the default emulator fails in seconds and says what broke.

The real integ test (`integ/integ_friends.py`, with its committed snapshot) is copied into a
scratch folder of the workspace and one of its waits is broken: it expects the invitee's row to
become Friends where the rules leave it Pending (before any Accept), as a broken rule would.
`integ` must fail on the embedded MiniStack it starts well within what one wait sized for AWS
would cost, and its summary and JUnit report must name the assertion by file and line, with
what it expected, what it last got, and the functions' log lines about its players.
(MiniStack creates an assertion stack's resources one at a time, so a run there stops at the
first broken wait; listing every failed one is proven on recorded logs, in
`tests/test_diagnose.py`.)
"""

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from friend_integ import cli, waits
from friend_integ.paths import Layout
from friend_integ.run_state import EXIT_FAILED
from friend_integ.test_support.emulators import free_port

pytestmark = pytest.mark.emulator

BROKEN = (
    'row_becomes("dave", "carol", State.PENDING)',
    'row_becomes("dave", "carol", State.FRIENDS)',
)
"""The wait to break (its first occurrence), as it reads in the test and broken."""


def _broken_copy(folder: Path) -> int:
    """Copy integ_friends.py and its snapshot to `folder`, break the wait of `BROKEN`; return
    the line number of the broken wait."""
    tests = Layout().tests_dir
    folder.mkdir(parents=True)
    shutil.copytree(
        tests / "integ_friends.py.snapshot",
        folder / "integ_friends.py.snapshot",
        ignore=shutil.ignore_patterns("asset.*"),
    )
    lines = (tests / "integ_friends.py").read_text().splitlines(keepends=True)
    wanted, replacement = BROKEN
    number = next(i for i, line in enumerate(lines) if wanted in line)
    lines[number] = lines[number].replace(wanted, replacement)
    (folder / "integ_friends.py").write_text("".join(lines))
    return number + 1


def test_a_broken_rule_fails_fast_naming_each_assertion_with_expected_actual_and_logs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A fixed folder: the same broken copy is the same app to the synth cache on every run.
    folder = Layout().state_dir / "scratch" / "broken-expectation"
    shutil.rmtree(folder, ignore_errors=True)
    try:
        line = _broken_copy(folder)

        # The default emulator, embedded: the command starts and stops it, and reads its log.
        code = cli.main(["--port", str(free_port()), "--directory", str(folder)])

        err = capsys.readouterr().err
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    assert code == EXIT_FAILED
    # Waits sized for the emulator: the assertion stack fails long before one AWS-sized wait
    # would be over (synthesis, which a cold cache makes long, is not part of it).
    took = re.search(r"deploy FriendMicroservicesIntegAssertions ([\d.]+)s", err)
    assert took is not None, err
    assert float(took.group(1)) < waits.AWS_PATIENCE_SECONDS
    assert "undefined" not in err
    summary = err[err.index("\nSummary\n") :]
    report = re.search(
        # "timed out" when integ-runner's message carries the waiter's reason; when it carries
        # only the stack's status (ROLLBACK_COMPLETE, seen on a loaded machine), the wait's own
        # log says it was still failing when the deployment stopped.
        rf"assertion integ_friends\.py:{line}: "
        r"(?:timed out|still failing when the deployment stopped).*\n\s+expected: +(.*)\n"
        r"\s+last actual: +(.*)\n\s+mismatch: +(.*)",
        summary,
    )
    assert report is not None, summary
    expected, actual, mismatch = report.groups()
    assert '"Friends"' in expected
    assert '"Pending"' in actual
    assert "Expected Friends but received Pending" in mismatch
    assert re.search(r"function logs \(dave, carol\)", summary)
    assert re.search(r"\n\s+\w+: .*carol", summary), "no function log line about the players"

    junit = Path(re.search(r"report:\s+(\S+)", summary).group(1))  # type: ignore[union-attr]
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    (failed,) = [case for case in suite.iter("testcase") if case.find("failure") is not None]
    assert failed.get("name") == "integ_friends.py"
    assert f"integ_friends.py:{line}" in (failed.findtext("failure") or "")
    assert suite.find("properties/property[@name='logs']") is not None
