"""The uv workspace friend-infra runs from: where its root is, and how code built from its working
tree is told apart from a release.

Every tool here (the CDK app, the bundler, the release and pin commands, the tests) finds the
release store, the deployment manifest and the packages from the root, so they agree on one place
whatever the current directory is. A working-tree build labels its version, so that what it
reports can never be mistaken for a release's. Nothing here starts jsii or a subprocess: the pin
command uses it too.
"""

import os
import shutil
import tomllib
from pathlib import Path

WORKSPACE_LABEL = "+workspace"
"""Appended to a package's version when a bundle is built from the working tree (PEP 440 local
version label): such a build reports ``0.1.0+workspace``, never passing for release 0.1.0."""


class WorkspaceError(RuntimeError):
    """friend-infra is not running from the uv workspace."""


def workspace_root(start: Path | None = None) -> Path:
    """The uv workspace root: the nearest folder above ``start`` holding ``uv.lock``.

    The CDK app runs from the workspace (an editable install), so this module's own path leads to
    the lock whatever the current directory is (cdk, integ-runner and pytest all differ).
    """
    here = (start or Path(__file__)).resolve()
    for folder in (here, *here.parents):
        if (folder / "uv.lock").is_file():
            return folder
    raise WorkspaceError(f"no uv.lock above {here}: friend-infra must run from the uv workspace")


def uv_executable() -> str:
    """The uv that runs the workspace: ``uv run`` names its own executable in ``UV``, which need
    not be on PATH; else the one on PATH. It builds wheels, exports the lock and installs
    bundles, so nothing works without it."""
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        raise WorkspaceError("uv is not on PATH: the workspace's builds and bundles need it")
    return uv


def workspace_version(root: Path, package: str) -> str:
    """The version a working-tree build of ``package`` reports: its own, labelled."""
    pyproject = root / "packages" / package / "pyproject.toml"
    return str(tomllib.loads(pyproject.read_text())["project"]["version"]) + WORKSPACE_LABEL
