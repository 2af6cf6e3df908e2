"""How emulator environments are installed: with uv and npm, from committed locks.

Installers get the caller's environment (package indexes, proxies, certificates) but nothing of
AWS or of the workspace's own virtual environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from friend_infra.workspace import WorkspaceError, uv_executable


class InstallError(RuntimeError):
    """An install step failed."""


_NOT_FOR_INSTALLERS = (
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "PYTHONHOME",
    "UV_PROJECT_ENVIRONMENT",
    "UV_PROJECT",
)
"""Installers get the caller's environment (package indexes, proxies, certificates) except what
would point them at the workspace's own environment."""


def install_environment() -> dict[str, str]:
    """For uv and npm: the caller's network settings, nothing of AWS or the workspace."""
    return {
        name: value
        for name, value in os.environ.items()
        if name not in _NOT_FOR_INSTALLERS and not name.startswith("AWS_")
    }


def find_uv() -> str:
    """The workspace's uv (:func:`friend_infra.workspace.uv_executable`); its absence fails the
    install step."""
    try:
        return uv_executable()
    except WorkspaceError as error:
        raise InstallError(f"{error} (it builds the emulator's environment)") from error


def python_request() -> list[str]:
    """Which interpreter uv builds an environment with.

    ``UV_PYTHON`` wins (uv reads it itself). Otherwise, when we run on 3.13 ourselves (the
    workspace's Python), reuse that interpreter, which also works where uv cannot discover or
    download one; else ask uv for any 3.13.
    """
    if os.environ.get("UV_PYTHON"):
        return []
    if sys.version_info[:2] == (3, 13):
        return ["--python", sys.executable]
    return ["--python", "3.13"]


def run_checked(
    command: Sequence[str],
    what: str,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> str:
    """Run an install step and return its output; an :class:`InstallError` when it fails."""
    result = subprocess.run(  # noqa: S603 - argument list, no shell
        list(command),
        capture_output=True,
        text=True,
        check=False,
        env=None if env is None else dict(env),
        cwd=cwd,
    )
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()[-4000:]
        raise InstallError(f"{what} failed ({' '.join(command)}):\n{output}")
    return result.stdout
