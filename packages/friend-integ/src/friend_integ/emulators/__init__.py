"""Emulators the integ command can run on this host, behind one small interface.

- ``ministack`` (default): MiniStack, maintained, fast, in its own locked environment.
- ``localstack``: the last open-source LocalStack with this project's extension; it honours
  DynamoDB stream partial-batch failures and retry limits, which MiniStack does not.

Both install once under ``.state/<name>/``, listen on 127.0.0.1 only, and stop only what they
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
from friend_integ.emulators.localstack import EmbeddedLocalStack
from friend_integ.emulators.ministack import MiniStack

EMULATORS: dict[str, type[Emulator]] = {
    MiniStack.key: MiniStack,
    EmbeddedLocalStack.key: EmbeddedLocalStack,
}
DEFAULT_EMULATOR = MiniStack.key


def create(name: str, port: int = DEFAULT_PORT, state_dir: Path | None = None) -> Emulator:
    """The emulator called ``name`` (a key of :data:`EMULATORS`) on ``port``."""
    return EMULATORS[name](port=port, state_dir=state_dir)


__all__ = [
    "DEFAULT_EMULATOR",
    "DEFAULT_PORT",
    "EMULATORS",
    "EmbeddedLocalStack",
    "Emulator",
    "EmulatorError",
    "InstallError",
    "MiniStack",
    "PortInUseError",
    "create",
    "default_state_dir",
    "health",
]
