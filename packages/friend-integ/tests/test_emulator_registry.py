"""The emulator registry: MiniStack built in, other lanes registered by the packages that hold
them (the ``friend_integ.emulators`` entry point), a clear error for a lane not installed."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest
from friend_integ.emulators import EMULATORS, EmulatorError, MiniStack
from friend_integ.emulators.registry import ENTRY_POINT_GROUP, EmulatorRegistry


def _entry(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


def test_an_emulator_a_package_registers_is_created_by_its_name() -> None:
    registry = EmulatorRegistry(
        [], lambda: [_entry("other", "friend_integ.emulators.ministack:MiniStack")]
    )
    assert sorted(registry) == ["other"]
    created = registry.create("other", port=4650)
    assert isinstance(created, MiniStack)
    assert created.port == 4650


def test_a_lane_whose_package_is_not_installed_names_the_package() -> None:
    registry = EmulatorRegistry([MiniStack], list)
    assert "localstack" not in registry
    assert "localstack" in registry.choices()
    with pytest.raises(EmulatorError, match=r"friend-localstack.*uv sync --all-packages"):
        registry.create("localstack")


def test_an_unknown_emulator_is_refused_with_the_known_ones() -> None:
    registry = EmulatorRegistry([MiniStack], list)
    with pytest.raises(EmulatorError, match=r"no emulator 'nimbus'.*localstack, ministack"):
        registry.create("nimbus")


def test_an_entry_point_that_is_no_emulator_is_refused() -> None:
    registry = EmulatorRegistry([], lambda: [_entry("odd", "friend_integ.emulators:create")])
    with pytest.raises(EmulatorError, match=r"'odd'.*not an Emulator"):
        registry.create("odd")


def test_the_workspace_registers_the_localstack_lane() -> None:
    """``uv sync --all-packages`` installs friend-localstack, whose entry point registers it."""
    assert sorted(EMULATORS) == ["localstack", "ministack"]
    assert EMULATORS["localstack"].key == "localstack"
