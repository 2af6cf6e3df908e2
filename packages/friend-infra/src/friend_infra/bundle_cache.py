"""Bundles by content: each built once for a set of inputs, then copied from a cache.

Why a cache: integ-runner synthesizes the app several times per run, and a bundle takes seconds
to build (:mod:`friend_infra.bundling`). A bundle is stored under ``.state/bundles/`` keyed on a
hash of every input (the bundler, the uv version, the target platform and bytecode, and either
the lock, the exported requirements and every file of the workspace packages that go in, or the
checksums of the releases that go in); a hit is a copy instead of a build. A key that missed an
input would serve a stale bundle, so the key errs on the side of rebuilding (a test edit in a
bundled package rebuilds).
"""

import hashlib
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from friend_infra import bundling, workspace
from friend_infra.bundling import (
    IGNORED_DIRS,
    PYTHON_PLATFORM,
    PYTHON_VERSION,
    RUNTIME_PROVIDED,
    TASK_ROOT,
)
from friend_infra.releases import Release, ReleaseStore
from friend_infra.workspace import workspace_root

_BUNDLER = (Path(bundling.__file__), Path(workspace.__file__), Path(__file__))
"""What builds a bundle (the version label included) and keys it: part of every key."""
_CACHE_ENTRIES_KEPT = 4
"""Cached bundles kept per package (the newest); enough to switch branches without rebuilding."""


def _files(folder: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS)
        for name in sorted(filenames):
            if not name.endswith(".pyc"):
                yield Path(dirpath) / name


type _Add = Callable[[str, bytes], None]


def _add_target(add: _Add, root: Path, package: str) -> None:
    """What every bundle depends on beside its own inputs: the bundler and the target."""
    for source in _BUNDLER:
        add(f"bundler:{source.name}", source.read_bytes())
    add("uv", bundling.uv_version(root).encode())
    add("target", f"{PYTHON_VERSION}/{PYTHON_PLATFORM}/{package}/{TASK_ROOT}".encode())
    add("bytecode", importlib.util.MAGIC_NUMBER)
    add("runtime-provided", ",".join(RUNTIME_PROVIDED).encode())


def _cache_key(root: Path, package: str, plan: bundling.Plan) -> str:
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
    plan = bundling.plan(root, package)
    key = _cache_key(root, package, plan)

    def build(out: Path, scratch: Path) -> None:
        bundling.build_working_tree(root, plan, out, scratch)

    return _cached(root, package, key, build, output_dir)


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
        bundling.install(root, release.requirements.read_text(), wheels, out, scratch)

    name = f"release-{release.package}-{release.version}"
    return _cached(root, name, digest.hexdigest()[:32], build, output_dir)
