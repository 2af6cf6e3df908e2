"""A broken expectation on the default emulator fails in seconds and says what broke.

The real integ test (`integ/integ_friends.py`, with its committed snapshot) is copied into a
scratch folder of the workspace and two of its waits are broken: each expects a row to become
Friends where the rules leave it Requested (the requester's row before any Accept) or Pending
(the invitee's row). `integ` must fail on the session's MiniStack well within what a wait sized
for AWS would cost, and its summary and JUnit report must name both assertions by file and
line, with what each expected, what it last got, and the functions' log lines about the players.
"""

import os
import re
import shutil
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from friend_integ import cli, waits
from friend_integ.emulators import Emulator
from friend_integ.paths import Layout
from friend_integ.run import EXIT_FAILED

pytestmark = pytest.mark.emulator

BROKEN = {
    'row_becomes("alice", "bob", State.REQUESTED)': 'row_becomes("alice", "bob", State.FRIENDS)',
    'row_becomes("dave", "carol", State.PENDING)': 'row_becomes("dave", "carol", State.FRIENDS)',
}
"""The waits to break (first occurrence of each), as they read in the test and broken."""


def _broken_copy(folder: Path) -> list[int]:
    """Copy integ_friends.py and its snapshot to `folder`, break the waits of `BROKEN`;
    return the line numbers of the broken waits."""
    tests = Layout().tests_dir
    folder.mkdir(parents=True)
    shutil.copytree(
        tests / "integ_friends.py.snapshot",
        folder / "integ_friends.py.snapshot",
        ignore=shutil.ignore_patterns("asset.*"),
    )
    lines = (tests / "integ_friends.py").read_text().splitlines(keepends=True)
    broken = []
    for wanted, replacement in BROKEN.items():
        number = next(i for i, line in enumerate(lines) if wanted in line)
        lines[number] = lines[number].replace(wanted, replacement)
        broken.append(number + 1)
    (folder / "integ_friends.py").write_text("".join(lines))
    return broken


def test_a_broken_rule_fails_fast_naming_each_assertion_with_expected_actual_and_logs(
    ministack: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = Layout().state_dir / "scratch" / f"broken-expectation-{os.getpid()}"
    try:
        alice_line, dave_line = _broken_copy(folder)
        started = time.monotonic()

        code = cli.main(["--endpoint", ministack.endpoint, "--directory", str(folder)])

        took = time.monotonic() - started
        err = capsys.readouterr().err
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    assert code == EXIT_FAILED
    # Waits sized for the emulator: the verdict comes long before one AWS-sized wait is over.
    assert took < waits.AWS_PATIENCE_SECONDS
    assert "undefined" not in err
    summary = err[err.index("\nSummary\n") :]
    for line, stuck in ((alice_line, "Requested"), (dave_line, "Pending")):
        report = re.search(
            rf"assertion integ_friends\.py:{line}: .*\n\s+expected: +(.*)\n\s+last actual: +(.*)",
            summary,
        )
        assert report is not None, summary
        expected, actual = report.groups()
        assert "Friends" in expected
        assert stuck in actual
    assert re.search(r"function logs \(.*alice.*\)", summary)
    assert re.search(r"function logs \(.*dave.*\)", summary)
    assert re.search(r"\n\s+\w+: .*carol", summary), "no function log line about the players"

    junit = Path(re.search(r"report:\s+(\S+)", summary).group(1))  # type: ignore[union-attr]
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    (failed,) = [case for case in suite.iter("testcase") if case.find("failure") is not None]
    assert failed.get("name") == "integ_friends.py"
    text = failed.findtext("failure") or ""
    assert f"integ_friends.py:{alice_line}" in text
    assert f"integ_friends.py:{dave_line}" in text
    assert suite.find("properties/property[@name='logs']") is not None
