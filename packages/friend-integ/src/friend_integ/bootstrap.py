"""CDK bootstrap, skipped when the target already holds a current bootstrap stack.

`cdk bootstrap` is itself idempotent, but even a no-op costs several seconds of CLI start-up
and stack description. The probe (see `probe`) already tells whether `CDKToolkit` exists,
is complete and carries the version that the pinned CLI's template would deploy.
"""

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from friend_target import Target

from friend_integ.tools import run_logged

_COMPLETE = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
_VERSION = re.compile(r"CdkBootstrapVersion:.*?Value:\s*'(\d+)'", re.DOTALL)


def template_version(cdk_package: Path) -> int:
    """The bootstrap version that the pinned CDK CLI deploys, read from its own template."""
    template = cdk_package / "lib" / "api" / "bootstrap" / "bootstrap-template.yaml"
    match = _VERSION.search(template.read_text())
    if match is None:
        raise ValueError(f"no CdkBootstrapVersion in {template}")
    return int(match.group(1))


def is_current(status: str | None, version: int | None, wanted: int) -> bool:
    """True when a bootstrap stack exists, is complete and is at least `wanted`."""
    return status in _COMPLETE and version is not None and version >= wanted


def bootstrap(
    cdk: Path, target: Target, env: Mapping[str, str], log: Path, *, regions: Sequence[str]
) -> None:
    """Run `cdk bootstrap aws://ACCOUNT/REGION ...` for every region with the pinned CLI, in
    one run of it (it bootstraps the environments it is given side by side, and its start-up
    is a good part of a bootstrap on an emulator); raise on failure."""
    run_logged(
        [
            str(cdk),
            "bootstrap",
            *(f"aws://{target.account}/{region}" for region in regions),
            "--no-notices",
            "--no-version-reporting",
        ],
        log,
        cwd=log.parent,
        env=env,
    )
