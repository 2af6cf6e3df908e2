"""Emulators the integ command can run on this host, behind one small interface.

- ``ministack`` (default): MiniStack, maintained, fast, in its own locked environment.
- ``localstack``: the last open-source LocalStack with this project's extension, from the
  ``friend-localstack`` package (registered by entry point, see :mod:`.registry`); it honours
  DynamoDB stream partial-batch failures and retry limits, which MiniStack does not.

Each installs once under ``.state/<name>/``, listens on 127.0.0.1 only, and stops only what it
started (see :class:`~friend_integ.emulators.base.Emulator`).
"""

from pathlib import Path

from friend_target import DEFAULT_PORT

from friend_integ.emulators.base import (
    Emulator,
    EmulatorError,
    PortInUseError,
    default_state_dir,
)
from friend_integ.emulators.health import health
from friend_integ.emulators.install import InstallError
from friend_integ.emulators.ministack import MiniStack
from friend_integ.emulators.registry import EmulatorRegistry

EMULATORS = EmulatorRegistry([MiniStack])
DEFAULT_EMULATOR = MiniStack.key


def create(name: str, port: int = DEFAULT_PORT, state_dir: Path | None = None) -> Emulator:
    """The emulator called ``name`` (a key of :data:`EMULATORS`) on ``port``."""
    return EMULATORS.create(name, port=port, state_dir=state_dir)


__all__ = [
    "DEFAULT_EMULATOR",
    "DEFAULT_PORT",
    "EMULATORS",
    "Emulator",
    "EmulatorError",
    "InstallError",
    "MiniStack",
    "PortInUseError",
    "create",
    "default_state_dir",
    "health",
]
