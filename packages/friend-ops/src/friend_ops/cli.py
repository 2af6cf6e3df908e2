"""``friend-ops redrive|reconcile``: repair a deployed friend microservice.

    friend-ops redrive   [--endpoint URL | --aws-account ID [--region R]] [--stack NAME]
    friend-ops reconcile [--apply] [--settle-seconds N] [target options]

(from the workspace: ``uv run --package friend-ops friend-ops ...``).

Without ``--aws-account`` the target is the emulator at ``--endpoint`` (default
``http://127.0.0.1:4566``) with test credentials; see :mod:`.target`. Exit status: 0 when
nothing is left to do, 1 when work remains (messages left in the queue, broken pairs not
repaired), 2 when the target or the stack is not what was asked for.
"""

import argparse
import os
import sys
from collections import Counter
from collections.abc import Mapping, Sequence

import boto3
from friend_target import DEFAULT_ENDPOINT, REGION, TargetError
from tqdm import tqdm

from friend_ops import reconcile, redrive, target


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_mutually_exclusive_group()
    where.add_argument(
        "--endpoint",
        help=f"LocalStack-compatible emulator (default {DEFAULT_ENDPOINT}, when no "
        "--aws-account is given); test credentials only",
    )
    where.add_argument(
        "--aws-account",
        metavar="ID",
        help="real AWS, with your usual credentials, checked to belong to this account",
    )
    common.add_argument("--region", default=REGION, help=f"AWS region (default {REGION})")
    common.add_argument(
        "--stack",
        help="the deployed FriendMicroservicesStack (default: the only stack with its outputs)",
    )
    parser = argparse.ArgumentParser(
        prog="friend-ops", description="Repair a deployed friend microservice."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "redrive",
        parents=[common],
        help="process stream batches from the stream failure queue again",
        description=(redrive.__doc__ or "").split("\n\n")[0],
    )
    check = commands.add_parser(
        "reconcile",
        parents=[common],
        help="list the pairs that break the invariant; --apply repairs them",
        description=(reconcile.__doc__ or "").split("\n\n")[0],
    )
    check.add_argument("--apply", action="store_true", help="repair (default: dry run)")
    check.add_argument(
        "--settle-seconds",
        type=float,
        default=reconcile.SETTLE_SECONDS,
        help="leave pairs changed more recently alone: they may still be propagating "
        f"(default {reconcile.SETTLE_SECONDS})",
    )
    return parser


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def run_redrive(session: boto3.session.Session, deployment: target.Deployment) -> int:
    lambda_client = session.client("lambda")
    job = redrive.Redrive(
        sqs=session.client("sqs"),
        streams=session.client("dynamodbstreams"),
        lambda_=lambda_client,
        queue_url=deployment.output(target.FAILURE_QUEUE_OUTPUT),
        invoke=redrive.LambdaInvoker(lambda_client),
    )
    print(f"redrive: {_plural(job.waiting(), 'message')} in {job.queue_url}")
    with tqdm(total=job.waiting(), unit="msg", disable=None, file=sys.stderr) as bar:

        def tick(_: redrive.Result) -> None:
            bar.update()

        summary = job.run(tick)
    for problem in summary.problems:
        print(f"  left in the queue: {problem}")
    left = ", ".join(
        f"{result.value} {n}"
        for result, n in sorted(summary.results.items())
        if result is not redrive.Result.REDRIVEN
    )
    print(
        f"summary: {summary.results[redrive.Result.REDRIVEN]} redriven "
        f"({_plural(summary.records, 'record')}), {summary.left} left in the queue"
        + (f" ({left})" if left else "")
    )
    return 1 if summary.left else 0


def _counts(counter: Mapping[str, int]) -> str:
    return ", ".join(
        f"{n} {what}" for what, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    )


def run_reconcile(
    session: boto3.session.Session,
    deployment: target.Deployment,
    *,
    apply: bool,
    settle_seconds: float,
) -> int:
    table = reconcile.Table(session.client("dynamodb"), deployment.output(target.TABLE_OUTPUT))
    print(f"reconcile: table {table.name} ({'applying repairs' if apply else 'dry run'})")
    with tqdm(
        total=table.approximate_rows() or None, unit="row", disable=None, file=sys.stderr
    ) as bar:
        rows = table.scan(bar.update)
    findings = reconcile.check(rows, settle_seconds=settle_seconds)
    outcomes: Counter[reconcile.Outcome] = Counter()
    repaired: Counter[str] = Counter()
    with tqdm(
        findings.repairs,
        unit="pair",
        disable=None if apply and findings.repairs else True,
        file=sys.stderr,
    ) as bar:
        for repair in bar:
            outcome = table.apply(repair) if apply else None
            verdict = f" [{outcome.value}]" if outcome else ""
            if outcome:
                outcomes[outcome] += 1
            if outcome is reconcile.Outcome.REPAIRED:
                repaired[repair.rule.name.lower().replace("_", " ")] += 1
            tqdm.write(f"  broken: {repair.pair.describe()}; repair: {repair.describe()}{verdict}")
    for left in findings.left_alone:
        tqdm.write(f"  left alone ({left.reason.value}): {left.pair.describe()}")
    reasons = {reason.name.lower().replace("_", " "): n for reason, n in findings.reasons().items()}
    rules = {rule.name.lower().replace("_", " "): n for rule, n in findings.rules().items()}
    done = outcomes[reconcile.Outcome.REPAIRED]
    changed = outcomes[reconcile.Outcome.CHANGED]
    print(
        f"summary: {findings.rows} rows, {findings.pairs} pairs; "
        + (
            f"{done} repaired"
            + (f" ({_counts(repaired)})" if repaired else "")
            + f", {changed} changed since the scan"
            if apply
            else f"{len(findings.repairs)} to repair" + (f" ({_counts(rules)})" if rules else "")
        )
        + f"; {len(findings.left_alone)} left alone"
        + (f" ({_counts(reasons)})" if reasons else "")
    )
    if not apply and findings.repairs:
        print("run again with --apply to repair them")
    in_flight = findings.reasons()[reconcile.Reason.IN_FLIGHT]
    unresolved = len(findings.left_alone) - in_flight
    return 0 if done == len(findings.repairs) and not unresolved else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        chosen, environment = target.choose(
            args.endpoint, args.aws_account, os.environ, args.region
        )
        with target.scoped_environment(environment):
            session = boto3.session.Session()
            caller = target.verify(chosen, session)
            print(f"target: {chosen.describe()}, caller {caller}")
            deployment = target.find_deployment(session.client("cloudformation"), args.stack)
            print(f"stack: {deployment.stack}")
            if args.command == "redrive":
                return run_redrive(session, deployment)
            return run_reconcile(
                session, deployment, apply=args.apply, settle_seconds=args.settle_seconds
            )
    except TargetError as error:
        print(f"friend-ops: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
