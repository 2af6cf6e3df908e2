"""``friend-localstack``: install, start, stop and inspect the embedded LocalStack.

Each command prints what it measured (install and start seconds, resident memory), so the
numbers quoted in the README can be reproduced with the command itself.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from friend_integ.localstack.embedded import (
    DEFAULT_PORT,
    EmbeddedLocalStack,
    LocalStackError,
    health,
)

EXIT_NOT_RUNNING = 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="friend-localstack",
        description="Run open-source LocalStack on this host (no Docker) with the project's "
        "extension, bound to 127.0.0.1.",
    )
    parser.add_argument("command", choices=["install", "start", "stop", "status"])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="default: %(default)s")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="folder for the environment, state and logs (default: <repo>/.state/localstack)",
    )
    parser.add_argument(
        "--timeout", type=float, default=60, help="seconds to wait for health on start"
    )
    args = parser.parse_args(argv)
    localstack = EmbeddedLocalStack(port=args.port, state_dir=args.state_dir)

    try:
        if args.command == "install":
            _timed("installed", localstack.install)
        elif args.command == "start":
            _start(localstack, args.timeout)
        elif args.command == "stop":
            was_running = localstack.is_running()
            _timed("stopped" if was_running else "not running; nothing to stop", localstack.stop)
        else:
            return _status(localstack)
    except LocalStackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _start(localstack: EmbeddedLocalStack, timeout: float) -> None:
    _timed("environment ready", localstack.install)
    _timed(f"LocalStack ready at {localstack.endpoint}", lambda: localstack.start(timeout))
    print(f"memory (RSS): {localstack.memory_rss_bytes() / 2**20:.0f} MiB")
    print(f"logs: {localstack.log_file}")
    print(f"stop: friend-localstack stop --port {localstack.port}")


def _status(localstack: EmbeddedLocalStack) -> int:
    running = localstack.is_running()
    answer = health(localstack.endpoint)
    if running:
        print(f"running (started from {localstack.state_dir}) at {localstack.endpoint}")
        print(f"memory (RSS): {localstack.memory_rss_bytes() / 2**20:.0f} MiB")
        print(f"logs: {localstack.log_file}")
    elif answer is not None:
        print(
            f"a LocalStack not started from {localstack.state_dir} answers at {localstack.endpoint}"
        )
    else:
        print(f"not running at {localstack.endpoint}")
    if answer is not None:
        print(json.dumps(answer, indent=2, sort_keys=True))
    return 0 if answer is not None else EXIT_NOT_RUNNING


def _timed(message: str, action: Callable[[], None]) -> None:
    started = time.perf_counter()
    action()
    print(f"{message} ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    raise SystemExit(main())
