"""The Lambda bundle: its content, its determinism, and a cache that cannot go stale."""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from friend_infra.bundle_cache import bundle
from friend_infra.bundling import RUNTIME_PROVIDED
from friend_infra.workspace import workspace_root, workspace_version

ROOT = workspace_root()
PACKAGE = "friend-handlers"
MEMBERS = ("friend-handlers", "friend-models")


def _tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle")
    bundle(PACKAGE, out)
    return out


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second checkout of the bundled packages at another path, with its own cache."""
    root = tmp_path_factory.mktemp("other") / "checkout"
    (root / "packages").mkdir(parents=True)
    for name in ("uv.lock", "pyproject.toml", ".python-version"):
        shutil.copy2(ROOT / name, root / name)
    for member in os.listdir(ROOT / "packages"):
        source, target = ROOT / "packages" / member, root / "packages" / member
        if member in MEMBERS:
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        elif (source / "pyproject.toml").is_file():  # the lock needs every member's metadata
            target.mkdir()
            shutil.copy2(source / "pyproject.toml", target / "pyproject.toml")
    return root


def test_bundle_holds_our_packages_and_linux_wheels(built: Path) -> None:
    names = {p.name for p in built.iterdir()}
    assert {"friend_handlers", "friend_models", "pynamodb", "aws_lambda_powertools"} <= names
    assert {"pydantic", "pydantic_core", "aws_xray_sdk"} <= names
    (core,) = (built / "pydantic_core").glob("_pydantic_core*.so")
    assert "cpython-313-x86_64-linux-gnu" in core.name


def test_bundle_leaves_out_what_the_runtime_provides(built: Path) -> None:
    installed = {p.name.split("-")[0].lower().replace("_", "-") for p in built.glob("*.dist-info")}
    assert installed
    assert not installed & set(RUNTIME_PROVIDED)
    assert not (built / "botocore").exists()
    assert not (built / "boto3").exists()


def test_bundle_has_no_install_specific_files(built: Path) -> None:
    assert not (built / "bin").exists()
    for name in ("RECORD", "direct_url.json", "INSTALLER", "REQUESTED", "uv_cache.json"):
        assert not list(built.glob(f"*.dist-info/{name}"))


def test_a_working_tree_bundle_never_passes_for_a_release(built: Path) -> None:
    for package in MEMBERS:
        version = workspace_version(ROOT, package)
        assert version.endswith("+workspace")
        distribution = package.replace("-", "_")
        metadata = built / f"{distribution}-{version}.dist-info" / "METADATA"
        assert f"\nVersion: {version}\n" in metadata.read_text()


def test_bundle_ships_unchecked_hash_bytecode_for_what_a_cold_start_imports(built: Path) -> None:
    """Lambda's task folder is read-only: without shipped bytecode every cold start compiles
    every module it imports. Unchecked-hash .pyc files are used without reading the source."""
    compiled = {
        pyc.parent.parent / (pyc.name.split(".")[0] + ".py"): pyc
        for pyc in built.rglob("__pycache__/*.cpython-313.pyc")
    }
    for module in (
        "friend_handlers/handlers/front.py",
        "friend_models/model.py",
        "pydantic/main.py",
    ):
        assert built / module in compiled, module
    assert built / "aws_lambda_powertools/logging/logger.py" in compiled
    for pyc in compiled.values():
        flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
        assert flags == 0b01, f"{pyc}: not hash-based and unchecked"  # PEP 552
    # Only what loading our packages imports: most of Powertools never is.
    assert built / "aws_lambda_powertools/utilities/feature_flags/feature_flags.py" not in compiled


def test_bundle_imports_with_the_runtime_sdk(built: Path) -> None:
    """Every module of our packages imports from the bundle, the SDK coming from outside it
    (here the workspace's botocore stands in for the Lambda runtime's)."""
    modules = sorted(
        ".".join(path.relative_to(built).with_suffix("").parts).removesuffix(".__init__")
        for top in ("friend_handlers", "friend_models")
        for path in (built / top).rglob("*.py")
    )
    assert "friend_handlers.filters" in modules
    script = (
        "import importlib, sys\n"
        f"sys.path.insert(0, {str(built)!r})\n"
        f"for name in {modules!r}:\n"
        "    module = importlib.import_module(name)\n"
        f"    assert module.__file__.startswith({str(built)!r}), module.__file__\n"
    )
    # Lambda's task folder is read-only: nothing is compiled into it (and the bundle the other
    # tests compare stays as it was built).
    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.slow  # builds the bundle afresh in another checkout
def test_same_output_from_cache_and_from_another_checkout_path(
    built: Path, checkout: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again"
    assert bundle(PACKAGE, again) is True  # served from the cache the fixture filled
    elsewhere = tmp_path / "elsewhere"
    assert bundle(PACKAGE, elsewhere, root=checkout) is False  # built afresh there
    assert _tree_hash(again) == _tree_hash(built) == _tree_hash(elsewhere)


@pytest.mark.slow  # builds the bundle twice per edit
@pytest.mark.parametrize(
    "edit",
    ["handler source", "model source", "lock"],
)
def test_any_input_change_misses_the_cache(checkout: Path, tmp_path: Path, edit: str) -> None:
    before = tmp_path / "before"
    bundle(PACKAGE, before, root=checkout)
    if edit == "handler source":
        target = checkout / "packages/friend-handlers/src/friend_handlers/filters.py"
    elif edit == "model source":
        target = checkout / "packages/friend-models/src/friend_models/model.py"
    else:
        target = checkout / "uv.lock"
    original = target.read_bytes()
    target.write_bytes(original + b"\n# changed\n")
    try:
        after = tmp_path / "after"
        assert bundle(PACKAGE, after, root=checkout) is False
        if edit != "lock":
            changed = after / target.relative_to(target.parents[2] / "src")
            assert changed.read_bytes().endswith(b"# changed\n")
    finally:
        target.write_bytes(original)
