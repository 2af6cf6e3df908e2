"""A seeded storm of friend actions through the real handlers on moto: throughput and invariant.

The whole chain runs in-process, as in the tests (``tests/harness.py``): SQS -> front ->
Friend table -> stream -> the four filtered stream handlers, each mapping at its own pace,
records of different rows out of order, stream records and SQS messages delivered twice, every
invocation on a host clock up to two seconds off. Drains at random checkpoints and at the end,
each checking the invariant for every pair. Prints actions per second, drains, invariant
violations and redeliveries that changed the table (0 expected for both).

The storm runs in rounds (``--round`` actions each, in a fresh moto account, one seeded
schedule throughout): moto deep-copies a whole table, stream included, for every transaction and
keeps every shard iterator it hands out (each holding on to the table copy it was taken from),
so one long run measures moto's growing copies rather than the handlers' work (10,000 actions
in one round passed 5 GB before it was stopped).

    uv run --package friend-handlers python benchmarks/handlers_storm.py
    uv run --package friend-handlers python benchmarks/handlers_storm.py \\
        --actions 2000 --players 5 --seed 7

Throughput is moto's in-process DynamoDB and SQS on this machine, not AWS's: a measure of the
handlers' work per action (and of regressions in it), not of a deployed service.
"""

import argparse
import logging
import os
import random
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "packages" / "friend-handlers"
sys.path.insert(0, str(PACKAGE))  # the tests' harness and moto set-up, shared with the tests

# isort: off
# The tests' set-up first: it sets the environment that the handlers read when imported.
from tests.conftest import make_lambda_context, resources  # noqa: E402
from tests.harness import Chain, StormReport, storm  # noqa: E402
from friend_handlers.dead_letter import DLQ_URL_ENV  # noqa: E402
from friend_handlers.observability import logger  # noqa: E402
from moto import mock_aws  # noqa: E402
# isort: on

MAX_SKEW_MS = 2_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=10_000)
    parser.add_argument("--players", type=int, default=8)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--round", type=int, default=500, help="actions per fresh table")
    args = parser.parse_args()
    players = [f"player{number}" for number in range(args.players)]

    # The handlers log and emit metrics as in Lambda (that work is measured too), into the void.
    log_handler = logger.registered_handler
    assert isinstance(log_handler, logging.StreamHandler)
    schedule = random.Random(args.seed)  # noqa: S311 - a reproducible schedule, no secret
    total, rounds, delivered = StormReport(), 0, 0
    with open(os.devnull, "w") as void, redirect_stdout(void):
        log_handler.setStream(void)
        started = time.perf_counter()
        while total.actions < args.actions:
            with mock_aws(), resources() as aws:
                os.environ[DLQ_URL_ENV] = aws.dlq_url
                chain = Chain(aws, make_lambda_context(), schedule, MAX_SKEW_MS)
                report = storm(chain, players, min(args.round, args.actions - total.actions))
            rounds += 1
            delivered += len(chain.delivered)
            total.actions += report.actions
            total.drains += report.drains
            total.violations += report.violations
            total.redeliveries += report.redeliveries
            total.changed_by_redelivery += report.changed_by_redelivery
        elapsed = time.perf_counter() - started
    report = total

    print(
        f"storm: seed {args.seed}, {args.players} players, host clocks +-{MAX_SKEW_MS} ms, "
        f"{rounds} rounds of up to {args.round} actions"
    )
    print(f"actions:      {report.actions} in {elapsed:.1f} s = {report.actions / elapsed:.1f}/s")
    print(f"stream:       {delivered} records delivered (duplicates included)")
    print(f"drains:       {report.drains}")
    print(f"violations:   {len(report.violations)} (0 expected)")
    for violation in report.violations[:10]:
        print(f"  {violation}")
    print(
        f"redelivered:  {report.redeliveries} messages, "
        f"{report.changed_by_redelivery} changed the table (0 expected)"
    )
    sys.exit(1 if report.violations or report.changed_by_redelivery else 0)


if __name__ == "__main__":
    main()
