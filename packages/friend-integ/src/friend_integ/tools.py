"""The pinned Node tools (integ-runner, the CDK CLI), installed from the committed lockfile.

`npm ci` runs only when `node_modules` is missing or was installed from another lockfile:
a stamp next to the installed packages records the hash of what they were installed from.
Runs that start at once (both emulator lanes, or the tests beside a run) install under one lock,
since `npm ci` first empties the folder the other run would be reading.
"""

import hashlib
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

STAMP = ".friend-integ-installed"
LOCK = "node_modules.lock"
"""Beside `node_modules`, not in it: `npm ci` removes the folder."""


@dataclass(frozen=True)
class NodeTools:
    integ_runner: Path
    cdk: Path


class ToolError(Exception):
    """A prerequisite is missing or failed to install."""


def _lock_digest(package_dir: Path) -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update(name.encode())
        digest.update((package_dir / name).read_bytes())
    return digest.hexdigest()


def _tools(package_dir: Path) -> NodeTools:
    bin_dir = package_dir / "node_modules" / ".bin"
    return NodeTools(integ_runner=bin_dir / "integ-runner", cdk=bin_dir / "cdk")


def mark_installed(package_dir: Path) -> None:
    """Record that ``node_modules`` now holds what the lockfile pins (after ``npm ci``)."""
    (package_dir / "node_modules" / STAMP).write_text(_lock_digest(package_dir) + "\n")


def installed(package_dir: Path) -> bool:
    """True when `node_modules` holds exactly what the committed lockfile pins."""
    stamp = package_dir / "node_modules" / STAMP
    tools = _tools(package_dir)
    return (
        stamp.is_file()
        and stamp.read_text().strip() == _lock_digest(package_dir)
        and tools.integ_runner.exists()
        and tools.cdk.exists()
    )


def ensure_node_tools(package_dir: Path, log: Path) -> tuple[NodeTools, bool]:
    """Install the pinned tools if needed; returns them and whether an install ran."""
    if installed(package_dir):
        return _tools(package_dir), False
    with FileLock(package_dir / LOCK):
        if installed(package_dir):  # another run installed them while this one waited
            return _tools(package_dir), False
        npm = shutil.which("npm")
        if npm is None:
            raise ToolError("npm not found: install Node.js 20 or newer (it brings npm)")
        run_logged([npm, "ci", "--no-audit", "--no-fund"], log, cwd=package_dir)
        mark_installed(package_dir)
    return _tools(package_dir), True


def run_logged(
    command: Sequence[str], log: Path, *, cwd: Path, env: Mapping[str, str] | None = None
) -> None:
    """Run one of the tools with its output in ``log``; a :class:`ToolError` naming the log
    when it fails."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        result = subprocess.run(  # noqa: S603 - argument list, no shell
            list(command),
            cwd=cwd,
            env=None if env is None else dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0:
        raise ToolError(
            f"{Path(command[0]).name} {command[1]} failed (exit {result.returncode}); see {log}"
        )
