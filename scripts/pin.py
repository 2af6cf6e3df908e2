"""Pin one function to a friend-handlers release (or to the working tree) in the manifest.

    uv run --package friend-infra python scripts/pin.py read 0.1.0
    uv run --package friend-infra python scripts/pin.py read workspace

Changes one line of ``deploy/functions.toml``, after checking that the release is in the store
and intact. Whether the resulting mix may be deployed together is checked by the stack at synth
(``cdk synth`` from ``packages/friend-infra``), which refuses an incompatible one. Roll back by
pinning the previous release and deploying.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from friend_handlers.filters import HANDLERS
from friend_infra.pins import HANDLER_PACKAGE, MANIFEST_PATH, WORKSPACE, read_manifest, write_pin
from friend_infra.releases import STORE_DIR, ReleaseError, ReleaseStore
from friend_infra.workspace import workspace_root


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("function", choices=HANDLERS)
    parser.add_argument("version", help=f'a released {HANDLER_PACKAGE} version, or "{WORKSPACE}"')
    parser.add_argument("--manifest", type=Path, help=f"default: {MANIFEST_PATH}")
    args = parser.parse_args(argv)
    root = workspace_root(Path.cwd())
    manifest = args.manifest or root / MANIFEST_PATH
    try:
        if args.version != WORKSPACE:
            ReleaseStore(root / STORE_DIR).get(HANDLER_PACKAGE, args.version)  # present, intact
        before = read_manifest(manifest, HANDLERS)[args.function]
        write_pin(manifest, args.function, args.version)
        read_manifest(manifest, HANDLERS)  # still a valid manifest
    except ReleaseError as error:
        sys.exit(f"not pinned: {error}")
    print(f"{args.function}: {before} -> {args.version} in {manifest}")


if __name__ == "__main__":
    main()
