"""Cut a release of workspace packages into the release store, with one command.

One sequence of refusals and steps, read top to bottom (kept in one file on purpose, a little
over 300 lines); the store it writes and its checks are :mod:`friend_infra.releases`, the
reproducible wheel build is uv's.

    uv run --package friend-infra python scripts/release.py friend-models friend-handlers
    uv run --package friend-infra python scripts/release.py friend-handlers --bump minor

For each package, in the order given (a package's workspace dependencies first):

1. refuse unless the package and its workspace dependencies are committed (a release must be
   rebuildable from its commit) and every workspace dependency's current version is released
   with exactly the code of the working tree (its wheel, rebuilt, matches the stored one);
2. ``uv version --bump`` (without ``--bump``: release the current version, if not yet released);
   refuse a version the store already holds;
3. ``uv build --wheel`` with hatchling pinned (build constraints) and ``SOURCE_DATE_EPOCH`` from
   the last commit, so the wheel rebuilds bit for bit; ``uv export --frozen --no-emit-workspace``
   for the hash-pinned runtime requirements, less what the Lambda runtime provides;
4. ``metadata.json``: version, the workspace package releases it requires, build inputs, and the
   package's contract (``<module>.contract.describe()``, imported from the built wheel);
5. store ``releases/<package>/<version>/`` with ``SHA256SUMS``, atomically and once;
6. prepend the changelog entry (git-cliff: the commits touching ``packages/<package>`` since the
   commit that stored its previous release; the store, not tags, says where that was);
7. commit, and tag ``<package>-v<version>`` (``--no-commit``, ``--no-tag`` to skip).

``--index-url URL`` also publishes the wheel there (``uv publish``; credentials from uv's own
``UV_PUBLISH_*`` variables) for teams with a private index; the store stays the record.
Run from the workspace root (the current folder's workspace is released).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from friend_infra.bundling import RUNTIME_PROVIDED
from friend_infra.releases import (
    CHECKSUMS,
    METADATA,
    REQUIREMENTS,
    STORE_DIR,
    ReleaseError,
    ReleaseStore,
    sha256_of,
)
from friend_infra.workspace import uv_executable, workspace_root

BUMPS = ("major", "minor", "patch")
CHANGELOG = "CHANGELOG.md"
BUILD_BACKEND = "hatchling"


class Refused(RuntimeError):
    """The release cannot be cut; the message says why and what to do."""


@dataclass(frozen=True)
class Workspace:
    root: Path
    store: ReleaseStore

    def run(self, *args: str, env: dict[str, str] | None = None) -> str:
        clean = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        result = subprocess.run(  # noqa: S603 - fixed tools, no shell
            list(args),
            cwd=self.root,
            env={**clean, **(env or {})},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise Refused(f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result.stdout

    def uv(self, *args: str, env: dict[str, str] | None = None) -> str:
        return self.run(uv_executable(), *args, env=env)

    def git(self, *args: str) -> str:
        return self.run("git", *args)

    def folder(self, package: str) -> Path:
        return self.root / "packages" / package

    def version(self, package: str, *bump: str) -> str:
        return self.uv("version", "--short", "--package", package, *bump).strip()

    def dependencies(self, package: str) -> list[str]:
        """The workspace packages ``package`` needs at run time (its closure, itself left out)."""
        exported = self.uv(
            "export", "--frozen", "--package", package, "--no-dev", "--no-hashes", "--no-header"
        )
        members = [
            Path(line.removeprefix("-e ").strip()).name
            for line in exported.splitlines()
            if line.startswith("-e ")
        ]
        return sorted(m for m in members if m != package)

    def requirements(self, package: str) -> str:
        """Third-party runtime requirements, pinned with hashes, as the lock has them."""
        return self.uv(
            "export",
            "--frozen",
            "--package",
            package,
            "--no-dev",
            "--no-emit-workspace",
            "--format",
            "requirements.txt",
            "--no-header",
            "--no-annotate",
            *(arg for name in RUNTIME_PROVIDED for arg in ("--no-emit-package", name)),
        )

    def build(self, package: str, out: Path, epoch: int) -> Path:
        """The package's wheel, built reproducibly into ``out``."""
        out.mkdir(parents=True, exist_ok=True)
        self.uv(
            "build",
            "--wheel",
            "--quiet",
            "--package",
            package,
            "--out-dir",
            str(out),
            env={"SOURCE_DATE_EPOCH": str(epoch)},
        )
        (wheel,) = out.glob("*.whl")
        return wheel


