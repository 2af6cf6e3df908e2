"""Installing the pinned Node tools only when needed; bootstrapping, and skipping a current
bootstrap."""

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from friend_integ import bootstrap, tools
from friend_integ.paths import PACKAGE_DIR
from friend_target import Target, TargetKind


def _package(tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "package.json").write_text('{"devDependencies": {"aws-cdk": "2.1148.1"}}')
    (tmp_path / "package-lock.json").write_text('{"lockfileVersion": 3}')
    return tmp_path


def _install(package: Path) -> None:
    """What a successful `npm ci` leaves behind, plus the stamp the command writes."""
    bin_dir = package / "node_modules" / ".bin"
    bin_dir.mkdir(parents=True)
    for name in ("integ-runner", "cdk"):
        (bin_dir / name).write_text("")
    tools.mark_installed(package)


def test_tools_are_current_only_for_the_lockfile_they_came_from(tmp_path: Path) -> None:
    package = _package(tmp_path)
    assert not tools.installed(package)

    _install(package)
    assert tools.installed(package)

    (package / "package-lock.json").write_text('{"lockfileVersion": 3, "changed": true}')
    assert not tools.installed(package)


def test_a_missing_binary_means_reinstall(tmp_path: Path) -> None:
    package = _package(tmp_path)
    _install(package)
    (package / "node_modules" / ".bin" / "cdk").unlink()

    assert not tools.installed(package)


# A stand-in for npm: `npm ci` takes a moment, empties node_modules first as npm does, installs
# the two binaries and counts its runs in a file beside the package.
FAKE_NPM = """#!/bin/sh
echo run >> "$PWD/../npm-runs"
rm -rf node_modules
sleep 0.5
mkdir -p node_modules/.bin
touch node_modules/.bin/integ-runner node_modules/.bin/cdk
"""


def test_runs_at_once_on_a_fresh_clone_install_the_tools_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _package(tmp_path / "package")
    npm = tmp_path / "bin" / "npm"
    npm.parent.mkdir()
    npm.write_text(FAKE_NPM)
    npm.chmod(npm.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{npm.parent}{os.pathsep}{os.environ['PATH']}")

    with ThreadPoolExecutor(3) as pool:
        results = list(
            pool.map(
                lambda n: tools.ensure_node_tools(package, tmp_path / f"npm-{n}.log"), range(3)
            )
        )

    assert (tmp_path / "npm-runs").read_text().split() == ["run"]
    assert sorted(installed_now for _, installed_now in results) == [False, False, True]
    assert tools.installed(package)


def test_committed_lockfile_pins_the_versions_that_read_schema_53() -> None:
    lock = (PACKAGE_DIR / "package-lock.json").read_text()
    manifest = (PACKAGE_DIR / "package.json").read_text()

    assert '"@aws-cdk/integ-runner": "2.197.10"' in manifest
    assert '"aws-cdk": "2.1148.1"' in manifest
    assert '"node_modules/@aws-cdk/integ-runner": {\n      "version": "2.197.10"' in lock
    assert '"node_modules/aws-cdk": {\n      "version": "2.1148.1"' in lock


def test_bootstrap_version_is_read_from_the_clis_template(tmp_path: Path) -> None:
    template = tmp_path / "lib" / "api" / "bootstrap" / "bootstrap-template.yaml"
    template.parent.mkdir(parents=True)
    template.write_text(
        "Resources:\n  CdkBootstrapVersion:\n    Type: AWS::SSM::Parameter\n"
        "    Properties:\n      Type: String\n      Value: '31'\n"
    )

    assert bootstrap.template_version(tmp_path) == 31


@pytest.mark.parametrize(
    ("status", "version", "current"),
    [
        ("CREATE_COMPLETE", 33, True),
        ("UPDATE_COMPLETE", 34, True),
        ("CREATE_COMPLETE", 30, False),
        ("ROLLBACK_COMPLETE", 33, False),
        ("CREATE_COMPLETE", None, False),
        (None, None, False),
    ],
)
def test_bootstrap_is_skipped_only_when_complete_and_current(
    status: str | None, version: int | None, current: bool
) -> None:
    assert bootstrap.is_current(status, version, wanted=33) is current


def test_every_region_is_bootstrapped_by_one_run_of_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CLI bootstraps the environments it is given side by side; one run of it per region
    # paid its start-up once per region.
    commands: list[list[str]] = []
    monkeypatch.setattr(bootstrap, "run_logged", lambda command, *_, **__: commands.append(command))
    target = Target(TargetKind.EMULATOR, "000000000000", endpoint="http://127.0.0.1:4610")

    bootstrap.bootstrap(
        Path("cdk"), target, {}, tmp_path / "bootstrap.log", regions=["us-east-1", "us-east-2"]
    )

    (command,) = commands
    assert command[:2] == ["cdk", "bootstrap"]
    assert "aws://000000000000/us-east-1" in command
    assert "aws://000000000000/us-east-2" in command
