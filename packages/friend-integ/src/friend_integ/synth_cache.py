"""A cache of synthesized cloud assemblies, keyed on everything a synthesis reads.

integ-runner synthesizes each test app five or six times per run (snapshot check, the deploy
of each stack, the new snapshot, the destroy), and one synthesis of a Python CDK app costs
10-30 s here. The same inputs always give the same assembly, so the integ command runs apps
through this wrapper (`--app "python -m friend_integ.synth_cache {filePath}"`), which replays
an earlier assembly when nothing that could change it has changed.

Concurrent requests for one key synthesize once (a file lock per key).

A stale hit would deploy old code, so the key covers every input, generously:
- the app file and every Python file next to it (shared test helpers);
- every source file of every workspace package (the stack, the handlers that are bundled
  into it with their `pyproject.toml` and README, the models, this package, tests included:
  erring on the side of a miss), the root `pyproject.toml`, `uv.lock` and `.python-version`
  (every dependency version, the bundled Lambda dependencies);
- the interpreter, and the environment that the CDK toolkit hands the app: all `CDK_*`
  variables (the context, with its overflow file's content) except the output folder, plus
  `AWS_REGION`, `AWS_DEFAULT_REGION` and the `JSII_*`, `PYTHON*`, `UV_*` and `PATH` settings
  that change how the app and its bundling run.

Two kinds of `CDK_*` variable are left out, because these apps cannot read them: the account and
region the toolkit deploys to (`CDK_DEFAULT_ACCOUNT`, `CDK_DEFAULT_REGION`: every stack of the
integ tests is environment-agnostic, which a test checks on the committed snapshots, so its
template names neither), and integ-runner's stand-in values for lookups (`CDK_INTEG_*`: the
apps make no lookups). They are all that tells integ-runner's snapshot check apart from its
deployment in each region, so leaving them out lets the deployment replay the check's synthesis
instead of synthesizing again.

The one deliberate replay: integ-tests-alpha stamps each assertion with the synthesis time
(`salt`) so that a redeploy of an existing stack reruns it. Runs deploy fresh stacks (the
integ command removes stacks left by an earlier `--no-clean` run first), so a replayed stamp
cannot skip an assertion.

Set `FRIEND_INTEG_SYNTH_CACHE=0` to always synthesize. Hits and misses are appended to
`synth-cache.log` in the cache folder, which the integ command summarizes.
"""

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock

from friend_integ import asset_zips
from friend_integ.paths import Layout
from friend_integ.waits import PATIENCE_ENV

FORMAT = b"friend-integ synth cache 1"
"""Bump to invalidate every entry when the key or the stored layout changes."""
KEEP_ENTRIES = 8
"""A run needs two or three entries; a few more keep a previous state warm."""
ZIPS_DIR = ".asset-zips"
"""The entries' asset zips (`asset_zips`), shared: an asset's id is its content's hash."""
CONTEXT_OVERFLOW_ENV = "CONTEXT_OVERFLOW_LOCATION_ENV"
OUTDIR_ENV = "CDK_OUTDIR"
DISABLE_ENV = "FRIEND_INTEG_SYNTH_CACHE"
_ENV_PREFIXES = ("CDK_", "JSII_", "PYTHON", "UV_")
_ENV_NAMES = ("AWS_REGION", "AWS_DEFAULT_REGION", "PATH", "VIRTUAL_ENV", PATIENCE_ENV)
_UNREAD_ENV = ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION", "CDK_INTEG_")
"""What the apps cannot read (see the module docstring): never part of the key."""
_SKIP_DIRS = {
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".venv",
    "node_modules",
    "cdk.out",
    "dist",
    "build",
}


def _is_output(relative: Path) -> bool:
    """Folders that runs write (snapshots, assemblies) are results, not inputs."""
    return any(
        part.endswith(".snapshot") or part.startswith("cdk-integ.out") for part in relative.parts
    )


def _walk(root: Path) -> Iterable[Path]:
    """Every file under `root` but tool caches and build output (used outside a git checkout)."""
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in _SKIP_DIRS)
        for name in sorted(files):
            if not name.endswith((".pyc", ".pyo")):
                yield Path(directory) / name


