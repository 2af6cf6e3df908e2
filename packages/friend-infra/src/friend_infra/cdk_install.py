"""The CDK's Python install, mended when a file aws-cdk-lib ships is another wheel's copy.

aws-cdk-lib and its dependency aws-cdk-cloud-assembly-schema both ship
``aws_cdk/cloud_assembly_schema/__init__.py``, with different jsii type names for the same
structs (aws/aws-cdk#38482). uv unpacks wheels side by side, so which copy stays is a race; when
the schema wheel's does, jsii refuses every such struct handed to aws-cdk-lib (integ-tests-alpha's
``cdkCommandOptions`` among them) and every integ test fails to synthesize. A new environment made
by ``uv run --package friend-integ ...`` came out that way here. The mend is the one the CDK's
maintainers give: reinstall aws-cdk-lib on its own, so that its copy is written last.

It must run before anything imports ``aws_cdk`` (a loaded module is not reloaded): importing
``friend_infra`` runs it, and ``friend_integ`` imports ``friend_infra`` first.
"""

import base64
import hashlib
import importlib.util
import os
import sys
from pathlib import Path

DISTRIBUTION = "aws-cdk-lib"
SHARED_FILE = "aws_cdk/cloud_assembly_schema/__init__.py"


def _record() -> Path | None:
    """aws-cdk-lib's RECORD, found beside the ``aws_cdk`` package without importing it.

    Read straight from the dist-info folder: `importlib.metadata` alone takes longer to import
    than this whole check, which every process of the rig and of the tests runs.
    """
    spec = importlib.util.find_spec("aws_cdk")
    if spec is None or spec.origin is None:
        return None
    return next(Path(spec.origin).parents[1].glob("aws_cdk_lib-*.dist-info/RECORD"), None)


def _release(record: Path) -> str:
    return record.parent.name.removeprefix("aws_cdk_lib-").removesuffix(".dist-info")


def overwritten() -> str | None:
    """What is wrong when the shared file on disk is not aws-cdk-lib's own copy, else None."""
    record = _record()
    return None if record is None else _problem(record)


def _problem(record: Path) -> str | None:
    wanted = next(
        (
            line.split(",")[1]
            for line in record.read_text().splitlines()
            if line.startswith(SHARED_FILE + ",")
        ),
        None,
    )
    if wanted is None:  # a release that no longer ships it: nothing to clash
        return None
    on_disk = record.parents[1] / SHARED_FILE
    digest = hashlib.sha256(on_disk.read_bytes()).digest()
    if "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == wanted:
        return None
    return f"{on_disk} is not {DISTRIBUTION} {_release(record)}'s copy (another wheel's came last)"


def mend() -> None:
    """Reinstall aws-cdk-lib alone when the shared file is not its copy; raise if that fails."""
    record = _record()
    problem = None if record is None else _problem(record)
    if record is None or problem is None:
        return
    import shutil  # noqa: PLC0415 - only on the rare mend; this module runs on every import
    import subprocess  # noqa: PLC0415

    command = [
        "pip", "install", "--python", sys.executable, "--reinstall", "--no-deps",
        f"{DISTRIBUTION}=={_release(record)}",
    ]  # fmt: skip
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        raise ImportError(f"{problem}; run: uv {' '.join(command)}")
    result = subprocess.run([uv, *command], capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0 or _problem(record) is not None:
        raise ImportError(f"{problem}; `uv {' '.join(command)}` did not mend it: {result.stderr}")
    print(
        f"friend-infra: reinstalled {DISTRIBUTION}: {problem} (aws/aws-cdk#38482)", file=sys.stderr
    )
