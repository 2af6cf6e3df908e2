"""Several friend-handlers releases' real code in one process, each with its own friend-models.

In a deployment every function runs its own bundle. Here each release's wheels (the
friend-handlers wheel from the store and the friend-models wheel it requires) are extracted into
a folder of their own, and the release's modules live in a namespace of their own: while it is
active, every ``friend_handlers*`` and ``friend_models*`` entry of ``sys.modules`` is that
release's and its folder comes first on ``sys.path``; otherwise the working tree's are in place.
A release is active around its imports AND around each invocation, so an import made inside a
handler call finds its own release too.

In-process rather than a subprocess per release against a moto server: moto's in-process mock
(as every other test here uses) needs no server, no extra dependency and no wire protocol for
events and answers, and the only shared state that matters, which code a module name means, is
exactly what is swapped. Third-party libraries (Powertools, PynamoDB, pydantic) are the
workspace's; the releases pin the same versions (``requirements.txt``), which a test checks.
"""

import importlib
import sys
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from friend_infra.pins import HANDLER_PACKAGE, Pinned, pinned_release
from friend_infra.releases import ReleaseStore

type Handler = Callable[[dict[str, Any], Any], Any]

OWN_PACKAGES = ("friend_handlers", "friend_models")
"""The top-level packages a release brings; everything else is shared."""


def _own(name: str) -> bool:
    return name.partition(".")[0] in OWN_PACKAGES


def _take_own_modules() -> dict[str, ModuleType]:
    return {name: sys.modules.pop(name) for name in list(sys.modules) if _own(name)}


class ReleasedCode:
    """One friend-handlers release, importable beside the working tree and other releases."""

    def __init__(self, store: ReleaseStore, version: str, folder: Path) -> None:
        release = store.get(HANDLER_PACKAGE, version)
        for each in store.closure(release):  # friend-handlers and the friend-models it requires
            with zipfile.ZipFile(each.wheel) as wheel:
                wheel.extractall(folder)
        self.pinned: Pinned = pinned_release(release)
        self.folder = folder
        self._modules: dict[str, ModuleType] = {}

    @contextmanager
    def active(self) -> Iterator[None]:
        """This release's modules under their own names, the working tree's (or another
        release's) put back afterwards."""
        others = _take_own_modules()
        sys.modules.update(self._modules)
        sys.path.insert(0, str(self.folder))
        try:
            yield
        finally:
            sys.path.remove(str(self.folder))
            self._modules = _take_own_modules()
            sys.modules.update(others)

    def handler(self, function: str) -> Handler:
        """``function``'s entry point from this release, run with this release active."""
        module_name, _, attribute = self.pinned.entry_point(function).rpartition(".")
        with self.active():
            module = importlib.import_module(module_name)
        source = Path(str(module.__file__)).resolve()
        assert source.is_relative_to(self.folder.resolve()), f"{module_name} from {source}"
        loaded: Handler = getattr(module, attribute)

        def invoke(event: dict[str, Any], context: Any) -> Any:
            with self.active():
                return loaded(event, context)

        return invoke


def working_tree_handler(pinned: Pinned, function: str) -> Handler:
    """``function``'s entry point from the working tree (the modules the tests import)."""
    module_name, _, attribute = pinned.entry_point(function).rpartition(".")
    handler: Handler = getattr(importlib.import_module(module_name), attribute)
    return handler
