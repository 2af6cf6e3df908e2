"""Deploy friend-infra's app, as ``cdk deploy`` would, to an emulator: for tests that drive the
deployed service from outside (the browser test) rather than through integ-runner.

The same pieces as the integ command: the pinned CDK CLI from ``package-lock.json``, the fail
closed emulator environment (test credentials, the endpoint and nothing else), bootstrap. The
app is the production one (``python -m friend_infra.app``, cdk-nag included), so what is tested
is what users deploy.
"""

import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from friend_infra.app import OPEN_WRITE_API_CONTEXT, STACK_NAME

from friend_integ import bootstrap
from friend_integ.paths import Layout
from friend_integ.targets import (
    LOCALSTACK_ACCOUNT,
    Target,
    TargetKind,
    base_environment,
    emulated_api_url,
    localstack_environment,
)
from friend_integ.tools import ensure_node_tools


@dataclass(frozen=True)
class Deployment:
    """The stack deployed at ``endpoint``, with its CloudFormation outputs."""

    endpoint: str
    outputs: Mapping[str, str]

    @property
    def api_url(self) -> str:
        """The API's stage, where the page is, as the emulator serves it."""
        return emulated_api_url(self.endpoint, self.outputs["ApiId"])


class DeployError(RuntimeError):
    """A step of the deployment failed; its log says why."""


def deploy_app(
    endpoint: str,
    work_dir: Path,
    layout: Layout | None = None,
    context: Mapping[str, str] | None = None,
) -> Deployment:
    """Bootstrap the emulator at ``endpoint`` and deploy the app's stack to it, with the write
    API open (as the emulator lanes run it) and ``context`` (``-c key=value``) on top.

    ``work_dir`` receives the logs (``npm.log``, ``bootstrap.log``, ``deploy.log``), the cloud
    assembly and the outputs file.
    """
    settings = {OPEN_WRITE_API_CONTEXT: "true", **(context or {})}
    layout = layout or Layout()
    work_dir.mkdir(parents=True, exist_ok=True)
    tools, _ = ensure_node_tools(layout.package_dir, work_dir / "npm.log")
    empty_config = work_dir / "empty-aws-config"
    empty_config.write_text("")
    env = localstack_environment(base_environment(), endpoint, empty_config)
    target = Target(TargetKind.EMULATOR, LOCALSTACK_ACCOUNT, endpoint=endpoint)
    bootstrap.bootstrap(tools.cdk, target, env, work_dir / "bootstrap.log")
    outputs_file = work_dir / "outputs.json"
    log = work_dir / "deploy.log"
    with log.open("wb") as out:
        result = subprocess.run(  # noqa: S603 - argument list, no shell
            [
                str(tools.cdk),
                "deploy",
                STACK_NAME,
                "--app",
                f"{sys.executable} -m friend_infra.app",
                "--output",
                str(work_dir / "cdk.out"),
                "--outputs-file",
                str(outputs_file),
                "--require-approval",
                "never",
                "--no-notices",
                "--no-version-reporting",
                *(f"--context={key}={value}" for key, value in settings.items()),
            ],
            env=env,
            cwd=work_dir,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0:
        raise DeployError(f"cdk deploy failed (exit {result.returncode}); see {log}")
    outputs: dict[str, str] = json.loads(outputs_file.read_text())[STACK_NAME]
    return Deployment(endpoint=endpoint, outputs=outputs)
