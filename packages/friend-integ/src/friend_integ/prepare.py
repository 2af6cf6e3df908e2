"""Before integ-runner runs: choose the target, prove it is what it claims, prepare it.

The target's environment is fail closed (see `friend_integ.targets`); an embedded emulator is
started only when nothing answers at its port; the account is checked with exactly the
environment the tools get; bootstrap runs only when the target's is not current; stacks that an
earlier `--no-clean` run kept are removed (on emulators only).
"""

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from friend_target import (
    LOCALSTACK_ACCOUNT,
    REGION,
    Target,
    TargetError,
    TargetKind,
    aws_environment,
    check_account,
    localstack_environment,
    normalize_endpoint,
)

from friend_integ import bootstrap, cloudformation
from friend_integ.emulators import DEFAULT_EMULATOR, EMULATORS, Emulator, create, health
from friend_integ.paths import Layout
from friend_integ.run import Run
from friend_integ.snapshots import test_stacks
from friend_integ.targets import (
    CLOSED_ENDPOINT,
    base_environment,
    check_cdk_profile,
    missing_services,
)


def _empty_config(layout: Layout) -> Path:
    """An empty file that stands in for the AWS config and credentials files."""
    path = layout.state_dir / "empty-aws-config"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    return path


def choose_target(args: argparse.Namespace, run: Run) -> None:
    """Decide the target and its environment; start the embedded emulator if needed."""
    base = base_environment()
    if args.snapshot_only:
        # No target, and no way to reach one: test credentials and a closed endpoint.
        run.target = Target(TargetKind.NONE, LOCALSTACK_ACCOUNT)
        run.env = localstack_environment(base, CLOSED_ENDPOINT, _empty_config(run.layout))
        return
    if args.aws_account:
        run.target = Target(TargetKind.AWS, args.aws_account)
        run.env = aws_environment(base, REGION, args.aws_account)
        return
    if args.endpoint:
        run.target = Target(
            TargetKind.EMULATOR, LOCALSTACK_ACCOUNT, endpoint=normalize_endpoint(args.endpoint)
        )
    else:
        run.target = _embedded_target(args, run)
    endpoint = run.target.endpoint
    assert endpoint is not None
    run.env = localstack_environment(base, endpoint, _empty_config(run.layout))
    answer = health(endpoint)
    if answer is None:
        raise TargetError(f"no emulator answers at {endpoint}/_localstack/health")
    missing = missing_services(answer)
    if missing:
        raise TargetError(f"the emulator at {endpoint} lacks services: {', '.join(missing)}")


def _embedded_target(args: argparse.Namespace, run: Run) -> Target:
    """The embedded emulator at the port: one already running there, else one started now."""
    wanted = create(args.emulator or DEFAULT_EMULATOR, port=args.port)
    endpoint = wanted.endpoint
    if health(endpoint) is not None:
        running = [name for name in EMULATORS if create(name, port=args.port).is_running()]
        if args.emulator is not None and running != [args.emulator]:
            raise TargetError(
                f"--emulator {args.emulator}: another emulator already answers at {endpoint}; "
                "stop it or choose another --port"
            )
        if not running:
            run.progress.step(f"an emulator already answers at {endpoint}: using it as it is")
            return Target(TargetKind.EMULATOR, LOCALSTACK_ACCOUNT, endpoint=endpoint)
        found = create(running[0], port=args.port)
        run.progress.step(f"embedded {found.title} already runs at {endpoint}: using it")
        run.embedded_already_running = found
        return Target(TargetKind.EMBEDDED, LOCALSTACK_ACCOUNT, endpoint=endpoint, name=_name(found))
    started = time.monotonic()
    run.progress.step(f"embedded {wanted.title}: checking its environment (installs once)")
    wanted.install()
    run.timed(f"{wanted.title} environment", started)
    started = time.monotonic()
    run.progress.step(f"embedded {wanted.title}: starting at {endpoint}")
    run.emulator = wanted
    wanted.start(timeout=90)
    run.progress.detail(f"ready after {run.timed(f'{wanted.title} start', started):.1f}s")
    return Target(TargetKind.EMBEDDED, LOCALSTACK_ACCOUNT, endpoint=endpoint, name=_name(wanted))


def _name(emulator: Emulator) -> str:
    """How the target is named in progress and summary: which emulator, which version."""
    version = emulator.version()
    return f"embedded {emulator.title}" + (f" {version}" if version else "")


def probe(run: Run, stacks: Sequence[str]) -> dict[str, Any]:
    """Ask the target (with the tools' exact environment) who we are and what it holds."""
    result = subprocess.run(  # noqa: S603 - argument list, no shell
        [sys.executable, "-m", "friend_integ.probe", *stacks],
        env=run.env,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        answer: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError:
        answer = {"error": (result.stderr or result.stdout).strip()[-2000:]}
    return answer


def verify_and_prepare(args: argparse.Namespace, run: Run, cdk_package: Path, cdk: Path) -> None:
    """Check the account, bootstrap when needed, clear stacks left by a `--no-clean` run."""
    assert run.target is not None
    started = time.monotonic()
    stacks = test_stacks(run.layout, args.tests)
    if run.target.kind is TargetKind.AWS:
        check_cdk_profile(Path(run.env.get("HOME", str(Path.home()))) / ".cdk.json", run.env)
    answer = probe(run, stacks)
    if "error" in answer:
        raise TargetError(f"{run.target.describe()} did not answer: {answer['error']}")
    check_account(run.target, answer.get("account"))
    run.progress.detail(f"caller {answer['arn']} (account verified)")
    run.timed("target checks", started)

    wanted = bootstrap.template_version(cdk_package)
    if bootstrap.is_current(answer["bootstrap_status"], answer["bootstrap_version"], wanted):
        run.progress.step(f"bootstrap: CDKToolkit is current (version {wanted}), skipped")
    else:
        started = time.monotonic()
        run.progress.step(f"bootstrap: cdk bootstrap aws://{run.target.account}/{REGION}")
        bootstrap.bootstrap(cdk, run.target, run.env, run.log_dir / "bootstrap.log")
        run.progress.detail(f"done in {run.timed('bootstrap', started):.1f}s")

    leftovers = list(answer.get("stacks", {}))
    if leftovers:
        if not run.target.is_emulator:
            raise TargetError(
                f"stacks from an earlier run exist in {run.target.describe()}: "
                f"{', '.join(leftovers)}; delete them first (cdk destroy or the console)"
            )
        started = time.monotonic()
        run.progress.step(f"removing stacks left by an earlier --no-clean run: {leftovers}")
        try:
            cloudformation.delete_stacks(cloudformation.client(run.env), leftovers)
        except (BotoCoreError, ClientError) as error:
            raise TargetError(f"could not delete leftover stacks: {error}") from error
        run.timed("leftover cleanup", started)
