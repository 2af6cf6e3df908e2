"""Docker-free, deterministic Lambda bundles built from the workspace lock.

One bundle per workspace package: the package's wheel, the wheels of the workspace packages it
depends on and its third-party dependencies exactly as ``uv.lock`` pins them (hash-checked),
installed for the Lambda platform (CPython 3.13, x86_64 manylinux) into a plain folder.

Why the output is deterministic: everything comes from pinned, hash-verified wheels or from our
own sources, nothing is compiled (``--no-compile``), and the files that record where or how it was
installed (``RECORD``, ``direct_url.json``, ...) are removed. The asset hash is taken from this
output, so a change to ``uv.lock`` or to a source file changes it, and two synths or two checkouts
at different paths give the same hash.

Why a cache: integ-runner synthesizes the app several times per run. A bundle is stored under
``.state/bundles/`` keyed on a hash of every input (this module, the uv version, the lock, the
exported requirements with their hashes, every file of the workspace packages that go in, the
target platform); a hit is a copy instead of a build. A key that missed an input would serve a
stale bundle, so the key errs on the side of rebuilding (a test edit in a bundled package rebuilds).
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

PYTHON_VERSION = "3.13"
"""The Lambda runtime's Python (python3.13); wheels are chosen for it."""
PYTHON_PLATFORM = "x86_64-manylinux2014"
"""x86_64 Lambda. Also the architecture of the hosts that run the bundle in the embedded
LocalStack (its executor runs the handler in a host process), so one build serves both."""

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

_IGNORED_DIRS = frozenset(
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
_CACHE_ENTRIES_KEPT = 4
"""Cached bundles kept per package (the newest); enough to switch branches without rebuilding."""


class BundlingError(RuntimeError):
    """A bundle could not be built; the message says which step failed and its output."""


def workspace_root(start: Path | None = None) -> Path:
    """The uv workspace root: the nearest folder above ``start`` holding ``uv.lock``.

    The CDK app runs from the workspace (an editable install), so this module's own path leads to
    the lock whatever the current directory is (cdk, integ-runner and pytest all differ).
    """
    here = (start or Path(__file__)).resolve()
    for folder in (here, *here.parents):
        if (folder / "uv.lock").is_file():
            return folder
    raise BundlingError(f"no uv.lock above {here}: friend-infra must run from the uv workspace")


def _run(args: Sequence[str], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    result = subprocess.run(  # noqa: S603 (fixed argv, no shell)
        list(args), cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BundlingError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


@cache
def _uv() -> str:
    # `uv run` names its own executable in $UV, which need not be on PATH.
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        raise BundlingError("uv is not on PATH: it builds the Lambda bundles (no Docker needed)")
    return uv


@dataclass(frozen=True)
class _Plan:
    """What goes into one package's bundle, as read from the lock."""

    requirements: str
    """Third-party requirements (pinned, with hashes), runtime-provided packages left out."""
    members: tuple[Path, ...]
    """Workspace package folders in the dependency closure, the bundled package first."""


def _plan(root: Path, package: str) -> _Plan:
    exported = _run(
        [
            _uv(),
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
    return _Plan(requirements="\n".join(requirements) + "\n", members=ordered)


def _files(folder: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in _IGNORED_DIRS)
        for name in sorted(filenames):
            if not name.endswith(".pyc"):
                yield Path(dirpath) / name


def _cache_key(root: Path, package: str, plan: _Plan) -> str:
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    add("bundler", Path(__file__).read_bytes())
    add("uv", _run([_uv(), "--version"], root).encode())
    add("target", f"{PYTHON_VERSION}/{PYTHON_PLATFORM}/{package}".encode())
    add("runtime-provided", ",".join(RUNTIME_PROVIDED).encode())
    add("lock", (root / "uv.lock").read_bytes())
    add("requirements", plan.requirements.encode())
    for member in plan.members:
        for path in _files(member):
            add(f"file:{path.relative_to(root).as_posix()}", path.read_bytes())
    return digest.hexdigest()[:32]


def _build(root: Path, plan: _Plan, out: Path, scratch: Path) -> None:
    wheels = scratch / "wheels"
    for member in plan.members:
        _run([_uv(), "build", "--wheel", "--quiet", "--out-dir", str(wheels), str(member)], root)
    requirements = scratch / "requirements.txt"
    requirements.write_text(plan.requirements)
    install = [
        _uv(),
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
    ]
    _run([*install, "--require-hashes", "-r", str(requirements)], root)
    _run([*install, *sorted(str(w) for w in wheels.glob("*.whl"))], root)
    _strip_volatile(out)


def _strip_volatile(out: Path) -> None:
    shutil.rmtree(out / "bin", ignore_errors=True)
    for dist_info in out.glob("*.dist-info"):
        for name in _VOLATILE_METADATA:
            (dist_info / name).unlink(missing_ok=True)


def _prune(cache_dir: Path, package: str, keep: int) -> None:
    entries = sorted(
        (p for p in cache_dir.glob(f"{package}-*") if p.is_dir()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for stale in entries[keep:]:
        shutil.rmtree(stale, ignore_errors=True)


def bundle(package: str, output_dir: Path, *, root: Path | None = None) -> bool:
    """Fill ``output_dir`` with ``package``'s Lambda bundle; return True when served from cache.

    Builds into a scratch folder and renames it into the cache, so concurrent synths never see a
    half-written bundle.
    """
    root = root or workspace_root()
    plan = _plan(root, package)
    cache_dir = root / ".state" / "bundles"
    entry = cache_dir / f"{package}-{_cache_key(root, package, plan)}"
    hit = entry.is_dir()
    if not hit:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".build-") as scratch:
            built = Path(scratch) / "bundle"
            _build(root, plan, built, Path(scratch))
            try:
                built.rename(entry)
            except OSError:
                if not entry.is_dir():  # lost a race only if the winner's entry exists
                    raise
        _prune(cache_dir, package, _CACHE_ENTRIES_KEPT)
    else:
        os.utime(entry)  # newest-used survives pruning
    shutil.copytree(entry, output_dir, dirs_exist_ok=True)
    return hit


@jsii.implements(ILocalBundling)
class UvLocalBundling:
    """CDK local bundling through :func:`bundle`: never falls back to Docker."""

    def __init__(self, package: str) -> None:
        self.package = package

    def try_bundle(self, output_dir: str, *_options: Any, **_keywords: Any) -> bool:
        """Bundle into ``output_dir``; raise (never return False) so no Docker run is tried.

        The BundlingOptions that jsii passes along (positionally) are not needed: the bundle is
        defined by the package and the lock alone.
        """
        started = time.monotonic()
        hit = bundle(self.package, Path(output_dir))
        if os.environ.get("FRIEND_BUNDLING_VERBOSE"):
            source = "cache" if hit else "build"
            elapsed = time.monotonic() - started
            sys.stderr.write(f"bundled {self.package} ({source}) in {elapsed:.2f}s\n")
        return True


def package_code(package: str, *, root: Path | None = None) -> lambda_.Code:
    """Lambda code for every entry point of one workspace package, hashed by its content."""
    root = root or workspace_root()
    return lambda_.Code.from_asset(
        str(root / "packages" / package),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            # Required by the API but never pulled: UvLocalBundling bundles or raises.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.13"),
            local=UvLocalBundling(package),
        ),
    )