SOURCE_FOLDERS = ("packages", "releases", "deploy")
"""Folders of the workspace whose files can change a synthesis."""


def _workspace_sources(root: Path) -> list[Path]:
    """The files of `SOURCE_FOLDERS` that belong to the source: what git tracks or would track.

    Git's view (tracked plus untracked-but-not-ignored files) leaves out exactly the caches,
    virtual environments, `node_modules` and build output that `.gitignore` lists, and keeps
    everything a package build can read (sources, `pyproject.toml`, the README a wheel embeds).
    """
    git = shutil.which("git")
    try:
        if git is None:
            raise FileNotFoundError("git")
        listed = subprocess.run(  # noqa: S603 - fixed argument list, no shell
            [
                git,
                "-C",
                str(root),
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
                "--",
                *SOURCE_FOLDERS,
            ],
            capture_output=True,
            check=True,
        ).stdout.decode()
        paths = [root / name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        paths = [path for folder in SOURCE_FOLDERS for path in _walk(root / folder)]
    return [p for p in paths if p.is_file() and not _is_output(p.relative_to(root))]


def input_files(app: Path, layout: Layout) -> list[Path]:
    """Every file whose content can change what `app` synthesizes."""
    root = layout.workspace_root
    files = {root / name for name in ("pyproject.toml", "uv.lock", ".python-version")}
    files.update(_workspace_sources(root))
    files.update(app.resolve().parent.glob("*.py"))
    return sorted(f for f in files if f.is_file())


def relevant_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The part of the environment that can change a synthesis (see the module docstring)."""
    return {
        key: value
        for key, value in env.items()
        if key != OUTDIR_ENV
        and not key.startswith(_UNREAD_ENV)
        and (key.startswith(_ENV_PREFIXES) or key in _ENV_NAMES)
    }


def key_parts(app: Path, env: Mapping[str, str], layout: Layout) -> dict[str, str]:
    """Digests of the three kinds of input; the key is their combination.

    They are logged with every miss, so a miss can be traced to a changed file, a changed
    environment, or a changed interpreter.
    """
    root = layout.workspace_root

    def digest(items: Iterable[tuple[str, bytes]]) -> str:
        hasher = hashlib.sha256(FORMAT)
        for label, data in items:
            for part in (label.encode(), data):
                hasher.update(len(part).to_bytes(8, "big"))
                hasher.update(part)
        return hasher.hexdigest()

    def name(path: Path) -> str:
        """Workspace files by their place in it (the key holds in any checkout); others whole."""
        return str(path.relative_to(root) if path.is_relative_to(root) else path)

    files = [(f"file:{name(path)}", path.read_bytes()) for path in input_files(app, layout)]
    files.append(("app", name(app.resolve()).encode()))
    environment = [(f"env:{k}", v.encode()) for k, v in sorted(relevant_environment(env).items())]
    overflow = env.get(CONTEXT_OVERFLOW_ENV)
    if overflow:
        environment.append(("context-overflow", Path(overflow).read_bytes()))
    return {
        "files": digest(files),
        "env": digest(environment),
        "python": digest([("python", f"{sys.executable} {sys.version}".encode())]),
    }


def _combine(parts: Mapping[str, str]) -> str:
    return hashlib.sha256(
        " ".join(f"{k}={v}" for k, v in sorted(parts.items())).encode()
    ).hexdigest()


def cache_key(app: Path, env: Mapping[str, str], layout: Layout) -> str:
    return _combine(key_parts(app, env, layout))


def _log(
    cache_dir: Path, event: str, key: str, app: Path, seconds: float, *, why: str = ""
) -> None:
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    line = f"{stamp} {event} {key[:16]} {app.name} {seconds:.2f} {why}".rstrip() + "\n"
    with (cache_dir / "synth-cache.log").open("a") as log:
        log.write(line)


def _prune(cache_dir: Path) -> None:
    entries = sorted(
        (p for p in cache_dir.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for stale in entries[KEEP_ENTRIES:]:
        shutil.rmtree(stale, ignore_errors=True)
        (cache_dir / f".{stale.name}.lock").unlink(missing_ok=True)
    asset_zips.prune(cache_dir / ZIPS_DIR, entries[:KEEP_ENTRIES])


def _place(source: Path | str, destination: Path | str, *, link: bool) -> None:
    """Put `source` at `destination`, linked or copied.

    A file already at `destination` is replaced, never written through: the toolkit
    synthesizes into the same output folder for each stack it deploys, and what is there may
    be a link into the cache.
    """
    with contextlib.suppress(FileNotFoundError):
        os.unlink(destination)
    if link:
        try:
            os.link(source, destination)
            return
        except OSError:  # another file system, or one without links: a copy does the same
            pass
    shutil.copy2(source, destination)


def _replay(assembly: Path, outdir: Path, zips: Path) -> None:
    """Put a synthesized assembly into the toolkit's output folder, with its assets' zips.

    Asset folders (`asset.<hash>`, the bundled functions: tens of megabytes, replayed several
    times a run) are named by their content's hash and only ever read, so their files are
    linked; so are their zips, kept in the store `zips` (`asset_zips`) and put where the
    toolkit looks before it zips a folder. The assembly's own files are copied: integ-runner
    rewrites the manifest of the assembly it keeps as a snapshot in place, which must not
    reach the cache.
    """

    def put(source: str, destination: str) -> None:
        is_asset = Path(source).relative_to(assembly).parts[0].startswith("asset.")
        _place(source, destination, link=is_asset)

    shutil.copytree(assembly, outdir, dirs_exist_ok=True, copy_function=put)
    kept_zips = asset_zips.stored_zips(assembly, zips)
    toolkit_cache = outdir / asset_zips.CACHE_DIR
    if kept_zips:
        toolkit_cache.mkdir(exist_ok=True)
    for kept in kept_zips:
        _place(kept, toolkit_cache / kept.name, link=True)


def _synthesize(app: Path, env: Mapping[str, str]) -> int:
    return subprocess.run([sys.executable, str(app)], env=dict(env), check=False).returncode  # noqa: S603


def run(app: Path, env: Mapping[str, str], layout: Layout) -> int:
    """Fill `CDK_OUTDIR` from the cache, or synthesize `app` there and remember the result."""
    outdir_value = env.get(OUTDIR_ENV)
    if not outdir_value or env.get(DISABLE_ENV) == "0":
        return _synthesize(app, env)
    outdir = Path(outdir_value)
    cache_dir = layout.synth_cache_dir
    cache_dir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    parts = key_parts(app, env, layout)
    key = _combine(parts)
    entry = cache_dir / key
    # One synthesis per key: a second process asking for the same assembly (a test process
    # beside another, integ-runner's regions) waits for the first and replays its entry.
    with FileLock(cache_dir / f".{key}.lock"):
        if entry.is_dir():
            _replay(entry, outdir, cache_dir / ZIPS_DIR)
            os.utime(entry)
            _log(cache_dir, "HIT", key, app, time.monotonic() - start)
            return 0
        # Synthesize into an empty folder of our own: the toolkit's output folder may still
        # hold files of an earlier synthesis, which must not become part of this entry.
        staging = Path(tempfile.mkdtemp(prefix=".synth-", dir=cache_dir))
        try:
            assembly = staging / "assembly"
            code = _synthesize(app, {**env, OUTDIR_ENV: str(assembly)})
            if code != 0:
                return code
            _replay(assembly, outdir, cache_dir / ZIPS_DIR)
            assembly.rename(entry)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    why = " ".join(f"{name}={value[:8]}" for name, value in sorted(parts.items()))
    _log(cache_dir, "MISS", key, app, time.monotonic() - start, why=why)
    _prune(cache_dir)
    return 0


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python -m friend_integ.synth_cache APP.py", file=sys.stderr)
        return 2
    return run(Path(sys.argv[1]), os.environ, Layout())


if __name__ == "__main__":
    sys.exit(main())
