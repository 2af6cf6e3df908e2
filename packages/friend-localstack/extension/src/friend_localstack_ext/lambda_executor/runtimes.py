"""Which Lambda runtimes the subprocess executor can run, and with which host interpreter.

A runtime is a host interpreter plus a bootstrap script of ours. Python functions need the exact
minor version (python3.12 code may not run on 3.13 and vice versa), so the interpreter is
looked up on this host: ``$FRIEND_LAMBDA_PYTHON3_13`` (or ``..3_12``), ``PATH``, pyenv, then
uv's managed interpreters; each candidate is run once to check its version (pyenv shims on
``PATH`` may point at another version or fail).
Node functions run on the host ``node``: a nodejs22.x function on a Node 20 host runs with a
warning, since the differences rarely matter to handler code and a second Node is not at hand.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

LOG = logging.getLogger(__name__)

BOOTSTRAP_DIR = Path(__file__).parent / "bootstrap"


class UnsupportedFunctionError(Exception):
    """The function cannot run on this executor (runtime, package type or missing interpreter)."""


@dataclasses.dataclass(frozen=True)
class RuntimeSpec:
    """How to start one Lambda runtime on this host."""

    name: str
    language: str  # "python" or "nodejs"
    version: str  # "3.13", "20", ...

    @property
    def execution_env(self) -> str:
        """``AWS_EXECUTION_ENV`` as the real runtime sets it."""
        return f"AWS_Lambda_{self.name}"


SUPPORTED_RUNTIMES: dict[str, RuntimeSpec] = {
    spec.name: spec
    for spec in (
        RuntimeSpec("python3.12", "python", "3.12"),
        RuntimeSpec("python3.13", "python", "3.13"),
        RuntimeSpec("nodejs20.x", "nodejs", "20"),
        RuntimeSpec("nodejs22.x", "nodejs", "22"),
    )
}


def runtime_spec(runtime: str | None, package_type: str | None) -> RuntimeSpec:
    """The spec of a function's runtime, or a clear error if this executor cannot run it."""
    if package_type and package_type != "Zip":
        raise UnsupportedFunctionError(
            f"Package type {package_type} is not supported by the subprocess Lambda executor "
            "(it runs zip packages on host interpreters; container images need Docker)"
        )
    spec = SUPPORTED_RUNTIMES.get(runtime or "")
    if spec is None:
        raise UnsupportedFunctionError(
            f"Runtime {runtime} is not supported by the subprocess Lambda executor "
            f"(supported: {', '.join(sorted(SUPPORTED_RUNTIMES))})"
        )
    return spec


def interpreter_for(spec: RuntimeSpec) -> Path:
    """The host interpreter that runs ``spec``; raises when the host has none."""
    if spec.language == "python":
        return find_python(spec.version)
    node = find_node()
    major = node_major_version(str(node))
    if major != spec.version:
        _warn_substitution(spec.name, f"Node {major} ({node})")
    return node


def bootstrap_command(spec: RuntimeSpec) -> list[str]:
    """The command line of a function process: the host interpreter running our bootstrap.

    Python runs with ``-S`` (the host interpreter's site-packages stay out of the function's
    reach) and ``-u`` (unbuffered, so its output reaches the capture as it is written).
    """
    interpreter = str(interpreter_for(spec))
    if spec.language == "python":
        return [interpreter, "-S", "-u", str(BOOTSTRAP_DIR / "python_bootstrap.py")]
    return [interpreter, str(BOOTSTRAP_DIR / "node_bootstrap.cjs")]


@functools.cache
def _warn_substitution(runtime: str, host: str) -> None:
    LOG.warning("%s functions run on the host's %s: that runtime is not installed", runtime, host)


@functools.cache
def find_python(version: str) -> Path:
    """Find ``python<version>``: override variable, PATH, pyenv, then ``uv python find``."""
    override = os.environ.get(f"FRIEND_LAMBDA_PYTHON{version.replace('.', '_')}")
    candidates: list[Path] = [Path(override)] if override else []
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(Path(on_path))
    for pyenv_root in _pyenv_roots():
        candidates.extend(
            sorted(
                (pyenv_root / "versions").glob(f"{version}.*/bin/python{version}"),
                key=_version_key,
                reverse=True,
            )
        )
    uv = shutil.which("uv")
    if uv:
        found = subprocess.run(  # noqa: S603
            [uv, "python", "find", "--no-project", version],
            capture_output=True,
            text=True,
            check=False,
            env=_user_environment(),
        )
        if found.returncode == 0 and found.stdout.strip():
            candidates.append(Path(found.stdout.strip()))
    for candidate in candidates:
        resolved = _real_python(candidate, version)
        if resolved is not None:
            return resolved
    raise UnsupportedFunctionError(
        f"No Python {version} interpreter found on this host for the python{version} runtime "
        f"(looked at $FRIEND_LAMBDA_PYTHON{version.replace('.', '_')}, PATH, pyenv and uv)"
    )


def _user_home() -> Path:
    """The user's real home: LocalStack may run with HOME pointed into its state folder."""
    return Path(pwd.getpwuid(os.getuid()).pw_dir)


def _pyenv_roots() -> list[Path]:
    roots = [Path(os.environ["PYENV_ROOT"])] if os.environ.get("PYENV_ROOT") else []
    return [*roots, _user_home() / ".pyenv", Path.home() / ".pyenv"]


def _user_environment() -> dict[str, str]:
    """The environment with the user's home, so uv finds the interpreters it manages there."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env["HOME"] = str(_user_home())
    return env


def _real_python(candidate: Path, version: str) -> Path | None:
    """The interpreter behind ``candidate`` if it runs and is ``version`` (shims may not)."""
    if not (candidate.is_file() and os.access(candidate, os.X_OK)):
        return None
    probe = subprocess.run(  # noqa: S603
        [str(candidate), "-c", "import sys; print(sys.executable); print(sys.version)"],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = probe.stdout.splitlines()
    if probe.returncode != 0 or len(lines) < 2 or not lines[1].startswith(f"{version}."):
        return None
    return Path(lines[0])


@functools.cache
def find_node() -> Path:
    node = os.environ.get("FRIEND_LAMBDA_NODE") or shutil.which("node")
    if not node:
        raise UnsupportedFunctionError("No `node` found on PATH for the Node.js runtimes")
    return Path(node)


@functools.cache
def node_major_version(node: str) -> str:
    output = subprocess.run(  # noqa: S603
        [node, "--version"], capture_output=True, text=True, check=True
    ).stdout
    return output.strip().lstrip("v").split(".")[0]


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.parent.name))
