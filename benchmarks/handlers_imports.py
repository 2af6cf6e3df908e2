"""Cold-import time of each Lambda entry point, measured with ``python -X importtime``.

Each handler module is imported in a fresh interpreter, as in a Lambda cold start, with the
environment the stack sets and with Lambda's own markers so that Powertools' Tracer is enabled
(it imports the X-Ray SDK and patches botocore only then). Prints the median of several runs
of the cumulative import time of ``friend_handlers.handlers.<name>`` and of its heaviest
dependencies.

    uv run --package friend-handlers python benchmarks/handlers_imports.py

``--bundle DIR`` imports from a Lambda bundle instead of the workspace (the bundle first on the
path, the SDK from the environment as the runtime provides it, and no bytecode written, as in
Lambda's read-only task folder), so the effect of the bytecode a bundle ships can be measured:

    uv run --package friend-handlers python benchmarks/handlers_imports.py \
        --bundle .state/bundles/<entry>
"""

import argparse
import os
import re
import statistics
import subprocess
import sys

from friend_handlers.filters import HANDLERS

RUNS = 7
REFERENCES = ("boto3", "pynamodb.models")
"""Measured alongside, so numbers from a busy machine can still be read as ratios: ``boto3`` is
what a plain Python Lambda usually imports, ``pynamodb.models`` the floor of any of ours."""
WATCHED = (
    "botocore",
    "boto3",
    "pynamodb",
    "pydantic",
    "pydantic_core",
    "aws_lambda_powertools",
    "aws_xray_sdk",
    "friend_handlers",
)
TOTAL = "<total>"
LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")

ENVIRONMENT = {
    **os.environ,
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "FRIEND_TABLE_NAME": "Friend",
    "FRIEND_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
    "POWERTOOLS_SERVICE_NAME": "friend",
    "POWERTOOLS_METRICS_NAMESPACE": "FriendMicroservices",
    "LAMBDA_TASK_ROOT": "/var/task",
    "AWS_LAMBDA_FUNCTION_NAME": "friend-import-time",
    "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
}


def measure(module: str, bundle: str | None = None) -> dict[str, int]:
    """Microseconds: ``module``'s cumulative import time, and the self time of every module of
    each top-level package summed (where the time goes, whoever imported it)."""
    command = [sys.executable, "-X", "importtime", "-c", f"import {module}"]
    if bundle is not None:
        setup = f"import sys; sys.path.insert(0, {bundle!r}); "
        command = [sys.executable, "-I", "-B", "-X", "importtime", "-c", setup + command[-1]]
    result = subprocess.run(  # noqa: S603 - fixed arguments, our own interpreter
        command,
        env=ENVIRONMENT,
        capture_output=True,
        text=True,
        check=True,
    )
    totals: dict[str, int] = {}
    for match in LINE.finditer(result.stderr):
        own, cumulative, name = int(match.group(1)), int(match.group(2)), match.group(4)
        top = name.split(".")[0]
        if name == module:
            totals[TOTAL] = cumulative
        totals[top] = totals.get(top, 0) + own
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", help="import from this Lambda bundle folder")
    bundle = parser.parse_args().bundle
    if bundle is not None:
        bundle = os.path.abspath(bundle)
        print(f"from the bundle {bundle}")
    print(f"median of {RUNS} cold imports, milliseconds; total = the handler module with all it")
    print("imports; per package = self time of all that package's modules")
    header = ["handler", "total", *WATCHED]
    print(
        " ".join(f"{column[:10]:>10}" if i else f"{column:<15}" for i, column in enumerate(header))
    )
    for name in (*HANDLERS, *REFERENCES):
        module = name if name in REFERENCES else f"friend_handlers.handlers.{name}"
        runs = [measure(module, bundle) for _ in range(RUNS)]
        row = [statistics.median(run.get(TOTAL, 0) for run in runs) / 1000]
        row += [statistics.median(run.get(top, 0) for run in runs) / 1000 for top in WATCHED]
        print(f"{name:<16}" + "".join(f"{value:>11.1f}" for value in row))


if __name__ == "__main__":
    main()
