"""Each emulator's tests run in one test process: the fixtures' plugin puts them in an xdist
group per emulator, before xdist reads the groups, so a session starts each emulator once."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = """
import json, os, pathlib, pytest

@pytest.fixture(scope="session")
def ministack():  # stands in for the plugin's: this checks where tests run, not the emulator
    return "ministack"

@pytest.fixture(scope="session")
def localstack():
    return "localstack"

@pytest.fixture
def uses_localstack(localstack):
    return localstack

def _record(kind):
    with open(pathlib.Path(__file__).with_name("workers.jsonl"), "a") as log:
        log.write(json.dumps([kind, os.environ["PYTEST_XDIST_WORKER"]]) + "\\n")

@pytest.mark.parametrize("n", range(4))
def test_on_ministack(ministack, n):
    _record(ministack)

@pytest.mark.parametrize("n", range(4))
def test_on_localstack_through_another_fixture(uses_localstack, n):
    _record(uses_localstack)

@pytest.mark.parametrize("n", range(4))
def test_on_no_emulator(n):
    _record("none")
"""


@pytest.mark.slow  # a pytest session of its own, on two processes
def test_each_emulators_tests_run_in_one_process(tmp_path: Path) -> None:
    (tmp_path / "test_grouped.py").write_text(TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    session = ["-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup", str(tmp_path)]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *session],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    runs = [json.loads(line) for line in (tmp_path / "workers.jsonl").read_text().splitlines()]
    workers: dict[str, set[str]] = {}
    for kind, worker in runs:
        workers.setdefault(kind, set()).add(worker)
    assert len(runs) == 12
    assert len(workers["ministack"]) == 1
    assert len(workers["localstack"]) == 1
