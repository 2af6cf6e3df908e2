"""Lambda code from bundles: one CDK asset per distinct pin, hashed by the bundle's content.

CDK bundles an asset locally (:class:`UvLocalBundling`) through the bundle cache
(:mod:`friend_infra.bundle_cache`), never through Docker. The asset hash is taken from the
bundle (``AssetHashType.OUTPUT``), so it changes with the lock, any source or the release, and
is the same on every synth and every checkout path.
"""

import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from friend_infra.bundle_cache import bundle, bundle_release
from friend_infra.pins import HANDLER_PACKAGE, Pinned
from friend_infra.releases import Release, ReleaseStore
from friend_infra.workspace import workspace_root


@jsii.implements(ILocalBundling)
class UvLocalBundling:
    """CDK local bundling through the bundle cache (:func:`~friend_infra.bundle_cache.bundle`,
    :func:`~friend_infra.bundle_cache.bundle_release`): never Docker."""

    def __init__(self, what: str, fill: Callable[[Path], bool]) -> None:
        self.what = what
        self.fill = fill

    def try_bundle(self, output_dir: str, *_options: Any, **_keywords: Any) -> bool:
        """Bundle into ``output_dir``; raise (never return False) so no Docker run is tried.

        The BundlingOptions that jsii passes along (positionally) are not needed: the bundle is
        defined by its source (the lock and the packages, or the release) alone.
        """
        started = time.monotonic()
        hit = self.fill(Path(output_dir))
        if os.environ.get("FRIEND_BUNDLING_VERBOSE"):
            source = "cache" if hit else "build"
            elapsed = time.monotonic() - started
            sys.stderr.write(f"bundled {self.what} ({source}) in {elapsed:.2f}s\n")
        return True


def _code(source: Path, what: str, fill: Callable[[Path], bool]) -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(source),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            # Required by the API but never pulled: UvLocalBundling bundles or raises.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.13"),
            local=UvLocalBundling(what, fill),
        ),
    )


def package_code(package: str, *, root: Path | None = None) -> lambda_.Code:
    """Lambda code for every entry point of one workspace package, built from the working tree,
    hashed by its content."""
    root = root or workspace_root()
    return _code(
        root / "packages" / package,
        f"{package} (working tree)",
        lambda out: bundle(package, out, root=root),
    )


def release_code(
    release: Release, store: ReleaseStore, *, root: Path | None = None
) -> lambda_.Code:
    """Lambda code for every entry point of a release, from the store, hashed by its content."""
    return _code(
        release.folder,
        f"{release.package} {release.version}",
        lambda out: bundle_release(release, store, out, root=root),
    )


def code_by_version(
    pinned: Mapping[str, Pinned], store: ReleaseStore, root: Path
) -> dict[str, lambda_.Code]:
    """One asset per distinct pin (by version): functions on the same release share it."""
    codes: dict[str, lambda_.Code] = {}
    for pin in pinned.values():
        if pin.version not in codes:
            codes[pin.version] = (
                package_code(HANDLER_PACKAGE, root=root)
                if pin.release is None
                else release_code(pin.release, store, root=root)
            )
    return codes
