"""Measure `cdk synth` time (cold and warm bundle cache) and the zipped bundle size per function.

The app synthesizes what `deploy/functions.toml` pins; arguments are passed to `cdk synth`, so
``infra_synth.py -c friend:manifest=workspace`` measures bundles built from the working tree.

Run from the workspace root:
``uv run --package friend-infra python benchmarks/infra_synth.py``.
"Cold" empties this package's bundle cache (the bundle is built); jsii's own package cache and
Python's bytecode stay as they are, since every synth after the first on a machine has them.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from friend_infra.pins import HANDLER_PACKAGE
from friend_infra.workspace import workspace_root

ROOT = workspace_root()
APP_DIR = ROOT / "packages" / "friend-infra"


def synth(out: Path) -> float:
    started = time.monotonic()
    subprocess.run(  # noqa: S603
        ["npx", "--no-install", "cdk", "synth", "--quiet", "--output", str(out), *sys.argv[1:]],  # noqa: S607
        cwd=APP_DIR,
        check=True,
        env={**os.environ, "FRIEND_BUNDLING_VERBOSE": "1"},
    )
    return time.monotonic() - started


def zipped_size(folder: Path) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "bundle.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                zf.write(path, path.relative_to(folder).as_posix())
        return archive.stat().st_size


def main() -> None:
    bundles = ROOT / ".state" / "bundles"
    for pattern in (f"{HANDLER_PACKAGE}-*", f"release-{HANDLER_PACKAGE}-*"):
        for entry in bundles.glob(pattern):
            shutil.rmtree(entry)
    with tempfile.TemporaryDirectory() as scratch:
        cold = synth(Path(scratch) / "cold")
        warm = synth(Path(scratch) / "warm")
        again = synth(Path(scratch) / "again")
        print(f"cdk synth: cold bundle cache {cold:.1f} s, warm {warm:.1f} s, {again:.1f} s")
        out = Path(scratch) / "warm"
        template = json.loads((out / "FriendMicroservices.template.json").read_text())
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            props = resource["Properties"]
            asset = out / ("asset." + props["Code"]["S3Key"].removesuffix(".zip"))
            files = [p for p in asset.rglob("*") if p.is_file()]
            unzipped = sum(p.stat().st_size for p in files)
            print(
                f"{props['Handler']:42} asset {asset.name[6:18]}  "
                f"zipped {zipped_size(asset) / 1e6:.1f} MB  unzipped {unzipped / 1e6:.1f} MB  "
                f"{len(files)} files"
            )
        again_hashes = {p.name for p in (Path(scratch) / "again").glob("asset.*")}
        stable = all((out / name).is_dir() for name in again_hashes)
        print(f"asset hashes stable across synths: {stable} ({len(again_hashes)} assets)")


if __name__ == "__main__":
    main()
