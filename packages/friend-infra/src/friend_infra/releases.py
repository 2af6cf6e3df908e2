"""Releases and pins: which code each function runs, and whether the mix is safe to deploy.

**Release store** (``releases/`` at the workspace root, committed, so a fresh clone has it): one
immutable folder per released version of a workspace package,
``releases/<package>/<version>/`` holding

- the wheel, built reproducibly (``scripts/release.py``);
- ``requirements.txt``: its third-party runtime dependencies as ``uv export`` pinned them, with
  hashes, less what the Lambda runtime provides;
- ``metadata.json``: version, the workspace packages it was released with (``requires``), and
  its contract (the table contract identifier; for friend-handlers also the stream filters,
  handler names and environment variable names, see ``friend_handlers.contract``);
- ``SHA256SUMS`` over the other files (``sha256sum -c`` format), checked before any use.

Tags (``<package>-v<version>``) are a convenience for people; nothing reads them.

**Deployment manifest** (``deploy/functions.toml``): each function's pin, a released
friend-handlers version or ``"workspace"`` (the working tree). The CDK app deploys what it pins;
tests and the integration test build from the working tree unless they pass pins.

**Compatibility**: before anything is bundled the stack checks that every pinned release
matches what the stack wires (table, stream filters, environment) and so each other, and
refuses a mix that does not, naming every disagreement.

This module only reads and writes files: no CDK, no subprocess, so the pin command and the
release command use it without starting jsii.
"""

import hashlib
import json
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HANDLER_PACKAGE = "friend-handlers"
"""The workspace package whose releases the functions are pinned to."""
MODELS_PACKAGE = "friend-models"
"""The table's definition, released on its own and required by every handler release."""
STORE_DIR = "releases"
"""The release store, relative to the workspace root."""
MANIFEST_PATH = "deploy/functions.toml"
"""The deployment manifest, relative to the workspace root."""
WORKSPACE = "workspace"
"""A pin to the working tree instead of a release."""
WORKSPACE_LABEL = "+workspace"
"""Appended to a package's version when a bundle is built from the working tree (PEP 440 local
version label): such a build reports ``0.1.0+workspace``, never passing for release 0.1.0."""

CHECKSUMS = "SHA256SUMS"
METADATA = "metadata.json"
REQUIREMENTS = "requirements.txt"
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_MANIFEST_TABLE = "functions"


class ReleaseError(RuntimeError):
    """A release, the store or the manifest is missing, damaged or refused; the message says
    which and why."""


class IncompatibleReleasesError(ReleaseError):
    """The pinned releases disagree with the stack or with each other."""


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


# The deployment manifest ------------------------------------------------------------------------