def check_committed(ws: Workspace, paths: list[str]) -> None:
    dirty = ws.git("status", "--porcelain", "--", *paths).strip()
    if dirty:
        raise Refused("uncommitted changes; a release is built from committed code only:\n" + dirty)


def check_dependency_released(ws: Workspace, dependency: str, scratch: Path) -> str:
    """The released version of ``dependency`` that the working tree holds, or a refusal."""
    version = ws.version(dependency)
    if not ws.store.has(dependency, version):
        raise Refused(
            f"{dependency} {version} is not released; release it first "
            f"(scripts/release.py {dependency}, or name both packages in one command)"
        )
    released = ws.store.get(dependency, version)
    epoch = int(released.metadata["build"]["source_date_epoch"])
    rebuilt = ws.build(dependency, scratch / f"check-{dependency}", epoch)
    if sha256_of(rebuilt) != released.checksums[released.wheel.name]:
        raise Refused(
            f"{dependency} has changed since its release {version}; release it first "
            f"(scripts/release.py {dependency} --bump patch|minor|major)"
        )
    return version


def contract_of(ws: Workspace, package: str, wheels: list[Path]) -> dict[str, Any]:
    """``<module>.contract.describe()`` imported from the built wheels, or {} when the package
    has no contract module."""
    module = package.replace("-", "_")
    script = (
        "import importlib.util, json, sys\n"
        f"sys.path[:0] = {[str(w) for w in wheels]!r}\n"
        f"if importlib.util.find_spec({module + '.contract'!r}) is None:\n"
        "    print('{}')\n"
        "else:\n"
        f"    from {module}.contract import describe\n"
        "    print(json.dumps(describe(), sort_keys=True))\n"
    )
    found: dict[str, Any] = json.loads(ws.run(sys.executable, "-I", "-B", "-c", script))
    return found


def previous_release_commit(ws: Workspace, package: str) -> str | None:
    """The commit that stored the newest release of ``package``: where its changelog resumes."""
    versions = ws.store.versions(package)
    if not versions:
        return None
    path = f"{STORE_DIR}/{package}/{versions[-1]}/{CHECKSUMS}"
    commit = ws.git("log", "-1", "--format=%H", "--diff-filter=A", "--", path).strip()
    return commit or None


def changelog_entry(ws: Workspace, package: str, version: str, since: str | None) -> str:
    args = [
        "--config",
        str(ws.root / "cliff.toml"),
        "--include-path",
        f"packages/{package}/**",
        "--tag-pattern",
        f"^{package}-v[0-9]",
        "--tag",
        f"{package}-v{version}",
        "--strip",
        "all",
    ]
    if since is not None:
        args.append(f"{since}..HEAD")
    entry = ws.run(str(Path(sys.executable).with_name("git-cliff")), *args).strip()
    return entry or f"## {version}\n\n- No changes to this package since its previous release."


def prepend_changelog(path: Path, package: str, entry: str) -> None:
    """Put ``entry`` above the earlier entries (below the file's title)."""
    title = (
        f"# Changelog of {package}\n\n"
        "Written by `scripts/release.py` from the commits touching this package.\n"
    )
    text = path.read_text() if path.exists() else title
    head, marker, rest = text.partition("\n## ")
    path.write_text(f"{head.rstrip()}\n\n{entry.strip()}\n" + (f"\n## {rest}" if marker else ""))


