"""The synth cache replays an assembly only when no input of the synthesis changed."""

import json
import os
import subprocess
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from friend_integ.paths import Layout
from friend_integ.synth_cache import DISABLE_ENV, ZIPS_DIR, cache_key, run

# A stand-in for a CDK app: writes an "assembly" that records the context it saw, and counts
# its own runs in a file next to it, so a test can tell a replay from a synthesis.
APP = """\
import json, os, pathlib, time
time.sleep(float(os.environ.get("CDK_TEST_SYNTH_SECONDS", "0")))
runs = pathlib.Path(__file__).resolve().parents[3] / "runs"  # outside the sources
runs.write_text(str(int(runs.read_text() if runs.exists() else "0") + 1))
out = pathlib.Path(os.environ["CDK_OUTDIR"])
out.mkdir(parents=True, exist_ok=True)
(out / "manifest.json").write_text(json.dumps({"context": os.environ.get("CDK_CONTEXT_JSON")}))
if os.environ.get("CDK_TEST_NO_ASSETS"):
    raise SystemExit
(out / "asset.abc").mkdir(exist_ok=True)
(out / "asset.abc" / "handler.py").write_text("def handler(e, c): return 1\\n")
asset = {"source": {"path": "asset.abc", "packaging": "zip"}, "destinations": {}}
(out / "App.assets.json").write_text(json.dumps({"version": "48.0.0", "files": {"abc": asset}}))
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Layout:
    """A minimal workspace: root files, one member with sources, the integ package."""
    root = tmp_path / "ws"
    (root / "packages" / "friend-infra" / "src" / "friend_infra").mkdir(parents=True)
    (root / "packages" / "friend-integ" / "integ").mkdir(parents=True)
    (root / "uv.lock").write_text("version = 1\n")
    (root / "pyproject.toml").write_text("[project]\nname = 'ws'\n")
    (root / ".python-version").write_text("3.13\n")
    infra = root / "packages" / "friend-infra"
    (infra / "pyproject.toml").write_text("[project]\nname = 'friend-infra'\n")
    (infra / "src" / "friend_infra" / "stack.py").write_text("TIMEOUT = 15\n")
    (root / "packages" / "friend-integ" / "pyproject.toml").write_text("[project]\n")
    (root / "packages" / "friend-integ" / "integ" / "integ_app.py").write_text(APP)
    (root / "releases" / "friend-handlers" / "0.1.0").mkdir(parents=True)
    (root / "releases" / "friend-handlers" / "0.1.0" / "SHA256SUMS").write_text("")
    (root / "deploy").mkdir()
    (root / "deploy" / "functions.toml").write_text("[functions]\n")
    return Layout(package_dir=root / "packages" / "friend-integ")


def _app(layout: Layout) -> Path:
    return layout.tests_dir / "integ_app.py"


def _runs(layout: Layout) -> int:
    counter = layout.workspace_root / "runs"
    return int(counter.read_text()) if counter.exists() else 0


def _entry(layout: Layout) -> Path:
    """The cache's one entry (the folders whose names start with a dot are its own)."""
    (entry,) = (
        p for p in layout.synth_cache_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    return entry


def _env(outdir: Path, **extra: str) -> dict[str, str]:
    return {"CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": '{"flag": true}', **extra}


def test_second_synthesis_with_the_same_inputs_is_replayed(
    workspace: Layout, tmp_path: Path
) -> None:
    first, second = tmp_path / "out1", tmp_path / "out2"

    assert run(_app(workspace), _env(first), workspace) == 0
    assert run(_app(workspace), _env(second), workspace) == 0

    assert _runs(workspace) == 1
    assert (second / "manifest.json").read_text() == (first / "manifest.json").read_text()
    assert (second / "asset.abc" / "handler.py").is_file()
    for out in (first, second):  # the toolkit finds the bundle's zip made, on a miss and a hit
        with zipfile.ZipFile(out / ".cache" / "abc.zip") as archive:
            assert archive.read("handler.py") == b"def handler(e, c): return 1\n"
    log = (workspace.synth_cache_dir / "synth-cache.log").read_text().split()
    assert "MISS" in log and "HIT" in log


def test_processes_asking_at_once_for_the_same_assembly_synthesize_it_once(
    workspace: Layout, tmp_path: Path
) -> None:
    outdirs = [tmp_path / f"out{i}" for i in range(3)]
    slow = {"CDK_TEST_SYNTH_SECONDS": "1"}

    with ThreadPoolExecutor(len(outdirs)) as pool:
        codes = list(
            pool.map(lambda out: run(_app(workspace), _env(out, **slow), workspace), outdirs)
        )

    assert codes == [0, 0, 0]
    assert _runs(workspace) == 1
    assert all((out / "manifest.json").is_file() for out in outdirs)
    log = (workspace.synth_cache_dir / "synth-cache.log").read_text().split()
    assert (log.count("MISS"), log.count("HIT")) == (1, 2)


def test_a_replayed_asset_is_the_cached_file_itself(workspace: Layout, tmp_path: Path) -> None:
    # Asset folders are named by their content's hash and only ever read: a replay links them
    # (a run replays the same assembly six times), where a copy would cost tens of megabytes.
    run(_app(workspace), _env(tmp_path / "out1"), workspace)
    replayed = tmp_path / "out2"
    run(_app(workspace), _env(replayed), workspace)

    entry = _entry(workspace)
    handler = Path("asset.abc", "handler.py")
    assert (replayed / handler).samefile(entry / handler)


def test_a_replay_into_a_folder_holding_an_earlier_one_leaves_the_cache_as_it_was(
    workspace: Layout, tmp_path: Path
) -> None:
    # The toolkit synthesizes into the same output folder for each stack it deploys.
    out = tmp_path / "out"
    for _ in range(3):
        assert run(_app(workspace), _env(out), workspace) == 0

    entry = _entry(workspace)
    handler = Path("asset.abc", "handler.py")
    assert (entry / handler).read_text() == "def handler(e, c): return 1\n"
    assert (out / handler).samefile(entry / handler)
    assert _runs(workspace) == 1


def test_files_already_in_the_output_folder_are_replaced_not_written_through(
    workspace: Layout, tmp_path: Path
) -> None:
    # What the output folder holds may be a link to a file that must stay as it is (the cache's,
    # or a zip in the store): here, links to sentinels that a write through would change.
    out = tmp_path / "out"
    run(_app(workspace), _env(out), workspace)
    sentinels = []
    for placed in (Path("asset.abc", "handler.py"), Path(".cache", "abc.zip")):
        sentinel = tmp_path / placed.name
        sentinel.write_text("left alone")
        (out / placed).unlink()
        os.link(sentinel, out / placed)
        sentinels.append(sentinel)

    assert run(_app(workspace), _env(out), workspace) == 0

    for sentinel in sentinels:
        assert sentinel.read_text() == "left alone"
    assert (out / "asset.abc" / "handler.py").samefile(
        _entry(workspace) / "asset.abc" / "handler.py"
    )
    assert (out / ".cache" / "abc.zip").samefile(workspace.synth_cache_dir / ZIPS_DIR / "abc.zip")


def test_an_assembly_without_folder_assets_gets_no_zip_folder(
    workspace: Layout, tmp_path: Path
) -> None:
    for out in (tmp_path / "out1", tmp_path / "out2"):  # a miss, then a hit
        assert run(_app(workspace), _env(out, CDK_TEST_NO_ASSETS="1"), workspace) == 0

        assert (out / "manifest.json").is_file()
        assert not (out / ".cache").exists()
    assert _runs(workspace) == 1


def test_a_replayed_manifest_rewritten_in_place_leaves_the_cache_as_it_was(
    workspace: Layout, tmp_path: Path
) -> None:
    # integ-runner rewrites the manifest of the assembly it keeps as a snapshot in place.
    run(_app(workspace), _env(tmp_path / "out1"), workspace)
    replayed = tmp_path / "out2"
    run(_app(workspace), _env(replayed), workspace)
    original = (replayed / "manifest.json").read_text()
    with (replayed / "manifest.json").open("r+") as manifest:
        manifest.write("{}")
        manifest.truncate()

    again = tmp_path / "out3"
    run(_app(workspace), _env(again), workspace)

    assert (again / "manifest.json").read_text() == original
    assert _runs(workspace) == 1


def test_an_app_outside_the_workspace_is_cached_and_its_folder_is_an_input(
    workspace: Layout, tmp_path: Path
) -> None:
    """`integ --directory DIR` may name any folder, inside the checkout or not."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    app = elsewhere / "integ_app.py"
    app.write_text(_app(workspace).read_text().replace("parents[3]", "parents[1] / 'ws'"))

    assert run(app, _env(tmp_path / "out1"), workspace) == 0
    assert run(app, _env(tmp_path / "out2"), workspace) == 0
    before = cache_key(app, _env(tmp_path), workspace)
    (elsewhere / "helpers.py").write_text("X = 1\n")

    assert _runs(workspace) == 1
    assert cache_key(app, _env(tmp_path), workspace) != before


@pytest.mark.parametrize(
    "change",
    [
        "uv.lock",
        "packages/friend-infra/src/friend_infra/stack.py",
        "packages/friend-infra/pyproject.toml",
        "packages/friend-integ/integ/integ_app.py",
        "packages/friend-integ/integ/helpers.py",
        "packages/friend-infra/src/friend_infra/new_module.py",
        "packages/friend-infra/README.md",
        "releases/friend-handlers/0.1.0/SHA256SUMS",
        "releases/friend-handlers/0.2.0/metadata.json",
        "deploy/functions.toml",
    ],
)
def test_any_changed_source_or_lock_misses(workspace: Layout, tmp_path: Path, change: str) -> None:
    app = _app(workspace)
    before = cache_key(app, _env(tmp_path), workspace)

    path = workspace.workspace_root / change
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((path.read_text() if path.exists() else "") + "\n# changed\n")

    assert cache_key(app, _env(tmp_path), workspace) != before


@pytest.mark.parametrize(
    "variable",
    ["CDK_CONTEXT_JSON", "AWS_REGION", "UV_INDEX", "FRIEND_INTEG_PATIENCE_SECONDS"],
)
def test_environment_that_reaches_the_app_is_part_of_the_key(
    workspace: Layout, tmp_path: Path, variable: str
) -> None:
    app = _app(workspace)
    assert cache_key(app, _env(tmp_path), workspace) != cache_key(
        app, _env(tmp_path, **{variable: "other"}), workspace
    )


@pytest.mark.parametrize(
    "output",
    [
        "packages/friend-integ/integ/integ_app.py.snapshot/Stack.template.json",
        "packages/friend-integ/integ/cdk-integ.out.integ_app.py.snapshot/manifest.json",
        "packages/friend-infra/src/.mypy_cache/cache.db",
        "packages/friend-infra/src/friend_infra/__pycache__/stack.cpython-313.pyc",
        "packages/friend-integ/node_modules/aws-cdk/package.json",
    ],
)
def test_run_outputs_and_tool_caches_are_not_inputs(
    workspace: Layout, tmp_path: Path, output: str
) -> None:
    app = _app(workspace)
    before = cache_key(app, _env(tmp_path), workspace)

    path = workspace.workspace_root / output
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("written by a run or a tool")

    assert cache_key(app, _env(tmp_path), workspace) == before


def test_output_folder_and_unrelated_environment_do_not_change_the_key(
    workspace: Layout, tmp_path: Path
) -> None:
    app = _app(workspace)
    key = cache_key(app, _env(tmp_path / "a"), workspace)

    assert cache_key(app, _env(tmp_path / "b", TERM="xterm", PWD="/x"), workspace) == key


def test_context_overflow_file_content_is_part_of_the_key(
    workspace: Layout, tmp_path: Path
) -> None:
    overflow = tmp_path / "overflow.json"
    overflow.write_text(json.dumps({"big": 1}))
    env = _env(tmp_path, CONTEXT_OVERFLOW_LOCATION_ENV=str(overflow))
    key = cache_key(_app(workspace), env, workspace)

    overflow.write_text(json.dumps({"big": 2}))

    assert cache_key(_app(workspace), env, workspace) != key


def test_disabled_cache_always_synthesizes(workspace: Layout, tmp_path: Path) -> None:
    for name in ("a", "b"):
        run(_app(workspace), _env(tmp_path / name, **{DISABLE_ENV: "0"}), workspace)

    assert _runs(workspace) == 2
    assert not workspace.synth_cache_dir.exists()


def test_failed_synthesis_is_not_remembered(workspace: Layout, tmp_path: Path) -> None:
    broken = workspace.tests_dir / "integ_broken.py"
    broken.write_text("raise SystemExit(3)\n")

    assert run(broken, _env(tmp_path / "a"), workspace) == 3
    assert run(broken, _env(tmp_path / "b"), workspace) == 3
    entries = [p for p in workspace.synth_cache_dir.iterdir() if p.is_dir()]
    assert entries == []


def test_lock_files_of_the_toolkit_are_not_cached(workspace: Layout, tmp_path: Path) -> None:
    first = tmp_path / "out1"
    first.mkdir()
    (first / "synth.lock").write_text("123")
    run(_app(workspace), _env(first), workspace)

    second = tmp_path / "out2"
    run(_app(workspace), _env(second), workspace)

    assert not (second / "synth.lock").exists()
    assert (second / "manifest.json").is_file()


def test_in_a_git_checkout_the_sources_are_what_git_would_track(
    workspace: Layout, tmp_path: Path
) -> None:
    root = workspace.workspace_root
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text("generated/\n")
    app = _app(workspace)
    before = cache_key(app, _env(tmp_path), workspace)

    ignored = root / "packages" / "friend-infra" / "generated" / "big.bin"
    ignored.parent.mkdir()
    ignored.write_text("ignored by git")
    assert cache_key(app, _env(tmp_path), workspace) == before

    untracked = root / "packages" / "friend-infra" / "src" / "friend_infra" / "new.py"
    untracked.write_text("X = 1\n")
    assert cache_key(app, _env(tmp_path), workspace) != before


@pytest.mark.parametrize(
    "variable", ["CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION", "CDK_INTEG_REGION"]
)
def test_what_the_apps_cannot_read_is_not_part_of_the_key(
    workspace: Layout, tmp_path: Path, variable: str
) -> None:
    # integ-runner's snapshot check and its deployment in each region differ only in these:
    # the deployment replays the check's synthesis.
    app = _app(workspace)
    assert cache_key(app, _env(tmp_path), workspace) == cache_key(
        app, _env(tmp_path, **{variable: "other"}), workspace
    )


def test_every_stack_of_the_integ_tests_is_environment_agnostic() -> None:
    """What makes the toolkit's account and region unreadable to the apps: a stack bound to an
    environment would name them in its template."""
    manifests = sorted(Layout().tests_dir.glob("*.snapshot/manifest.json"))
    assert manifests
    for manifest in manifests:
        artifacts = json.loads(manifest.read_text())["artifacts"].values()
        stacks = [a for a in artifacts if a["type"] == "aws:cloudformation:stack"]
        assert stacks, manifest
        for stack in stacks:
            assert stack["environment"] == "aws://unknown-account/unknown-region", manifest
