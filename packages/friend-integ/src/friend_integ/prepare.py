"""Before integ-runner runs: choose the target, prove it is what it claims, prepare it.

The target's environment is fail closed (see `friend_integ.targets`); an embedded emulator is
chosen to be started (by ``cli.py``) only when nothing answers at its port; the account is
checked with exactly the environment the tools get; bootstrap runs only when the target's is
not current; stacks that an earlier `--no-clean` run kept are removed (on emulators only).
"""

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from friend_target import (
    LOCALSTACK_ACCOUNT,
    REGION,
    Target,
    TargetError,
    TargetKind,
    aws_target,
    check_account,
    emulator_target,
    localstack_environment,
)

from friend_integ import bootstrap, cloudformation
from friend_integ.emulators import DEFAULT_EMULATOR, EMULATORS, Emulator, create, health
from friend_integ.paths import Layout
from friend_integ.progress import Progress
from friend_integ.run_state import Run
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


@dataclass(frozen=True)
class TargetChoice:
    """Where a run deploys, decided before anything is started."""

    target: Target
    env: dict[str, str]
    """The exact environment every tool of the run gets (see `friend_integ.targets`)."""
    to_start: Emulator | None = None
    """The embedded emulator to start: nothing answers at its port yet."""
    reused: Emulator | None = None
    """An embedded emulator that an earlier run started and left running, in use as it is."""


def choose_target(args: argparse.Namespace, layout: Layout, progress: Progress) -> TargetChoice:
    """Decide the target and its environment (an embedded emulator is only chosen here)."""
    base = base_environment()
    if args.snapshot_only:
        # No target, and no way to reach one: test credentials and a closed endpoint.
        env = localstack_environment(base, CLOSED_ENDPOINT, _empty_config(layout))
        return TargetChoice(Target(TargetKind.NONE, LOCALSTACK_ACCOUNT), env)
    if args.aws_account:
        return TargetChoice(*aws_target(base, args.aws_account))
    if args.endpoint:
        return TargetChoice(*emulator_target(base, args.endpoint, _empty_config(layout)))
    wanted = create(args.emulator or DEFAULT_EMULATOR, port=args.port)
    endpoint = wanted.endpoint
    env = localstack_environment(base, endpoint, _empty_config(layout))
    embedded = Target(TargetKind.EMBEDDED, LOCALSTACK_ACCOUNT, endpoint=endpoint)
    if health(endpoint) is None:
        return TargetChoice(embedded, env, to_start=wanted)
    running = [name for name in EMULATORS if create(name, port=args.port).is_running()]
    if args.emulator is not None and running != [args.emulator]:
        raise TargetError(
            f"--emulator {args.emulator}: another emulator already answers at {endpoint}; "
            "stop it or choose another --port"
        )
    if not running:
        progress.step(f"an emulator already answers at {endpoint}: using it as it is")
        return TargetChoice(Target(TargetKind.EMULATOR, LOCALSTACK_ACCOUNT, endpoint=endpoint), env)
    found = create(running[0], port=args.port)
    progress.step(f"embedded {found.title} already runs at {endpoint}: using it")
    return TargetChoice(named(embedded, found), env, reused=found)


def named(target: Target, emulator: Emulator) -> Target:
    """``target`` named as progress and summary show it: which emulator, which version."""
    version = emulator.version()
    return replace(target, name=f"embedded {emulator.title}" + (f" {version}" if version else ""))


def check_answers(target: Target) -> None:
    """An emulator target must answer its health check with every service the stack uses."""
    if target.endpoint is None:
        return
    answer = health(target.endpoint)
    if answer is None:
        raise TargetError(f"no emulator answers at {target.endpoint}/_localstack/health")
    missing = missing_services(answer)
    if missing:
        raise TargetError(f"the emulator at {target.endpoint} lacks services: {', '.join(missing)}")


def in_region(env: Mapping[str, str], region: str) -> dict[str, str]:
    """The tools' environment with `region` as the region of every call."""
    return {**env, "AWS_REGION": region, "AWS_DEFAULT_REGION": region}


def probe(run: Run, stacks: Sequence[str], region: str = REGION) -> dict[str, Any]:
    """Ask the target (with the tools' exact environment) who we are and what it holds."""
    result = subprocess.run(  # noqa: S603 - argument list, no shell
        [sys.executable, "-m", "friend_integ.probe", *stacks],
        env=in_region(run.env, region),
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
    """Check the account, bootstrap each region when needed, clear stacks left by a
    `--no-clean` run. The regions are asked and bootstrapped side by side."""
    assert run.target is not None
    target = run.target
    started = time.monotonic()
    stacks = test_stacks(run.layout, args.tests)
    if target.kind is TargetKind.AWS:
        check_cdk_profile(Path(run.env.get("HOME", str(Path.home()))) / ".cdk.json", run.env)
    with ThreadPoolExecutor(len(run.regions)) as pool:
        asked = pool.map(lambda region: probe(run, stacks, region), run.regions)
        answers = dict(zip(run.regions, asked, strict=True))
    for answer in answers.values():
        if "error" in answer:
            raise TargetError(f"{target.describe()} did not answer: {answer['error']}")
        check_account(target, answer.get("account"))
    run.progress.detail(f"caller {answers[run.regions[0]]['arn']} (account verified)")
    run.timed("target checks", started)

    wanted = bootstrap.template_version(cdk_package)
    stale = [
        region
        for region, answer in answers.items()
        if not bootstrap.is_current(answer["bootstrap_status"], answer["bootstrap_version"], wanted)
    ]
    if not stale:
        run.progress.step(f"bootstrap: CDKToolkit is current (version {wanted}), skipped")
    else:
        started = time.monotonic()
        where = ", ".join(f"aws://{target.account}/{region}" for region in stale)
        run.progress.step(f"bootstrap: cdk bootstrap {where}")
        bootstrap.bootstrap(cdk, target, run.env, run.log_dir / "bootstrap.log", regions=stale)
        run.progress.detail(f"done in {run.timed('bootstrap', started):.1f}s")

    leftovers = {
        region: list(a.get("stacks", {})) for region, a in answers.items() if a.get("stacks")
    }
    if leftovers:
        if not target.is_emulator:
            found = ", ".join(name for names in leftovers.values() for name in names)
            raise TargetError(
                f"stacks from an earlier run exist in {target.describe()}: "
                f"{found}; delete them first (cdk destroy or the console)"
            )
        started = time.monotonic()
        run.progress.step(f"removing stacks left by an earlier --no-clean run: {leftovers}")
        try:
            for region, names in leftovers.items():
                cloudformation.delete_stacks(cloudformation.client(run.env, region=region), names)
        except (cloudformation.StackDeletionError, BotoCoreError, ClientError) as error:
            raise TargetError(f"could not delete leftover stacks: {error}") from error
        run.timed("leftover cleanup", started)
