"""Docker-free, deterministic Lambda bundles: from the working tree, or from a release.

A bundle is a plain folder installed for the Lambda platform (CPython 3.13, x86_64 manylinux):
the handler package's wheel, the wheels of the workspace packages it depends on, and its
third-party dependencies, every one hash-checked by ``uv pip install --require-hashes``.

- **From the working tree** (:func:`bundle`): the wheels are built from the workspace packages,
  labelled ``<version>+workspace`` (so a working-tree build never reports a release's version),
  and the third-party requirements are exported from ``uv.lock``.
- **From a release** (:func:`bundle_release`): the stored wheel and ``requirements.txt`` of the
  release and of the workspace package releases it requires, after their ``SHA256SUMS`` checked
  out; nothing is rebuilt and nothing comes from the working tree.

Then the per-install files (``RECORD``, ``direct_url.json``, ...) are removed and every module
is compiled to bytecode with unchecked hashes: Lambda's task folder is read-only, so without
shipped bytecode every cold start compiles every module it imports. Unchecked-hash ``.pyc``
files depend on the source alone (no timestamps), are used without looking at the source, and
are compiled with a fixed hash seed and paths as on Lambda (``/var/task``): the same inputs give
the same bytes. The asset hash is taken from this output, so two synths or two checkouts at
different paths give the same hash.

Why a cache: integ-runner synthesizes the app several times per run. A bundle is stored under
``.state/bundles/`` keyed on a hash of every input (this module, the uv version, the target
platform and bytecode, and either the lock, the exported requirements and every file of the
workspace packages that go in, or the checksums of the releases that go in); a hit is a copy
instead of a build. A key that missed an input would serve a stale bundle, so the key errs on the
side of rebuilding (a test edit in a bundled package rebuilds).
"""

import hashlib
import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from friend_infra.releases import Release, ReleaseStore, sha256_of
from friend_infra.workspace import WORKSPACE_LABEL, workspace_root

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


def _distribution(wheel: Path) -> str:
    return wheel.name.split("-")[0]


def _top_level(wheel: Path) -> str:
    """The import name of one of our wheels (``friend_handlers`` for friend-handlers)."""
    return _distribution(wheel).replace("-", "_").lower()


def _install(
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
    listed = subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        [sys.executable, "-I", "-B", "-c", _LIST_COLD_START_MODULES, str(out), *ours],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode != 0:
        raise BundlingError(f"importing the bundle's packages failed:\n{listed.stderr}")
    args = [sys.executable, "-I", "-m", "compileall", "-q", "-q", "--invalidation-mode"]
    args += ["unchecked-hash", "-s", str(out), "-p", TASK_ROOT, "-i", "-"]
    compiled = subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        args,
        input="".join(sorted(set(listed.stdout.splitlines(keepends=True)))),
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if compiled.returncode != 0:
        raise BundlingError(f"compiling the bundle failed:\n{compiled.stdout}{compiled.stderr}")


def _files(folder: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in _IGNORED_DIRS)
        for name in sorted(filenames):
            if not name.endswith(".pyc"):
                yield Path(dirpath) / name


type _Add = Callable[[str, bytes], None]


def _add_target(add: _Add, root: Path, package: str) -> None:
    """What every bundle depends on beside its own inputs: the bundler and the target."""
    add("bundler", Path(__file__).read_bytes())
    add("uv", _run([_uv(), "--version"], root).encode())
    add("target", f"{PYTHON_VERSION}/{PYTHON_PLATFORM}/{package}/{TASK_ROOT}".encode())
    add("bytecode", importlib.util.MAGIC_NUMBER)
    add("runtime-provided", ",".join(RUNTIME_PROVIDED).encode())


def _cache_key(root: Path, package: str, plan: _Plan) -> str:
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    _add_target(add, root, package)
    add("lock", (root / "uv.lock").read_bytes())
    add("requirements", plan.requirements.encode())
    for member in plan.members:
        for path in _files(member):
            add(f"file:{path.relative_to(root).as_posix()}", path.read_bytes())
    return digest.hexdigest()[:32]


_VERSION_LINE = re.compile(r'^(version\s*=\s*")([^"+]+)(")', re.MULTILINE)


def _labelled_copy(member: Path, scratch: Path) -> Path:
    """A copy of a workspace package whose version carries :data:`WORKSPACE_LABEL`."""
    copy = scratch / "sources" / member.name
    shutil.copytree(member, copy, ignore=shutil.ignore_patterns(*_IGNORED_DIRS, "*.pyc"))
    pyproject = copy / "pyproject.toml"
    text, count = _VERSION_LINE.subn(rf"\g<1>\g<2>{WORKSPACE_LABEL}\g<3>", pyproject.read_text(), 1)
    if count != 1:
        raise BundlingError(f"{member / 'pyproject.toml'}: no static version to label")
    pyproject.write_text(text)
    return copy


def _build(root: Path, plan: _Plan, out: Path, scratch: Path) -> None:
    wheels = scratch / "wheels"
    for member in plan.members:
        source = _labelled_copy(member, scratch)
        _run([_uv(), "build", "--wheel", "--quiet", "--out-dir", str(wheels), str(source)], root)
    _install(root, plan.requirements, sorted(wheels.glob("*.whl")), out, scratch)


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


def _cached(
    root: Path, name: str, key: str, build: Callable[[Path, Path], None], output_dir: Path
) -> bool:
    """Fill ``output_dir`` from the cache entry ``<name>-<key>``, building it first on a miss;
    return True on a hit.

    Builds into a scratch folder and renames it into the cache, so concurrent synths never see a
    half-written bundle.
    """
    cache_dir = root / ".state" / "bundles"
    entry = cache_dir / f"{name}-{key}"
    hit = entry.is_dir()
    if not hit:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".build-") as scratch:
            built = Path(scratch) / "bundle"
            build(built, Path(scratch))
            try:
                built.rename(entry)
            except OSError:
                if not entry.is_dir():  # lost a race only if the winner's entry exists
                    raise
        _prune(cache_dir, name, _CACHE_ENTRIES_KEPT)
    else:
        os.utime(entry)  # newest-used survives pruning
    shutil.copytree(entry, output_dir, dirs_exist_ok=True)
    return hit


