"""Embedded LocalStack: open-source LocalStack on the host, in its own environment, no Docker."""

from friend_integ.localstack.embedded import (
    DEFAULT_PORT,
    EmbeddedLocalStack,
    LocalStackError,
    PortInUseError,
    default_state_dir,
    health,
)

__all__ = [
    "DEFAULT_PORT",
    "EmbeddedLocalStack",
    "LocalStackError",
    "PortInUseError",
    "default_state_dir",
    "health",
]
