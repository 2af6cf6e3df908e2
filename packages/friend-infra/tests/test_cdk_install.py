"""The CDK's install is mended when aws-cdk-cloud-assembly-schema's copy of a file that
aws-cdk-lib also ships is the one on disk.

The scenario: a newcomer's first command, `uv run --package friend-integ integ`, made a new
environment with the schema package's ``aws_cdk/cloud_assembly_schema/__init__.py`` (the two
wheels were unpacked side by side), and every synthesis of an integ test then failed in jsii
("Wired struct has type '@aws-cdk/cloud-assembly-schema.CdkCommands'"). Here a new environment
is put in that state on purpose, by unpacking the schema wheel again after aws-cdk-lib.
"""

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from friend_infra import cdk_install

SOURCES = Path(cdk_install.__file__).parents[1]

# An integ test's own use of the module: integ-tests-alpha takes the CDK commands' options as
# structs of aws-cdk-lib's cloud_assembly_schema.
BUILD_AN_INTEG_TEST = """
import friend_infra
from aws_cdk import App, Stack, cloud_assembly_schema as cas
from aws_cdk.integ_tests_alpha import IntegTest

app = App()
IntegTest(
    app,
    "Test",
    test_cases=[Stack(app, "Subject")],
    cdk_command_options=cas.CdkCommands(deploy=cas.DeployCommand(enabled=True)),
)
print("built")
"""


def _uv(*arguments: str) -> None:
    subprocess.run([os.environ.get("UV", "uv"), *arguments], check=True, capture_output=True)


def _where_the_schema_won(root: Path) -> Path:
    """The interpreter of a new environment holding the CDK, the schema wheel's file on disk."""
    venv = root / "venv"
    python = venv / "bin" / "python"
    _uv("venv", "--quiet", "--python", sys.executable, str(venv))
    pins = [
        f"aws-cdk-lib=={version('aws-cdk-lib')}",
        f"aws-cdk-integ-tests-alpha=={version('aws-cdk-integ-tests-alpha')}",
    ]
    _uv("pip", "install", "--quiet", "--python", str(python), *pins)
    schema = f"aws-cdk-cloud-assembly-schema=={version('aws-cdk-cloud-assembly-schema')}"
    _uv("pip", "install", "--quiet", "--python", str(python), "--reinstall", "--no-deps", schema)
    return python


def _run(python: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SOURCES)}
    return subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, env=env, check=False
    )


# The check on its own, without importing friend_infra (whose import mends what it finds).
LOOK = (
    f"import sys; sys.path.insert(0, {str(Path(cdk_install.__file__).parent)!r}); "
    "import cdk_install; print(cdk_install.overwritten())"
)


def test_the_cdk_installed_here_is_whole() -> None:
    assert cdk_install.overwritten() is None


def test_importing_friend_infra_mends_an_install_where_the_schema_file_won(tmp_path: Path) -> None:
    python = _where_the_schema_won(tmp_path)
    looked = _run(python, LOOK)
    assert looked.returncode == 0, looked.stderr
    assert "aws_cdk/cloud_assembly_schema/__init__.py is not aws-cdk-lib" in looked.stdout

    imported = _run(python, "import friend_infra")

    assert imported.returncode == 0, imported.stderr
    assert "friend-infra: reinstalled aws-cdk-lib" in imported.stderr
    again = _run(python, LOOK)
    assert again.stdout.strip() == "None", again.stderr
    assert "reinstalled" not in _run(python, "import friend_infra").stderr


@pytest.mark.slow
def test_an_integ_test_builds_on_an_install_where_the_schema_file_won(tmp_path: Path) -> None:
    """The newcomer's failure: without the mend, jsii refuses integ-tests-alpha's struct."""
    python = _where_the_schema_won(tmp_path)

    built = _run(python, BUILD_AN_INTEG_TEST)

    assert built.returncode == 0, built.stderr
    assert built.stdout.strip() == "built"
