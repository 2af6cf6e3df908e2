"""Each folder asset is zipped once, as the toolkit would zip it."""

import json
import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest
from friend_integ.asset_zips import folder_assets, prune, stored_zips, write_zip

FOLDER_ID = "f" * 64
TEMPLATE_ID = "t" * 64


def _assembly(
    root: Path, asset_id: str = FOLDER_ID, handler: str = "def handler(e, c): ...\n"
) -> Path:
    """An assembly with one folder asset (a function's bundle) and one file asset (a template)."""
    root.mkdir(parents=True)
    bundle = root / f"asset.{asset_id}"
    (bundle / "pkg" / "sub").mkdir(parents=True)
    (bundle / "handler.py").write_text(handler)
    (bundle / "pkg" / "__init__.py").write_text("")
    (bundle / "pkg" / "sub" / "data.json").write_text('{"a": 1}')
    tool = bundle / "pkg" / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    (root / "Stack.template.json").write_text("{}")
    manifest = {
        "version": "48.0.0",
        "files": {
            asset_id: {"source": {"path": bundle.name, "packaging": "zip"}, "destinations": {}},
            TEMPLATE_ID: {
                "source": {"path": "Stack.template.json", "packaging": "file"},
                "destinations": {},
            },
        },
    }
    (root / "Stack.assets.json").write_text(json.dumps(manifest))
    return root


def test_only_folder_assets_are_zipped(tmp_path: Path) -> None:
    assembly = _assembly(tmp_path / "assembly")
    assert folder_assets(assembly) == {FOLDER_ID: assembly / f"asset.{FOLDER_ID}"}


def test_the_zip_holds_every_file_of_the_folder_with_its_mode(tmp_path: Path) -> None:
    assembly = _assembly(tmp_path / "assembly")
    store = tmp_path / "store"

    (placed,) = stored_zips(assembly, store)

    assert placed == store / f"{FOLDER_ID}.zip"
    assert os.listdir(store) == [placed.name]
    folder = assembly / f"asset.{FOLDER_ID}"
    with zipfile.ZipFile(placed) as archive:
        names = sorted(archive.namelist())
        assert names == ["handler.py", "pkg/__init__.py", "pkg/sub/data.json", "pkg/tool"]
        for name in names:
            assert archive.read(name) == (folder / name).read_bytes()
            info = archive.getinfo(name)
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert stat.S_IMODE(info.external_attr >> 16) == stat.S_IMODE(
                (folder / name).stat().st_mode
            )
        assert stat.S_IMODE(archive.getinfo("pkg/tool").external_attr >> 16) == 0o755


def test_the_same_folder_always_gives_the_same_zip(tmp_path: Path) -> None:
    folder = _assembly(tmp_path / "a") / f"asset.{FOLDER_ID}"
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)  # other modification times, other inode order
    os.utime(copy / "handler.py", (0, 0))

    write_zip(folder, tmp_path / "one.zip")
    write_zip(copy, tmp_path / "two.zip")

    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()


def test_an_asset_is_zipped_once_for_every_assembly_that_publishes_it(tmp_path: Path) -> None:
    store = tmp_path / "store"
    (made,) = stored_zips(_assembly(tmp_path / "first"), store)
    first = made.stat()

    # A later assembly publishing the same asset id: the id is the content's hash, so what is
    # stored is this folder's zip; it is not made again (a changed folder would prove it).
    later = _assembly(tmp_path / "later", handler="a changed folder would have a new id\n")
    assert stored_zips(later, store) == [made]

    again = made.stat()  # a zip made again would be a new file, put in place by a rename
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    with zipfile.ZipFile(made) as archive:
        assert archive.read("handler.py") == b"def handler(e, c): ...\n"


def test_an_assembly_without_folder_assets_has_no_zips(tmp_path: Path) -> None:
    assembly = tmp_path / "assembly"
    assembly.mkdir()
    (assembly / "manifest.json").write_text("{}")

    assert stored_zips(assembly, tmp_path / "store") == []
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize("kept", [True, False])
def test_pruning_keeps_exactly_the_zips_of_the_kept_assemblies(tmp_path: Path, kept: bool) -> None:
    store = tmp_path / "store"
    assembly = _assembly(tmp_path / "assembly")
    other = _assembly(tmp_path / "other", asset_id="0" * 64)
    stored_zips(assembly, store)
    stored_zips(other, store)

    prune(store, [assembly, other] if kept else [assembly])

    assert sorted(p.name for p in store.iterdir()) == sorted(
        [f"{FOLDER_ID}.zip"] + ([f"{'0' * 64}.zip"] if kept else [])
    )
