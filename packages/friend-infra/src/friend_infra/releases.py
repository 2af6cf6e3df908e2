"""The release store: every released version of a workspace package, immutable and hash-checked.

The store (``releases/`` at the workspace root, committed, so a fresh clone has it) holds one
immutable folder per released version of a workspace package, ``releases/<package>/<version>/``
holding

- the wheel, built reproducibly (``scripts/release.py``);
- ``requirements.txt``: its third-party runtime dependencies as ``uv export`` pinned them, with
  hashes, less what the Lambda runtime provides;
- ``metadata.json``: version, the workspace packages it was released with (``requires``), and
  its contract (the table contract identifier; for friend-handlers also the stream filters,
  handler names and environment variable names, see ``friend_handlers.contract``);
- ``SHA256SUMS`` over the other files (``sha256sum -c`` format), checked before any use.

Tags (``<package>-v<version>``) are a convenience for people; nothing reads them. Which release
each function runs is the pins' business (:mod:`friend_infra.pins`), and whether a mix of them
may be deployed together the compatibility check's (:mod:`friend_infra.compatibility`).

This module only reads and writes files: no CDK, no subprocess, so the pin command and the
release command use it without starting jsii.
"""

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STORE_DIR = "releases"
"""The release store, relative to the workspace root."""

CHECKSUMS = "SHA256SUMS"
METADATA = "metadata.json"
REQUIREMENTS = "requirements.txt"
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


class ReleaseError(RuntimeError):
    """A release, the store or the manifest is missing, damaged or refused; the message says
    which and why."""


def is_version(text: str) -> bool:
    """A plain ``major.minor.patch`` version, the only kind the release command cuts."""
    return bool(_VERSION.match(text))


def version_key(version: str) -> tuple[int, ...]:
    """Order of released versions (numeric, so 0.10.0 follows 0.9.0)."""
    return tuple(int(part) for part in version.split("."))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checksums_text(folder: Path) -> str:
    """``SHA256SUMS`` for every other file of ``folder``, sorted by name."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name != CHECKSUMS)
    return "".join(f"{sha256_of(p)}  {p.name}\n" for p in files)


def _read_checksums(folder: Path) -> dict[str, str]:
    listed: dict[str, str] = {}
    for line in (folder / CHECKSUMS).read_text().splitlines():
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name:  # a sha256 in hex
            raise ReleaseError(f"{folder / CHECKSUMS}: malformed line {line!r}")
        listed[name] = digest
    return listed


@dataclass(frozen=True)
class Release:
    """One released version of a workspace package, checked against its ``SHA256SUMS``."""

    package: str
    version: str
    folder: Path
    metadata: Mapping[str, Any]
    checksums: Mapping[str, str]

    @property
    def wheel(self) -> Path:
        return self.folder / str(self.metadata["wheel"])

    @property
    def requirements(self) -> Path:
        return self.folder / REQUIREMENTS

    @property
    def requires(self) -> Mapping[str, str]:
        """Workspace packages (name -> released version) this release was cut with."""
        return dict(self.metadata.get("requires", {}))

    @property
    def contract(self) -> Mapping[str, Any]:
        return dict(self.metadata.get("contract", {}))

    @property
    def tag(self) -> str:
        return f"{self.package}-v{self.version}"


def verify(folder: Path) -> dict[str, str]:
    """The checksums of a release folder, after checking every file against them.

    Refuses a missing or extra file as firmly as a changed one: a release is exactly what its
    ``SHA256SUMS`` lists.
    """
    if not (folder / CHECKSUMS).is_file():
        raise ReleaseError(f"{folder}: no {CHECKSUMS}; not a release")
    listed = _read_checksums(folder)
    present = {p.name for p in folder.iterdir() if p.is_file() and p.name != CHECKSUMS}
    if present != set(listed):
        missing, extra = sorted(set(listed) - present), sorted(present - set(listed))
        raise ReleaseError(
            f"{folder}: files differ from {CHECKSUMS} (missing {missing}, extra {extra})"
        )
    for name, digest in listed.items():
        actual = sha256_of(folder / name)
        if actual != digest:
            raise ReleaseError(
                f"{folder / name}: sha256 {actual} does not match {CHECKSUMS} ({digest})"
            )
    return listed


class ReleaseStore:
    """The release store: a folder of ``<package>/<version>/`` release folders."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def versions(self, package: str) -> list[str]:
        """Released versions of ``package``, oldest first."""
        base = self.folder / package
        if not base.is_dir():
            return []
        return sorted(
            (p.name for p in base.iterdir() if p.is_dir() and is_version(p.name)), key=version_key
        )

    def has(self, package: str, version: str) -> bool:
        return (self.folder / package / version).is_dir()

    def get(self, package: str, version: str) -> Release:
        """The release, verified; a clear error when it is not in the store or damaged."""
        folder = self.folder / package / version
        if not folder.is_dir():
            known = ", ".join(self.versions(package)) or "none"
            raise ReleaseError(
                f"{package} {version} is not in the release store {self.folder} "
                f"(released: {known}); cut it with scripts/release.py {package}"
            )
        checksums = verify(folder)
        metadata = json.loads((folder / METADATA).read_text())
        if (metadata.get("package"), metadata.get("version")) != (package, version):
            raise ReleaseError(f"{folder / METADATA} describes another release")
        return Release(package, version, folder, metadata, checksums)

    def closure(self, release: Release) -> list[Release]:
        """The release and every workspace package release it requires, itself first."""
        found = [release]
        for package, version in sorted(release.requires.items()):
            for each in self.closure(self.get(package, version)):
                if each not in found:
                    found.append(each)
        return found

    def add(self, package: str, version: str, staged: Path) -> Release:
        """Move a fully written release folder ``staged`` into the store, once.

        ``staged`` must be on the store's file system and hold the files but ``SHA256SUMS``,
        which is written here. The rename is atomic: the store never holds half a release,
        and an existing version is never replaced.
        """
        if not is_version(version):
            raise ReleaseError(f"{version!r} is not a major.minor.patch version")
        target = self.folder / package / version
        if target.exists():
            raise ReleaseError(
                f"{package} {version} is already released ({target}); releases are immutable: "
                "bump the version instead"
            )
        (staged / CHECKSUMS).write_text(checksums_text(staged))
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            staged.rename(target)
        except OSError as error:  # lost a race: someone released the same version just now
            raise ReleaseError(f"{package} {version} could not be stored: {error}") from error
        return self.get(package, version)
