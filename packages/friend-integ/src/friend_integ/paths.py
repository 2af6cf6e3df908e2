"""Where the integ command finds the workspace, its tests, its tools and its state.

Everything is derived from this package's own location in the source tree (the workspace
installs it editable), so the command works from any current directory.
"""

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from friend_infra.workspace import workspace_root

PACKAGE_DIR = Path(__file__).resolve().parents[2]
"""`packages/friend-integ`: holds `package.json`, the integ tests and `node_modules`."""


@dataclass(frozen=True)
class Layout:
    """The folders one integ run works with."""

    package_dir: Path = PACKAGE_DIR
    tests: Path | None = None
    """Another folder of integ tests than the package's own `integ/` (`integ --directory`)."""

    @cached_property
    def workspace_root(self) -> Path:
        """The uv workspace root above this package (found as friend-infra finds it)."""
        return workspace_root(self.package_dir)

    @property
    def tests_dir(self) -> Path:
        """The integ-runner discovery root: `integ_*.py` and their `.snapshot` folders."""
        return self.tests if self.tests is not None else self.package_dir / "integ"

    @property
    def state_root(self) -> Path:
        """The git-ignored folder under which every tool of the workspace keeps its state."""
        return self.workspace_root / ".state"

    @property
    def state_dir(self) -> Path:
        """Git-ignored runtime state of the integ command (logs, caches)."""
        return self.state_root / "integ"

    @property
    def synth_cache_dir(self) -> Path:
        return self.state_dir / "synth-cache"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_lock(self) -> Path:
        """The lock a run holds on its folder of tests: integ-runner writes its output folders
        and the snapshots there, so two runs on one folder would overwrite each other's."""
        name = hashlib.sha256(str(self.tests_dir.resolve()).encode()).hexdigest()[:16]
        return self.state_dir / "runs" / f"{name}.lock"