def release(
    ws: Workspace,
    package: str,
    bump: str | None,
    *,
    commit: bool,
    tag: bool,
    index_url: str | None,
) -> str:
    if not ws.folder(package).is_dir():
        raise Refused(f"{package} is not a workspace package")
    dependencies = ws.dependencies(package)
    check_committed(
        ws,
        [
            "uv.lock",
            "pyproject.toml",
            STORE_DIR,
            *(f"packages/{name}" for name in (package, *dependencies)),
        ],
    )
    version = ws.version(package, "--bump", bump, "--dry-run") if bump else ws.version(package)
    if ws.store.has(package, version):
        raise Refused(
            f"{package} {version} is already released; releases are immutable "
            f"(pass --bump to release a new version)"
        )
    with tempfile.TemporaryDirectory(dir=ws.root, prefix=".release-") as scratch_name:
        scratch = Path(scratch_name)
        requires = {name: check_dependency_released(ws, name, scratch) for name in dependencies}
        if bump:
            ws.uv("version", "--bump", bump, "--package", package, "--no-sync")
        epoch = int(ws.git("log", "-1", "--format=%ct").strip())
        staged = scratch / "release"
        staged.mkdir()
        # uv writes a .gitignore of "*" beside what it builds: build aside, keep the wheel only.
        built = ws.build(package, scratch / "wheel", epoch)
        wheel = built.rename(staged / built.name)
        (staged / REQUIREMENTS).write_text(ws.requirements(package))
        wheels = [wheel] + [ws.store.get(n, v).wheel for n, v in sorted(requires.items())]
        metadata = {
            "package": package,
            "version": version,
            "tag": f"{package}-v{version}",
            "wheel": wheel.name,
            "requires": requires,
            "contract": contract_of(ws, package, wheels),
            "build": {
                "backend": f"{BUILD_BACKEND}=={_build_backend_version(ws, package)}",
                "source_date_epoch": epoch,
                "uv": ws.uv("--version").strip(),
            },
        }
        (staged / METADATA).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
        since = previous_release_commit(ws, package)
        stored = ws.store.add(package, version, staged)
    prepend_changelog(
        ws.folder(package) / CHANGELOG, package, changelog_entry(ws, package, version, since)
    )
    if index_url:
        ws.uv("publish", "--publish-url", index_url, str(stored.wheel))
    if commit:
        ws.git(
            "add",
            "--",
            "uv.lock",
            f"packages/{package}/pyproject.toml",
            f"packages/{package}/{CHANGELOG}",
            str(stored.folder.relative_to(ws.root)),
        )
        ws.git("commit", "--quiet", "-m", f"Release {package} {version}")
        if tag:
            ws.git("tag", "-a", stored.tag, "-m", f"{package} {version}")
    return version


def _build_backend_version(ws: Workspace, package: str) -> str:
    """The exact backend version the package's build-system pins (``hatchling==X``)."""
    import tomllib  # noqa: PLC0415

    pyproject = tomllib.loads((ws.folder(package) / "pyproject.toml").read_text())
    for requirement in pyproject["build-system"]["requires"]:
        name, _, pinned = requirement.partition("==")
        if name.strip() == BUILD_BACKEND and pinned:
            return str(pinned).strip()
    raise Refused(f"{package}: build-system must pin {BUILD_BACKEND}==<version> exactly")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("packages", nargs="+", help="workspace packages, dependencies first")
    parser.add_argument("--bump", choices=BUMPS, help="bump the version first")
    parser.add_argument("--index-url", help="also publish the wheel to this package index")
    parser.add_argument("--no-commit", action="store_true", help="leave the changes uncommitted")
    parser.add_argument("--no-tag", action="store_true", help="do not tag the release commit")
    args = parser.parse_args(argv)
    root = workspace_root(Path.cwd())
    ws = Workspace(root, ReleaseStore(root / STORE_DIR))
    for package in args.packages:
        try:
            version = release(
                ws,
                package,
                args.bump,
                commit=not args.no_commit,
                tag=not (args.no_tag or args.no_commit),
                index_url=args.index_url,
            )
        except (Refused, ReleaseError) as error:
            sys.exit(f"release of {package} refused: {error}")
        print(f"released {package} {version} -> {STORE_DIR}/{package}/{version}/")


if __name__ == "__main__":
    main()
