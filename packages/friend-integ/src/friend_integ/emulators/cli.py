"""``friend-emulator``: install, start, stop and inspect an embedded emulator.

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

from friend_integ.emulators import (
    DEFAULT_EMULATOR,
    DEFAULT_PORT,
    EMULATORS,
    Emulator,
    EmulatorError,
    InstallError,
    create,
    health,
)

EXIT_NOT_RUNNING = 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="friend-emulator",
        description="Run an AWS emulator on this host (no Docker), bound to 127.0.0.1.",
    )
    parser.add_argument("command", choices=["install", "start", "stop", "status"])
    parser.add_argument(
        "--emulator",
        choices=EMULATORS.choices(),
        default=DEFAULT_EMULATOR,
        help="default: %(default)s",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="default: %(default)s")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="folder for the environment, state and logs (default: <repo>/.state/<emulator>)",
    )
    parser.add_argument("--timeout", type=float, default=90, help="seconds to wait on start")
    args = parser.parse_args(argv)

    try:
        emulator = create(args.emulator, port=args.port, state_dir=args.state_dir)
        if args.command == "install":
            _timed("installed", emulator.install)
        elif args.command == "start":
            _start(emulator, args.timeout)
        elif args.command == "stop":
            was_running = emulator.is_running()
            _timed("stopped" if was_running else "not running; nothing to stop", emulator.stop)
        else:
            return _status(emulator)
    except (EmulatorError, InstallError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def stop_command(emulator: Emulator) -> str:
    """The command a person runs to stop ``emulator``."""
    return (
        f"uv run --package friend-integ friend-emulator stop --emulator {emulator.key} "
        f"--port {emulator.port}"
    )


def _start(emulator: Emulator, timeout: float) -> None:
    _timed("environment ready", emulator.install)
    _timed(f"{emulator.title} ready at {emulator.endpoint}", lambda: emulator.start(timeout))
    print(f"version: {emulator.version()}")
    print(f"memory (RSS): {emulator.memory_rss_bytes() / 2**20:.0f} MiB")
    print(f"logs: {emulator.log_file}")
    print(f"stop: {stop_command(emulator)}")


def _status(emulator: Emulator) -> int:
    running = emulator.is_running()
    answer = health(emulator.endpoint)
    if running:
        print(
            f"{emulator.title} running (started from {emulator.state_dir}) at {emulator.endpoint}"
        )
        print(f"memory (RSS): {emulator.memory_rss_bytes() / 2**20:.0f} MiB")
        print(f"logs: {emulator.log_file}")
    elif answer is not None:
        print(f"an emulator not started from {emulator.state_dir} answers at {emulator.endpoint}")
    else:
        print(f"not running at {emulator.endpoint}")
    if answer is not None:
        print(json.dumps(answer, indent=2, sort_keys=True))
    return 0 if answer is not None else EXIT_NOT_RUNNING


def _timed(message: str, action: Callable[[], None]) -> None:
    started = time.perf_counter()
    action()
    print(f"{message} ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    raise SystemExit(main())
