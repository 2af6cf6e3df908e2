"""Docker-free, deterministic Lambda bundles: building one, from the working tree or a release.

A bundle is a plain folder installed for the Lambda platform (CPython 3.13, x86_64 manylinux):
the handler package's wheel, the wheels of the workspace packages it depends on, and its
third-party dependencies, every one hash-checked by ``uv pip install --require-hashes``.

- **From the working tree** (:func:`build_working_tree`): wheels built from the workspace
  packages, labelled ``<version>+workspace`` (never passing for a release), and the third-party
  requirements exported from ``uv.lock`` (:func:`plan`).
- **From a release** (:func:`install`): the stored wheels and ``requirements.txt`` of the release
  and of the releases it requires, after their ``SHA256SUMS`` checked out; nothing is rebuilt.

Then the per-install files (``RECORD``, ``direct_url.json``, ...) are removed and every module
is compiled to bytecode with unchecked hashes: Lambda's task folder is read-only, so without
shipped bytecode every cold start compiles every module it imports. Unchecked-hash ``.pyc``
files depend on the source alone (no timestamps), are used without looking at the source, and
are compiled with a fixed hash seed and paths as on Lambda (``/var/task``): the same inputs give
the same bytes, so two synths or two checkouts at different paths give the same asset hash.

Building is all this module does (no CDK): :mod:`friend_infra.bundle_cache` builds only when the
inputs changed, and :mod:`friend_infra.lambda_code` makes Lambda code of the bundle.
"""

import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from friend_infra.releases import sha256_of
from friend_infra.workspace import WORKSPACE_LABEL, uv_executable

PYTHON_VERSION = "3.13"
"""The Lambda runtime's Python (python3.13); wheels are chosen for it."""
PYTHON_PLATFORM = "x86_64-manylinux2014"
"""x86_64 Lambda. Also the architecture of the hosts that run the bundle in the embedded
LocalStack (its executor runs the handler in a host process), so one build serves both."""
TASK_ROOT = "/var/task"
"""Where Lambda unpacks the bundle: the path compiled into the bytecode (Python replaces it with
the real path on import, so it only has to be the same on every build)."""

RUNTIME_PROVIDED: tuple[str, ...] = (
    "boto3",
    "botocore",
    "jmespath",
    "python-dateutil",
    "s3transfer",
    "six",
    "urllib3",
)
"""Packages the python3.13 Lambda runtime already ships (the AWS SDK and its dependencies).

pynamodb and the X-Ray SDK pull in botocore, which alone is ~90% of the bundle (36 MB of 40).
They are left out as one consistent set: the bundle folder comes first on ``sys.path``, so
shipping a part of the set (say urllib3 without botocore) would shadow the runtime's copy and
could break the runtime's own SDK. What we import from them is long-stable API (pynamodb 6 needs
botocore >= 1.12, Powertools needs jmespath >= 1.0), which every python3.13 runtime satisfies.
The price: the SDK version is the runtime's, not the lock's; ship them (drop a name here) if a
feature of a newer botocore is ever needed.
"""

IGNORED_DIRS = frozenset(
    {
        "__pycache__",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        ".venv",
        "build",
        "dist",
        "node_modules",
        "cdk.out",
    }
)
"""Folders that never feed a wheel: tool caches and build outputs, left out of the cache key."""
_VOLATILE_METADATA = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "uv_cache.json")
"""Per-install files of ``*.dist-info`` that name paths or tools, not content: removed."""


class BundlingError(RuntimeError):
    """A bundle could not be built; the message says which step failed and its output."""


