"""Which emulators this host can run: MiniStack built in, the others registered by the packages
that hold them.

A lane with a heavy environment of its own (LocalStack and its extension) lives in a workspace
package of its own, which depends on this interface and declares its :class:`Emulator` under the
``friend_integ.emulators`` entry point; nothing here imports it. An entry point is loaded only
when its emulator is asked for, so the commands start without importing every lane, and a
lane's package may import this interface freely.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from friend_target import DEFAULT_PORT

from friend_integ.emulators.base import Emulator, EmulatorError

ENTRY_POINT_GROUP = "friend_integ.emulators"

PACKAGED_APART = {"localstack": "friend-localstack"}
"""This workspace's lanes that a package of their own registers: the package to install."""


def _registered() -> Iterable[EntryPoint]:
    return entry_points(group=ENTRY_POINT_GROUP)


class EmulatorRegistry(Mapping[str, type[Emulator]]):
    """The emulators installed, by key: those built in and those registered by entry point."""

    def __init__(
        self,
        built_in: Iterable[type[Emulator]],
        registered: Callable[[], Iterable[EntryPoint]] = _registered,
    ) -> None:
        self._loaded = {emulator.key: emulator for emulator in built_in}
        self._registered = registered
        self._entries: dict[str, EntryPoint] | None = None

    def _entry_points(self) -> dict[str, EntryPoint]:
        if self._entries is None:
            self._entries = {
                entry.name: entry for entry in self._registered() if entry.name not in self._loaded
            }
        return self._entries

    def __getitem__(self, key: str) -> type[Emulator]:
        if key not in self._loaded:
            entry = self._entry_points()[key]
            emulator = entry.load()
            if not (isinstance(emulator, type) and issubclass(emulator, Emulator)):
                raise EmulatorError(
                    f"the emulator {key!r} ({entry.value}, entry point {ENTRY_POINT_GROUP}) "
                    "is not an Emulator"
                )
            self._loaded[key] = emulator
        return self._loaded[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded.keys() | self._entry_points().keys())

    def __len__(self) -> int:
        return len(self._loaded.keys() | self._entry_points().keys())

    def choices(self) -> list[str]:
        """Every name ``--emulator`` takes: the installed ones, and the lanes packaged apart
        (asking for one that is not installed says which package to install)."""
        return sorted(self.keys() | PACKAGED_APART.keys())

    def create(self, key: str, port: int = DEFAULT_PORT, state_dir: Path | None = None) -> Emulator:
        """The emulator called ``key`` on ``port``."""
        if key not in self:
            if key in PACKAGED_APART:
                raise EmulatorError(
                    f"the {key} emulator comes with the {PACKAGED_APART[key]} package, which is "
                    f"not installed: install it (uv sync --all-packages, as the README does)"
                )
            raise EmulatorError(f"no emulator {key!r}: choose one of {', '.join(self.choices())}")
        return self[key](port=port, state_dir=state_dir)