def read_manifest(path: Path, handlers: Iterable[str]) -> dict[str, str]:
    """Function (handler name) -> pin, for exactly ``handlers``: every function is pinned, and a
    name the stack does not know is refused (a typo must not leave a function unpinned)."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ReleaseError(f"deployment manifest {path}: {error}") from error
    pins = data.get(_MANIFEST_TABLE)
    if not isinstance(pins, dict):
        raise ReleaseError(f"deployment manifest {path}: no [{_MANIFEST_TABLE}] table")
    expected = set(handlers)
    if set(pins) != expected:
        missing, unknown = sorted(expected - set(pins)), sorted(set(pins) - expected)
        raise ReleaseError(
            f"deployment manifest {path}: every function needs one pin "
            f"(missing {missing}, unknown {unknown})"
        )
    for handler, pin in pins.items():
        if not isinstance(pin, str) or not (pin == WORKSPACE or is_version(pin)):
            raise ReleaseError(
                f"deployment manifest {path}: {handler} = {pin!r}; "
                f'a released version ("0.1.0") or "{WORKSPACE}"'
            )
    return {handler: pins[handler] for handler in sorted(pins)}


def write_pin(path: Path, handler: str, pin: str) -> None:
    """Change one function's pin in place, keeping the file's comments and layout."""
    text = path.read_text()
    line = re.compile(rf'^(?P<key>{re.escape(handler)}\s*=\s*)"[^"]*"', re.MULTILINE)
    changed, count = line.subn(lambda match: f'{match.group("key")}"{pin}"', text)
    if count != 1:
        raise ReleaseError(f"deployment manifest {path}: no single line pinning {handler}")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(changed)
    os.replace(tmp, path)


# Compatibility ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wiring:
    """What the stack wires up, to be matched by every release it deploys."""

    table_contract: str
    """The identifier of the table the stack builds (from the workspace's friend-models)."""
    stream_filters: Mapping[str, Any]
    """Stream handler -> the filter pattern the stack puts on its mapping."""
    environment: Mapping[str, frozenset[str]]
    """Function -> the environment variable names the stack sets on it."""


@dataclass(frozen=True)
class Pinned:
    """The code one function runs: its version and contract, and the release (None for the
    working tree)."""

    version: str
    contract: Mapping[str, Any]
    requires: Mapping[str, str]
    """Workspace packages it runs with (name -> version), friend-models among them."""
    release: Release | None = None

    @property
    def label(self) -> str:
        return f"{HANDLER_PACKAGE} {self.version}"

    @property
    def with_models(self) -> str:
        models = self.requires.get(MODELS_PACKAGE, "?")
        return f"{self.label} (with {MODELS_PACKAGE} {models})"

    def entry_point(self, handler: str) -> str:
        """The Lambda ``handler`` setting that runs ``handler`` in this code. Releases up to
        0.2.0 record no entry points: their modules sit at the package's top level."""
        recorded = self.contract.get("entry_points", {})
        return str(recorded.get(handler, f"friend_handlers.{handler}.handler"))


def pinned_release(release: Release) -> Pinned:
    """A function pinned to ``release``."""
    return Pinned(release.version, release.contract, release.requires, release)


def workspace_version(root: Path, package: str) -> str:
    """The version a working-tree build of ``package`` reports: its own, labelled."""
    pyproject = root / "packages" / package / "pyproject.toml"
    return str(tomllib.loads(pyproject.read_text())["project"]["version"]) + WORKSPACE_LABEL


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value))


def incompatibilities(pins: Mapping[str, Pinned], wiring: Wiring) -> list[str]:
    """Every reason the pinned mix cannot be deployed by this stack (empty: it can).

    Each release is held against the stack, which makes them agree with each other too: the
    same table contract, the same stream filter patterns (a front that writes rows and the
    stream functions whose filters select them must mean the same states), and for its own
    function the handler and every environment variable it needs.
    """
    reasons: list[str] = []
    filters = _plain(wiring.stream_filters)
    functions_of: dict[str, list[str]] = {}
    for function, pinned in sorted(pins.items()):
        functions_of.setdefault(pinned.label, []).append(function)
    for pinned in {p.label: p for p in pins.values()}.values():
        contract = pinned.contract
        who = f"{pinned.with_models}, pinned by {', '.join(functions_of[pinned.label])},"
        if contract.get("table_contract") != wiring.table_contract:
            reasons.append(
                f"{who} expects table contract {contract.get('table_contract')}, but the stack "
                f"builds the table as {wiring.table_contract}: its {MODELS_PACKAGE} defines "
                "another table"
            )
        theirs = _plain(contract.get("stream_filters") or {})
        if theirs != filters:
            changed = sorted(
                n for n in set(filters) | set(theirs) if filters.get(n) != theirs.get(n)
            )
            reasons.append(
                f"{who} has other stream filter patterns than the stack wires "
                f"(differ: {', '.join(changed)})"
            )
    for function, pinned in sorted(pins.items()):
        contract = pinned.contract
        if function not in contract.get("handlers", ()):
            reasons.append(f"{function} is pinned to {pinned.label}, which has no such handler")
            continue
        needed = set(contract.get("environment", {}).get(function, ()))
        missing = needed - wiring.environment.get(function, frozenset())
        if missing:
            reasons.append(
                f"{function} on {pinned.label} needs environment {sorted(missing)}, "
                "which the stack does not set"
            )
    return reasons


def check_compatible(pins: Mapping[str, Pinned], wiring: Wiring) -> None:
    """Raise :class:`IncompatibleReleasesError` listing every incompatibility, if any."""
    reasons = incompatibilities(pins, wiring)
    if reasons:
        raise IncompatibleReleasesError(
            "the pinned releases cannot be deployed together:\n  - " + "\n  - ".join(reasons)
        )
