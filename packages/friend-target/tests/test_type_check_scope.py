"""The type check reads every CDK module the sources use, and only those.

`aws_cdk` imports all of its few hundred service modules, and reading them is most of what the
type check costs; the root `pyproject.toml` therefore skips `aws_cdk.*` and names the modules
the sources use. A module left off that list would be typed `Any` without a word, so this
test reads the sources' imports and fails on any CDK module the list lacks (and on any it
names that no source imports any more).
"""

import ast
import importlib.util
import re
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
CDK = "aws_cdk"


def _mypy_settings() -> dict[str, Any]:
    settings: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    return settings


def _checked_files(settings: dict[str, Any]) -> list[Path]:
    """The files mypy checks: those under `files`, less those its `exclude` regexes match."""
    files = [path for entry in settings["files"] for path in sorted((ROOT / entry).rglob("*.py"))]
    return [
        path
        for path in files
        if not any(
            re.search(pattern, path.relative_to(ROOT).as_posix()) for pattern in settings["exclude"]
        )
    ]


def _cdk_modules_imported(source: str, submodules: frozenset[str]) -> set[str]:
    """The `aws_cdk` modules a source imports: `import aws_cdk.x`, `from aws_cdk.x import ...`
    and `from aws_cdk import x` where x is a module rather than a class."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == CDK)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != CDK:
                continue
            found.add(node.module)
            if node.module == CDK:
                found.update(f"{CDK}.{a.name}" for a in node.names if a.name in submodules)
    return found


def _submodules() -> frozenset[str]:
    """The installed `aws_cdk` package's modules, found without importing it."""
    spec = importlib.util.find_spec(CDK)
    assert spec is not None and spec.submodule_search_locations
    (folder,) = spec.submodule_search_locations
    return frozenset(path.parent.name for path in Path(folder).glob("*/__init__.py"))


def _modules_following(settings: dict[str, Any], follow_imports: str) -> set[str]:
    """The module names (and patterns) of the overrides with this `follow_imports`."""
    found: set[str] = set()
    for override in settings.get("overrides", []):
        if override.get("follow_imports") == follow_imports:
            modules = override["module"]
            found.update([modules] if isinstance(modules, str) else modules)
    return found


def test_every_cdk_module_the_sources_import_is_type_checked() -> None:
    settings = _mypy_settings()
    submodules = _submodules()
    imported: set[str] = set()
    for path in _checked_files(settings):
        imported |= _cdk_modules_imported(path.read_text(), submodules)

    assert f"{CDK}.aws_lambda" in imported  # the reading of imports finds what is there
    assert f"{CDK}.*" in _modules_following(settings, "skip")
    followed = _modules_following(settings, "normal")
    assert not imported - followed, f"add to the type check's CDK modules: {imported - followed}"
    assert not followed - imported, f"no source imports these any more: {followed - imported}"


def test_a_module_imported_from_the_package_root_is_told_from_a_class() -> None:
    source = "from aws_cdk import Duration, aws_sqs as sqs\nimport aws_cdk.aws_sns\n"

    found = _cdk_modules_imported(source, frozenset({"aws_sqs", "aws_sns"}))

    assert found == {CDK, f"{CDK}.aws_sqs", f"{CDK}.aws_sns"}
