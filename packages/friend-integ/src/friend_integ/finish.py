"""What happens when a test's result is in: explain a failure, then delete the test's stacks.

integ-runner runs with `--no-clean` (see `friend_integ.integ_runner`), so a test's stacks are still
there when its result line arrives: a failed test's assertion stack, its functions' logs and its
template are read first (`friend_integ.diagnose`), then the stacks are deleted here, while the
other test files still run. A stack that does not delete fails the run.
"""

import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from friend_target import REGION

from friend_integ import cloudformation, snapshots
from friend_integ.diagnose import Diagnosis, diagnose, emulator_log_lines
from friend_integ.integ_runner import Result
from friend_integ.run_state import Outcomes, Run


@dataclass
class Finisher:
    """Finishes each test on a thread of its own as its result arrives; `wait` joins them."""

    run: Run
    outcomes: Outcomes
    clean: bool
    since_ms: int
    """When the run started (epoch milliseconds): older log lines belong to earlier runs."""
    emulator_log: Path | None = None
    """The embedded emulator's own log, if the run uses one, and where this run's part of it
    begins (bytes)."""
    emulator_log_offset: int = 0
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(4))
    _pending: list[Future[None]] = field(default_factory=list)

    def submit(self, result: Result) -> None:
        self._pending.append(self._pool.submit(self._finish, result))

    def wait(self) -> None:
        for future in self._pending:
            future.result()
        self._pool.shutdown()

    def _finish(self, result: Result) -> None:
        run = self.run
        region = result.region or REGION
        stacks = snapshots.test_stacks(run.layout, [result.test_file])
        if result.failed and stacks:
            self.outcomes.diagnoses[result.name] = self._diagnose(result, region, stacks)
        if not self.clean or not stacks:
            return
        started = time.monotonic()
        run.progress.step(f"{result.test_file}: deleting {', '.join(stacks)} ({region})")
        try:
            cloudformation.delete_stacks(cloudformation.client(run.env, region=region), stacks)
        except (cloudformation.StackDeletionError, BotoCoreError, ClientError) as error:
            self.outcomes.teardown_errors.append(f"{result.test_file}: {error}")
            run.progress.step(f"{result.test_file}: teardown failed: {error}")
        run.timed(f"destroy {result.test_file}", started)

    def _diagnose(self, result: Result, region: str, stacks: Sequence[str]) -> Diagnosis:
        started = time.monotonic()
        assertion_stack, *tested = stacks
        clients = {
            service: cloudformation.client(self.run.env, service, region=region)
            for service in ("cloudformation", "logs")
        }
        diagnosis = diagnose(
            clients,
            assertion_stack=assertion_stack,
            tested_stacks=tested,
            details=result.details,
            since_ms=self.since_ms,
            fallback_template=snapshots.template(
                self.run.layout, result.test_file, assertion_stack
            ),
        )
        if not diagnosis.function_logs and self.emulator_log is not None:
            diagnosis.function_logs = emulator_log_lines(
                self.emulator_log, self.emulator_log_offset, diagnosis.players
            )
        self.run.timed(f"explain {result.test_file}", started)
        return diagnosis
