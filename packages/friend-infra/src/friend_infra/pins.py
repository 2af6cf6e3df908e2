"""Pins: which code each function runs, a friend-handlers release or the working tree.

The deployment manifest (``deploy/functions.toml``) pins every function to a released
friend-handlers version or to ``"workspace"`` (the working tree). The CDK app deploys what it
pins; tests and the integration test build from the working tree unless they pass pins. A pin is
resolved to a :class:`Pinned` before anything is built: a release verified in the store (with
the contract it was released with), or the working tree (with the contract the stack imports),
so the compatibility check (:mod:`friend_infra.compatibility`) and the functions read one
description whichever it is.

Like the release store, this module only reads and writes files: the pin command uses it
without starting jsii.
"""

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from friend_handlers import contract
from friend_handlers.filters import HANDLERS

from friend_infra.releases import Release, ReleaseError, ReleaseStore, is_version
from friend_infra.workspace import workspace_version

HANDLER_PACKAGE = "friend-handlers"
"""The workspace package whose releases the functions are pinned to."""
MODELS_PACKAGE = "friend-models"
"""The table's definition, released on its own and required by every handler release."""
MANIFEST_PATH = "deploy/functions.toml"
"""The deployment manifest, relative to the workspace root."""
WORKSPACE = "workspace"
"""A pin to the working tree instead of a release."""

_MANIFEST_TABLE = "functions"


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


def resolve_pins(store: ReleaseStore, root: Path, pins: Mapping[str, str]) -> dict[str, Pinned]:
    """What each function runs: its pin (the working tree when it has none), resolved."""
    unknown = sorted(set(pins) - set(HANDLERS))
    if unknown:
        raise ValueError(f"pins for unknown functions {unknown}; the functions: {HANDLERS}")
    return {handler: _resolve(store, root, pins.get(handler, WORKSPACE)) for handler in HANDLERS}


def _resolve(store: ReleaseStore, root: Path, pin: str) -> Pinned:
    """What a function pinned to ``pin`` runs: a verified release, or the working tree (whose
    contract is the one the stack imports)."""
    if pin != WORKSPACE:
        return pinned_release(store.get(HANDLER_PACKAGE, pin))
    return Pinned(
        version=workspace_version(root, HANDLER_PACKAGE),
        contract=contract.describe(),
        requires={MODELS_PACKAGE: workspace_version(root, MODELS_PACKAGE)},
    )
