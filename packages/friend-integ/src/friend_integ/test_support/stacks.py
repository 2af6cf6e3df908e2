"""CloudFormation for tests on an emulator: deploying a synthesized CDK app stack by stack,
waiting for stacks, and reading their events.

The one way a pytest test deploys a stack to an emulator (the ``deployed_stack`` fixture of
``fixtures`` uses it); the integ tests deploy through integ-runner instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from friend_integ import synth_cache
from friend_integ.emulators import Emulator
from friend_integ.targets import emulated_api_url
from friend_integ.test_support.emulators import TEST_ACCOUNT, TEST_REGION, AwsClientFactory

STACK_WAIT_SECONDS = 180.0
SYNTH_TIMEOUT_SECONDS = 600
"""A cold synthesis that bundles Lambda code takes minutes on a busy 2-core machine."""
SERVICE_APP = Path(__file__).with_name("service_app.py")
"""The service's stack as a CDK app for tests (``deployed_stack``, the generated requests)."""
SERVICE_STACK = "FriendService"
"""The stack's id in ``SERVICE_APP``'s assembly; each deployment gives it a name of its own."""
TEMPLATE_BODY_LIMIT = 51_200
"""Bytes of a template CloudFormation takes inline (``TemplateBody``)."""


def stack_events(cloudformation: Any, name: str) -> list[tuple[str, str, str]]:
    """(logical id, status, reason) of every event of the stack, oldest first."""
    events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    return [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason", ""))
        for e in reversed(events)
    ]


def wait_settled(cloudformation: Any, name: str, timeout: float, poll: float) -> dict[str, Any]:
    """The stack once no operation on it is in progress; fails with its events otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack: dict[str, Any] = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            return stack
        time.sleep(poll)
    raise AssertionError(f"stack {name} did not settle: {stack_events(cloudformation, name)}")


def wait_deleted(cloudformation: Any, name: str, timeout: float, poll: float) -> bool:
    """Whether the stack was gone (or DELETE_COMPLETE) within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live = {
            s["StackName"]
            for s in cloudformation.describe_stacks()["Stacks"]
            if s["StackStatus"] != "DELETE_COMPLETE"
        }
        if name not in live:
            return True
        time.sleep(poll)
    return False


def _substitute(text: str) -> str:
    return text.replace("${AWS::AccountId}", TEST_ACCOUNT).replace("${AWS::Region}", TEST_REGION)


@dataclass(frozen=True)
class Deployment:
    """A stack deployed at ``endpoint``: its outputs and the template it was deployed from."""

    endpoint: str
    stack: str
    outputs: Mapping[str, str]
    template: Mapping[str, Any]

    @property
    def api_url(self) -> str:
        """The API's stage, where the page is, as the emulator serves it."""
        return emulated_api_url(self.endpoint, self.outputs["ApiId"])


DeployStack = Callable[[Emulator, str], Deployment]
"""The ``deployed_stack`` fixture: ``deployed_stack(emulator, stack name)``."""


def _run_app(arguments: list[str], outdir: Path | None = None) -> None:
    """This interpreter with ``arguments``, in a fresh process as the CDK CLI runs an app
    (``outdir``: the output folder, handed on as the CLI does, in ``CDK_OUTDIR``)."""
    env = {**os.environ, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1"}
    if outdir is not None:
        env[synth_cache.OUTDIR_ENV] = str(outdir)
    subprocess.run(  # noqa: S603 - this interpreter, a test's own app or the package's module
        [sys.executable, *arguments],
        check=True,
        env=env,
        capture_output=True,
        timeout=SYNTH_TIMEOUT_SECONDS,
    )


class CloudAssembly:
    """A synthesized app, deployed stack by stack through CloudFormation."""

    def __init__(self, outdir: Path, aws_client: AwsClientFactory) -> None:
        self.outdir = outdir
        self.s3 = aws_client("s3")
        self.cloudformation = aws_client("cloudformation")
        self.deployed: list[str] = []

    @classmethod
    def synthesize(
        cls, app: Path, outdir: Path, aws_client: AwsClientFactory, *args: str
    ) -> CloudAssembly:
        """Run the CDK app ``app`` (a Python script taking ``outdir`` and ``args``) in a fresh
        interpreter, as the CDK CLI would, and return its assembly ready to deploy."""
        _run_app([str(app), str(outdir), *args])
        return cls(outdir, aws_client)

    @classmethod
    def of_service(cls, outdir: Path, aws_client: AwsClientFactory) -> CloudAssembly:
        """The service's stack (``SERVICE_APP``), through the synth cache of the integ command:
        synthesized once for the same sources and environment, replayed after that (across
        tests, test processes and runs)."""
        _run_app(["-m", "friend_integ.synth_cache", str(SERVICE_APP)], outdir=outdir)
        return cls(outdir, aws_client)

    def publish_assets(self, stack: str) -> dict[str, str]:
        """Upload the stack's file assets where its template expects them (what cdk-assets does);
        the S3 URL of each, by its source path."""
        manifest = json.loads((self.outdir / f"{stack}.assets.json").read_text())
        urls: dict[str, str] = {}
        for asset in manifest["files"].values():
            source = self.outdir / asset["source"]["path"]
            if asset["source"]["packaging"] == "zip":
                archive = shutil.make_archive(str(source), "zip", root_dir=source)
                body = Path(archive).read_bytes()
            else:
                body = source.read_bytes()
            for destination in asset["destinations"].values():
                bucket = _substitute(destination["bucketName"])
                self.s3.create_bucket(Bucket=bucket)
                self.s3.put_object(Bucket=bucket, Key=destination["objectKey"], Body=body)
                url = f"{self.s3.meta.endpoint_url}/{bucket}/{destination['objectKey']}"
                urls[asset["source"]["path"]] = url
        return urls

    def deploy(self, stack: str, name: str | None = None) -> dict[str, Any]:
        """Create the assembly's stack ``stack`` as the CloudFormation stack ``name`` (by
        default its own) and wait until it settles."""
        name = name or stack
        urls = self.publish_assets(stack)
        template_file = f"{stack}.template.json"
        template = (self.outdir / template_file).read_text()
        # Like the CDK CLI: a template over CloudFormation's limit for a request body is
        # deployed from its copy among the assets.
        source = (
            {"TemplateBody": template}
            if len(template.encode()) <= TEMPLATE_BODY_LIMIT
            else {"TemplateURL": urls[template_file]}
        )
        self.cloudformation.create_stack(
            StackName=name,
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            **source,
        )
        self.deployed.append(name)
        return wait_settled(self.cloudformation, name, STACK_WAIT_SECONDS, poll=0.2)

    def deployment(self, stack: str, name: str | None = None) -> Deployment:
        """Deploy ``stack`` (as ``name``); fails with its events unless it reaches
        CREATE_COMPLETE."""
        deployed = self.deploy(stack, name)
        assert deployed["StackStatus"] == "CREATE_COMPLETE", self.reasons(deployed["StackName"])
        return Deployment(
            endpoint=self.cloudformation.meta.endpoint_url,
            stack=deployed["StackName"],
            outputs={o["OutputKey"]: o["OutputValue"] for o in deployed.get("Outputs", [])},
            template=json.loads((self.outdir / f"{stack}.template.json").read_text()),
        )

    def reasons(self, stack: str) -> list[tuple[str, str, str]]:
        return stack_events(self.cloudformation, stack)

    def destroy(self) -> None:
        for stack in reversed(self.deployed):
            self.cloudformation.delete_stack(StackName=stack)
            wait_deleted(self.cloudformation, stack, STACK_WAIT_SECONDS, poll=0.2)
