"""What the real Lambda runtimes ship besides the language: the AWS SDK, in one folder.

Python functions get boto3 (pinned in ``python-runtime-requirements.txt``), installed here into
``<deps dir>/python`` and reinstalled only when the pins change (a stamp file holds the hash of
the pin file). Node functions get the AWS SDK v3 clients from ``<deps dir>/nodejs/node_modules``,
which whoever launches LocalStack installs (the clients are pinned by the launcher, which gives
them to every emulator it runs). Both live outside LocalStack's environment: functions must not
see LocalStack's packages.

Run ``python -m friend_localstack_ext.lambda_executor.deps <dir>`` to install boto3 ahead of time
(the launcher does this on install, so the first function creation does not wait for it).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

LOG = logging.getLogger(__name__)

PYTHON_REQUIREMENTS = Path(__file__).parent / "python-runtime-requirements.txt"
DEPS_DIR_VARIABLE = "FRIEND_LAMBDA_RUNTIME_DEPS_DIR"


class RuntimeDepsError(Exception):
    """The runtime's SDK could not be installed."""


def default_deps_dir() -> Path:
    """``$FRIEND_LAMBDA_RUNTIME_DEPS_DIR``, else ``lambda-runtimes/`` in LocalStack's environment.

    Next to LocalStack's packages but outside its ``site-packages`` (functions never see those):
    every LocalStack started from that environment shares one install, whatever its port or
    state folder, and the SDKs go when the environment is rebuilt.
    """
    configured = os.environ.get(DEPS_DIR_VARIABLE)
    return Path(configured) if configured else Path(sys.prefix) / "lambda-runtimes"


def ensure_python_packages(deps_dir: Path, python: Path) -> Path:
    """Install the pinned boto3 into ``deps_dir/python`` (once) and return that folder."""
    target = deps_dir / "python"
    digest = _digest(PYTHON_REQUIREMENTS)
    with _locked(deps_dir, "python"):
        if _stamp(target) == digest:
            return target
        shutil.rmtree(target, ignore_errors=True)
        uv = shutil.which("uv")
        if uv:
            command = [uv, "pip", "install", "--no-config", "--python", str(python)]
            command += ["--target", str(target), "--no-deps", "--only-binary", ":all:"]
        else:
            command = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
            command += ["--target", str(target), "--no-deps", "--only-binary", ":all:"]
        _run([*command, "-r", str(PYTHON_REQUIREMENTS)], "boto3 for the Python runtimes")
        _write_stamp(target, digest)
    return target


def node_modules(deps_dir: Path) -> Path:
    """The AWS SDK v3 clients for Node functions; a clear error when they were not installed."""
    modules = deps_dir / "nodejs" / "node_modules"
    if not modules.is_dir():
        raise RuntimeDepsError(
            f"the AWS SDK for Node functions is not installed at {modules}: "
            "the launcher of LocalStack installs it there"
        )
    return modules


def _run(command: list[str], what: str, cwd: Path | None = None) -> None:
    LOG.info("Installing %s: %s", what, " ".join(command))
    result = subprocess.run(  # noqa: S603
        command, cwd=cwd, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeDepsError(
            f"Installing {what} failed ({result.returncode}): {result.stderr.strip()[-2000:]}"
        )


@contextlib.contextmanager
def _locked(deps_dir: Path, name: str) -> Iterator[None]:
    """Serialise installs across threads and processes (two LocalStacks may share the folder)."""
    deps_dir.mkdir(parents=True, exist_ok=True)
    with (deps_dir / f".{name}.lock").open("w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _stamp(target: Path) -> str | None:
    stamp = target / ".installed"
    return stamp.read_text().strip() if stamp.is_file() else None


def _write_stamp(target: Path, digest: str) -> None:
    (target / ".installed").write_text(digest + "\n")


def main(argv: list[str] | None = None) -> None:
    """Install the Python runtimes' SDK into the given folder (default: the configured one)."""
    from .runtimes import find_python  # noqa: PLC0415

    args = sys.argv[1:] if argv is None else argv
    deps_dir = Path(args[0]) if args else default_deps_dir()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(ensure_python_packages(deps_dir, find_python("3.13")))


if __name__ == "__main__":
    main()