def _run(args: Sequence[str], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    result = subprocess.run(  # noqa: S603 (fixed argv, no shell)
        list(args), cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BundlingError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


@dataclass(frozen=True)
class Plan:
    """What goes into one package's bundle, as read from the lock."""

    requirements: str
    """Third-party requirements (pinned, with hashes), runtime-provided packages left out."""
    members: tuple[Path, ...]
    """Workspace package folders in the dependency closure, the bundled package first."""


def plan(root: Path, package: str) -> Plan:
    """What goes into ``package``'s bundle built from the working tree: what the lock says."""
    exported = _run(
        [
            uv_executable(),
            "export",
            "--locked",
            "--package",
            package,
            "--no-dev",
            "--format",
            "requirements.txt",
            "--no-header",
            "--no-annotate",
            *(arg for name in RUNTIME_PROVIDED for arg in ("--no-emit-package", name)),
        ],
        root,
    )
    members: list[Path] = []
    requirements: list[str] = []
    for line in exported.splitlines():
        if line.startswith("-e "):
            members.append((root / line.removeprefix("-e ").strip()).resolve())
        else:
            requirements.append(line)
    own = next((m for m in members if m.name == package), None)
    if own is None:
        raise BundlingError(f"{package} is not a workspace package of {root}")
    ordered = (own, *sorted(m for m in members if m != own))
    return Plan(requirements="\n".join(requirements) + "\n", members=ordered)


def uv_version(root: Path) -> str:
    """The version of uv that builds and installs: another uv may resolve or install otherwise."""
    return _run([uv_executable(), "--version"], root)


def _distribution(wheel: Path) -> str:
    return wheel.name.split("-")[0]


def _top_level(wheel: Path) -> str:
    """The import name of one of our wheels (``friend_handlers`` for friend-handlers)."""
    return _distribution(wheel).replace("-", "_").lower()


def install(
    root: Path, requirements: str, wheels: Sequence[Path], out: Path, scratch: Path
) -> None:
    """Install the third-party ``requirements`` (pinned, with hashes) and our ``wheels``, each
    with its sha256, in one hash-checked install for the Lambda platform."""
    ours = "".join(
        f"{_distribution(wheel)} @ {wheel.resolve().as_uri()} --hash=sha256:{sha256_of(wheel)}\n"
        for wheel in sorted(wheels, key=lambda w: w.name)
    )
    listed = scratch / "requirements.txt"
    listed.write_text(requirements + ours)
    _run(
        [
            uv_executable(),
            "pip",
            "install",
            "--no-config",
            "--quiet",
            "--target",
            str(out),
            "--python-platform",
            PYTHON_PLATFORM,
            "--python-version",
            PYTHON_VERSION,
            "--only-binary",
            ":all:",
            "--no-deps",
            "--no-compile",
            "--link-mode",
            "copy",
            "--require-hashes",
            "-r",
            str(listed),
        ],
        root,
    )
    _strip_volatile(out)
    _compile(out, sorted({_top_level(wheel) for wheel in wheels}))


_COLD_START_ENVIRONMENT = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "LAMBDA_TASK_ROOT": TASK_ROOT,
    "AWS_LAMBDA_FUNCTION_NAME": "bundling",
    "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
}
"""Enough of Lambda's environment that modules import as in a cold start (Powertools' Tracer
imports the X-Ray SDK only inside Lambda)."""

_LIST_COLD_START_MODULES = """
import importlib, pkgutil, sys
bundle = sys.argv[1]
sys.path.insert(0, bundle)
for top in sys.argv[2:]:
    package = importlib.import_module(top)
    for info in pkgutil.walk_packages(package.__path__, top + "."):
        importlib.import_module(info.name)
for module in list(sys.modules.values()):
    path = getattr(module, "__file__", None) or ""
    if path.startswith(bundle + "/") and path.endswith(".py"):
        print(path)
"""


def _compile(out: Path, ours: Sequence[str]) -> None:
    """Unchecked-hash bytecode for every module that loading our packages imports.

    Our packages' modules are imported in a fresh interpreter with the bundle first on the path
    and the SDK from outside it (as the runtime provides it); every bundled module that this
    loads is compiled. That is what a cold start of any entry point needs, at a fraction of the
    size of compiling every module (most of Powertools is never imported); a module first
    imported later compiles on first use, as before. Compiled with a fixed hash seed (set and
    frozenset constants in a fixed order) and the paths as on Lambda, so the bytes are the same
    on every build.
    """
    if sys.version_info[:2] != tuple(int(n) for n in PYTHON_VERSION.split(".")):
        raise BundlingError(
            f"bytecode for python{PYTHON_VERSION} must be compiled by Python {PYTHON_VERSION}, "
            f"not {sys.version.split()[0]}"
        )
    if (sys.platform, platform.machine()) != ("linux", "x86_64"):
        # The bundle's binary wheels (pydantic-core) are for Lambda's platform and cannot be
        # imported here to find what a cold start loads: ship the bundle without bytecode.
        sys.stderr.write("bundling: not on linux x86_64, so the bundle ships no bytecode\n")
        return
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONHASHSEED": "0", **_COLD_START_ENVIRONMENT}
    listed = _isolated(["-B", "-c", _LIST_COLD_START_MODULES, str(out), *ours], env)
    if listed.returncode != 0:
        raise BundlingError(f"importing the bundle's packages failed:\n{listed.stderr}")
    args = ["-m", "compileall", "-q", "-q", "--invalidation-mode", "unchecked-hash"]
    args += ["-s", str(out), "-p", TASK_ROOT, "-i", "-"]
    modules = "".join(sorted(set(listed.stdout.splitlines(keepends=True))))
    compiled = _isolated(args, env, stdin=modules)
    if compiled.returncode != 0:
        raise BundlingError(f"compiling the bundle failed:\n{compiled.stdout}{compiled.stderr}")


def _isolated(
    args: list[str], env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Our interpreter in isolated mode on ``args``; the caller judges its answer."""
    return subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        [sys.executable, "-I", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


_VERSION_LINE = re.compile(r'^(version\s*=\s*")([^"+]+)(")', re.MULTILINE)


def _labelled_copy(member: Path, scratch: Path) -> Path:
    """A copy of a workspace package whose version carries :data:`WORKSPACE_LABEL`."""
    copy = scratch / "sources" / member.name
    shutil.copytree(member, copy, ignore=shutil.ignore_patterns(*IGNORED_DIRS, "*.pyc"))
    pyproject = copy / "pyproject.toml"
    text, count = _VERSION_LINE.subn(rf"\g<1>\g<2>{WORKSPACE_LABEL}\g<3>", pyproject.read_text(), 1)
    if count != 1:
        raise BundlingError(f"{member / 'pyproject.toml'}: no static version to label")
    pyproject.write_text(text)
    return copy


def build_working_tree(root: Path, plan: Plan, out: Path, scratch: Path) -> None:
    """Build the wheels of ``plan``'s workspace packages, labelled, and install them with its
    requirements into ``out``."""
    wheels = scratch / "wheels"
    for member in plan.members:
        source = _labelled_copy(member, scratch)
        _run(
            [uv_executable(), "build", "--wheel", "--quiet", "--out-dir", str(wheels), str(source)],
            root,
        )
    install(root, plan.requirements, sorted(wheels.glob("*.whl")), out, scratch)


def _strip_volatile(out: Path) -> None:
    shutil.rmtree(out / "bin", ignore_errors=True)
    for dist_info in out.glob("*.dist-info"):
        for name in _VOLATILE_METADATA:
            (dist_info / name).unlink(missing_ok=True)
