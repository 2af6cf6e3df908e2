"""`scripts/release.py` and `scripts/pin.py` on a clone of this repository.

Each test works on a clone (its own commits, store and manifest), so cutting releases here never
touches the repository's own store.
"""

import hashlib
import subprocess
import zipfile
from pathlib import Path

import pytest
from friend_handlers.filters import HANDLERS
from friend_infra.pins import MANIFEST_PATH, read_manifest
from friend_infra.releases import CHECKSUMS, STORE_DIR, ReleaseStore, verify

from .releasing import (
    HANDLERS_CHANGE,
    INFRA_CHANGE,
    PIN,
    RELEASE,
    UV,
    base_version,
    clone_of_this_repository,
    commit_change,
    env_without_venv,
    git,
    newest,
    run_script,
)

pytestmark = pytest.mark.slow
"""Each test clones the repository and runs the real release command (``uv build``, ``uv
export``, git): half a minute apiece."""


def test_a_release_bumps_only_its_package_stores_and_tags_it(released: Path) -> None:
    base, new = newest(released)
    assert new.rsplit(".", 1)[0] == base.rsplit(".", 1)[0]  # a patch bump
    head = git(released, "show", "--stat", "--format=%s", "HEAD")
    assert head.splitlines()[0] == f"Release friend-handlers {new}"
    changed = {line.split("|")[0].strip() for line in head.splitlines() if "|" in line}
    assert "packages/friend-handlers/pyproject.toml" in changed
    assert not any("friend-models" in path for path in changed)
    assert git(released, "tag", "--points-at", "HEAD").split() == [f"friend-handlers-v{new}"]
    assert git(released, "status", "--porcelain") == ""


def test_the_stores_hashes_verify(released: Path) -> None:
    store = ReleaseStore(released / STORE_DIR)
    for package in ("friend-models", "friend-handlers"):
        for version in store.versions(package):
            folder = released / STORE_DIR / package / version
            listed = verify(folder)
            for name, digest in listed.items():
                assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    _, new = newest(released)
    check = subprocess.run(
        ["sha256sum", "--check", "--strict", CHECKSUMS],
        cwd=released / STORE_DIR / "friend-handlers" / new,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_release_holds_the_wheel_its_requirements_and_its_contract(released: Path) -> None:
    _, new = newest(released)
    release = ReleaseStore(released / STORE_DIR).get("friend-handlers", new)
    with zipfile.ZipFile(release.wheel) as wheel:
        assert f"friend_handlers-{new}.dist-info/METADATA" in wheel.namelist()
    requirements = release.requirements.read_text()
    assert "pydantic==" in requirements
    assert "--hash=sha256:" in requirements
    assert "botocore" not in requirements  # the Lambda runtime provides it
    assert "friend-models" not in requirements  # a workspace release, in `requires`
    assert set(release.requires) == {"friend-models"}
    assert release.contract["handlers"] == list(HANDLERS)
    assert release.metadata["build"]["backend"] == "hatchling==1.33.0"


def test_the_changelog_lists_only_that_packages_changes(released: Path) -> None:
    base, new = newest(released)
    changelog = (released / "packages/friend-handlers/CHANGELOG.md").read_text()
    entry = changelog.split(f"## {new}", 1)[1].split(f"## {base}", 1)[0]
    assert HANDLERS_CHANGE in entry
    assert INFRA_CHANGE not in entry
    assert "Release friend-handlers" not in entry
    assert changelog.index(f"## {new}") < changelog.index(f"## {base}")
    models = (released / "packages/friend-models/CHANGELOG.md").read_text()
    assert HANDLERS_CHANGE not in models


def test_a_release_rebuilds_bit_for_bit_from_its_commit(released: Path, tmp_path: Path) -> None:
    _, new = newest(released)
    release = ReleaseStore(released / STORE_DIR).get("friend-handlers", new)
    again = clone_of_this_repository(tmp_path / "again")
    git(again, "fetch", "--quiet", str(released), "HEAD")
    git(again, "checkout", "--quiet", "FETCH_HEAD")
    epoch = str(release.metadata["build"]["source_date_epoch"])
    out = tmp_path / "wheel"
    subprocess.run(
        [UV, "build", "--wheel", "--quiet", "--package", "friend-handlers", "--out-dir", out],
        cwd=again,
        env={**env_without_venv(), "SOURCE_DATE_EPOCH": epoch},
        check=True,
    )
    (wheel,) = out.glob("*.whl")
    assert wheel.read_bytes() == release.wheel.read_bytes()


def test_a_second_release_of_the_same_version_is_refused(released: Path) -> None:
    _, new = newest(released)
    stored = released / STORE_DIR / "friend-handlers" / new
    before = {p.name: p.read_bytes() for p in stored.iterdir()}
    result = run_script(released, RELEASE, "friend-handlers")
    assert result.returncode == 1
    assert f"friend-handlers {new} is already released" in result.stderr
    assert {p.name: p.read_bytes() for p in stored.iterdir()} == before
    assert git(released, "status", "--porcelain") == ""


def test_a_handlers_release_needs_its_models_released_as_they_are(tmp_path: Path) -> None:
    clone = clone_of_this_repository(tmp_path / "repo")
    base_version(clone)
    commit_change(clone, "packages/friend-models/src/friend_models/model.py", "Models: a change")
    result = run_script(clone, RELEASE, "friend-handlers", "--bump", "patch")
    assert result.returncode == 1
    assert "friend-models has changed since its release" in result.stderr
    assert git(clone, "status", "--porcelain") == ""  # nothing bumped, nothing stored


def test_uncommitted_changes_are_refused(tmp_path: Path) -> None:
    clone = clone_of_this_repository(tmp_path / "repo")
    base_version(clone)
    read = clone / "packages/friend-handlers/src/friend_handlers/handlers/read.py"
    read.write_text(read.read_text() + "\n# not committed\n")
    result = run_script(clone, RELEASE, "friend-handlers", "--bump", "patch")
    assert result.returncode == 1
    assert "uncommitted changes" in result.stderr


def test_pin_changes_one_line_and_refuses_an_unknown_release(released: Path) -> None:
    manifest = released / MANIFEST_PATH
    _, new = newest(released)
    before = manifest.read_text().splitlines()
    result = run_script(released, PIN, "read", new)
    assert result.returncode == 0, result.stderr
    after = manifest.read_text().splitlines()
    assert [line for line in after if line not in before] == [f'read = "{new}"']
    assert len(after) == len(before)
    assert read_manifest(manifest, HANDLERS)["read"] == new

    refused = run_script(released, PIN, "front", "9.9.9")
    assert refused.returncode == 1
    assert "friend-handlers 9.9.9 is not in the release store" in refused.stderr
    assert read_manifest(manifest, HANDLERS)["front"] != "9.9.9"
    git(released, "checkout", "--quiet", "--", MANIFEST_PATH)
