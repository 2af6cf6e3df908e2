"""Clones of this repository with releases cut by ``scripts/release.py``, for tests.

Each clone has its own commits, store and manifest, so cutting releases in tests never touches
the repository's own store.
"""

import os
import subprocess
import sys
from pathlib import Path

from friend_infra.releases import STORE_DIR, ReleaseStore
from friend_infra.workspace import workspace_root

ROOT = workspace_root()
RELEASE = ROOT / "scripts" / "release.py"
PIN = ROOT / "scripts" / "pin.py"
UV = os.environ.get("UV", "uv")
HANDLERS_CHANGE = "Read API: a note for the next release"
INFRA_CHANGE = "Infra: a note that is not the handlers'"


def git(clone: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(clone), *args], check=True, capture_output=True, text=True
    ).stdout


def clone_of_this_repository(target: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True)
    git(target, "config", "user.name", "Release Test")
    git(target, "config", "user.email", "release-test@example.com")
    return target


def commit_change(clone: Path, path: str, line: str) -> None:
    target = clone / path
    target.write_text(target.read_text() + f"\n# {line}\n")
    git(clone, "commit", "--quiet", "-am", line)


def run_script(clone: Path, script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=clone,
        capture_output=True,
        text=True,
        check=False,
    )


def base_version(clone: Path) -> str:
    """The newest friend-handlers release the clone's store holds (cut here if none)."""
    store = ReleaseStore(clone / STORE_DIR)
    if not store.versions("friend-handlers"):
        result = run_script(clone, RELEASE, "friend-models", "friend-handlers", "--no-tag")
        assert result.returncode == 0, result.stderr
    return store.versions("friend-handlers")[-1]


def cut_patch_release(clone: Path) -> Path:
    """Commit a handlers change and an infra change, then release friend-models and
    friend-handlers with a patch bump."""
    base_version(clone)
    commit_change(
        clone, "packages/friend-handlers/src/friend_handlers/handlers/read.py", HANDLERS_CHANGE
    )
    commit_change(clone, "packages/friend-infra/src/friend_infra/stack.py", INFRA_CHANGE)
    # friend-models too, so the fixture holds whatever friend-models the repository has now.
    result = run_script(clone, RELEASE, "friend-models", "friend-handlers", "--bump", "patch")
    assert result.returncode == 0, result.stderr
    return clone


def newest(clone: Path) -> tuple[str, str]:
    versions = ReleaseStore(clone / STORE_DIR).versions("friend-handlers")
    return versions[-2], versions[-1]


def env_without_venv() -> dict[str, str]:
    """This environment less the active virtual environment (uv then uses the clone's)."""
    return {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