def bundle(package: str, output_dir: Path, *, root: Path | None = None) -> bool:
    """Fill ``output_dir`` with ``package``'s bundle built from the working tree; return True
    when served from cache."""
    root = root or workspace_root()
    plan = _plan(root, package)
    key = _cache_key(root, package, plan)
    return _cached(
        root, package, key, lambda out, scratch: _build(root, plan, out, scratch), output_dir
    )


def bundle_release(
    release: Release, store: ReleaseStore, output_dir: Path, *, root: Path | None = None
) -> bool:
    """Fill ``output_dir`` with the bundle of a release: its wheel, the wheels of the releases it
    requires and its pinned requirements, all from the store and all hash-checked; return True
    when served from cache."""
    root = root or workspace_root()
    closure = store.closure(release)  # each verified against its SHA256SUMS
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    _add_target(add, root, release.package)
    for each in closure:
        add(f"release:{each.package}/{each.version}", repr(sorted(each.checksums.items())).encode())

    def build(out: Path, scratch: Path) -> None:
        wheels = [each.wheel for each in closure]
        _install(root, release.requirements.read_text(), wheels, out, scratch)

    name = f"release-{release.package}-{release.version}"
    return _cached(root, name, digest.hexdigest()[:32], build, output_dir)


@jsii.implements(ILocalBundling)
class UvLocalBundling:
    """CDK local bundling through :func:`bundle` or :func:`bundle_release`: never Docker."""

    def __init__(self, what: str, fill: Callable[[Path], bool]) -> None:
        self.what = what
        self.fill = fill

    def try_bundle(self, output_dir: str, *_options: Any, **_keywords: Any) -> bool:
        """Bundle into ``output_dir``; raise (never return False) so no Docker run is tried.

        The BundlingOptions that jsii passes along (positionally) are not needed: the bundle is
        defined by its source (the lock and the packages, or the release) alone.
        """
        started = time.monotonic()
        hit = self.fill(Path(output_dir))
        if os.environ.get("FRIEND_BUNDLING_VERBOSE"):
            source = "cache" if hit else "build"
            elapsed = time.monotonic() - started
            sys.stderr.write(f"bundled {self.what} ({source}) in {elapsed:.2f}s\n")
        return True


def _code(source: Path, what: str, fill: Callable[[Path], bool]) -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(source),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            # Required by the API but never pulled: UvLocalBundling bundles or raises.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.13"),
            local=UvLocalBundling(what, fill),
        ),
    )


def package_code(package: str, *, root: Path | None = None) -> lambda_.Code:
    """Lambda code for every entry point of one workspace package, built from the working tree,
    hashed by its content."""
    root = root or workspace_root()
    return _code(
        root / "packages" / package,
        f"{package} (working tree)",
        lambda out: bundle(package, out, root=root),
    )


def release_code(
    release: Release, store: ReleaseStore, *, root: Path | None = None
) -> lambda_.Code:
    """Lambda code for every entry point of a release, from the store, hashed by its content."""
    return _code(
        release.folder,
        f"{release.package} {release.version}",
        lambda out: bundle_release(release, store, out, root=root),
    )
