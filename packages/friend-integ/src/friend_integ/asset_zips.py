"""The zips the CDK toolkit makes of an assembly's folder assets, made once per asset.

Before it uploads a folder asset, the toolkit zips it into `<assembly>/.cache/<asset id>.zip`
unless that file is there already. integ-runner deletes a test's assembly after the test, so
every deployment zipped every bundled function again (one folder of tens of megabytes per
release the stack runs). An asset's id is the hash of its content, so its zip is made once,
kept in one store beside the synth cache, and linked into the `.cache` of each assembly the
cache replays.

The zip holds what the toolkit's would: every file under the folder (links followed), by its
path relative to the folder, with its mode and a fixed date, so the same folder always gives
the same bytes. Where the zips go in an output folder is the synth cache's business.
"""

import contextlib
import json
import os
import stat
import tempfile
import zipfile
from pathlib import Path

CACHE_DIR = ".cache"
"""The toolkit's folder of asset zips, inside the assembly."""
ZIP_PACKAGING = "zip"
"""The packaging of a folder asset in an assets manifest (`FileAssetPackaging.ZIP_DIRECTORY`)."""
_DATE = (1980, 1, 1, 0, 0, 0)
"""The toolkit's date for every entry: the earliest a zip can hold."""


def folder_assets(assembly: Path) -> dict[str, Path]:
    """Asset id -> folder, for every folder asset that the assembly's stacks publish as a zip."""
    assets: dict[str, Path] = {}
    for manifest in sorted(assembly.glob("*.assets.json")):
        files = json.loads(manifest.read_text())["files"]
        for asset_id, asset in files.items():
            source = asset["source"]
            if source.get("packaging") == ZIP_PACKAGING:
                assets[asset_id] = assembly / source["path"]
    return assets


def write_zip(folder: Path, target: Path) -> None:
    """Zip `folder` into `target`, whole or not at all (another run may be reading `target`)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out, zipfile.ZipFile(out, "w") as archive:
            for path in sorted(_files(folder)):
                entry = zipfile.ZipInfo(path.relative_to(folder).as_posix(), _DATE)
                entry.external_attr = (stat.S_IFREG | stat.S_IMODE(path.stat().st_mode)) << 16
                entry.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(entry, path.read_bytes())
        os.replace(partial, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)


def _files(folder: Path) -> list[Path]:
    return [
        Path(root, name) for root, _, names in os.walk(folder, followlinks=True) for name in names
    ]


def stored_zips(assembly: Path, store: Path) -> list[Path]:
    """The zip in `store` of each of `assembly`'s folder assets, made where `store` lacks it."""
    zips = []
    for asset_id, folder in folder_assets(assembly).items():
        kept = store / f"{asset_id}.zip"
        if not kept.is_file():
            write_zip(folder, kept)
        zips.append(kept)
    return zips


def prune(store: Path, assemblies: list[Path]) -> None:
    """Remove the zips that none of `assemblies` publishes."""
    if not store.is_dir():
        return
    wanted = {f"{asset_id}.zip" for a in assemblies for asset_id in folder_assets(a)}
    for kept in store.glob("*.zip"):
        if kept.name not in wanted:
            kept.unlink(missing_ok=True)
