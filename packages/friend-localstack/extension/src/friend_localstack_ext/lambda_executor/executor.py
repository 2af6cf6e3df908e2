"""LocalStack's ``RuntimeExecutor`` contract fulfilled by host processes instead of containers.

One execution environment is one function process (a bootstrap of ours running the handler)
plus one Runtime API server that feeds it events. LocalStack keeps the environment warm between
invocations exactly as with Docker; this module decides how an environment starts, invokes and
stops, and does what AWS's runtime (and LocalStack's Go init in the container) does around an
invocation: a timeout kills the whole process group and the next event gets a fresh process
(AWS resets the sandbox), and a function process that dies is reported as ``Runtime.ExitError``,
never as a hang. The pieces it ties to LocalStack's calls and to the Runtime API's callbacks have
modules of their own: the Lambda environment variables (:mod:`.function_environment`), the
process group and its output (:mod:`.function_process`), and the START/END/REPORT lines and the
sandbox's errors (:mod:`.invocation_report`).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from localstack import config
from localstack.services.lambda_.invocation.executor_endpoint import (
    StatusErrorException,
)
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

from .deps import default_deps_dir, ensure_python_packages, node_modules
from .function_environment import function_environment
from .function_process import FunctionProcess
from .invocation_report import (
    invocation_logs,
    runtime_exited,
    runtime_exited_during_init,
    timed_out,
)
from .output import OutputCapture
from .runtime_api import PendingInvocation, RuntimeApiServer
from .runtimes import RuntimeSpec, bootstrap_command, interpreter_for, runtime_spec

LOG = logging.getLogger(__name__)

# How long the output of an invocation may trail its result (both are flushed before the post).
_OUTPUT_GRACE_SECONDS = 2.0


class _Invocation:
    """The invocation in flight: its result arrives on a Runtime API thread."""

    def __init__(self, pending: PendingInvocation) -> None:
        self.pending = pending
        self.result: concurrent.futures.Future[tuple[bytes, bool]] = concurrent.futures.Future()
        self.started = time.perf_counter()
        self.max_memory_mb = 0
        self.exit_status: str | None = None


class SubprocessRuntimeExecutor(RuntimeExecutor):
    """Runs a Lambda execution environment as a host process group (no Docker)."""

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self._spec: RuntimeSpec = runtime_spec(
            function_version.config.runtime, function_version.config.package_type
        )
        self._api = RuntimeApiServer(self)
        self._lock = threading.Lock()
        self._process: FunctionProcess | None = None
        self._output: OutputCapture | None = None
        self._ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._current: _Invocation | None = None
        self._env: dict[str, str] = {}
        self._tmp_dir = Path(tempfile.mkdtemp(prefix=f"lambda-{id[:8]}-"))
        self._init_started = 0.0
        self._init_duration_ms: float | None = None
        self._init_output = ""
        self._stopped = False

    # LocalStack's contract ------------------------------------------------------------------

    def start(self, env_vars: dict[str, str]) -> None:
        self._env = function_environment(
            env_vars, self.function_version, self._spec, self._api.address, self._tmp_dir
        )
        self._api.start()
        self._launch()
        self._wait_until_ready()

    def stop(self) -> None:
        self._stopped = True
        self.kill_process()
        _fail(self._ready, LambdaRuntimeException(f"Execution environment {self.id} stopped"))
        current = self._current
        if current is not None and not current.result.done():
            current.result.cancel()
        self._api.close()
        shutil.rmtree(self._tmp_dir, ignore_errors=True)

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        host = config.GATEWAY_LISTEN[0].host
        return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104

    def get_runtime_endpoint(self) -> str:
        return f"http://{self._api.address}"

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload["invoke-id"]
        if self._stopped:
            raise LambdaRuntimeException(f"Execution environment {self.id} is stopped")
        if self._process is None:
            # The previous process timed out or crashed: start a fresh one, like AWS would.
            try:
                self._launch()
                self._wait_until_ready()
            except StatusErrorException as error:
                return InvocationResult(
                    request_id, error.payload, is_error=True, logs=self._init_output
                )
        timeout = int(self.function_version.config.timeout)
        pending = PendingInvocation(
            request_id=request_id,
            payload=payload["payload"].encode(),
            invoked_function_arn=payload["invoked-function-arn"],
            trace_id=payload.get("trace-id", ""),
            deadline_ms=int(time.time() * 1000) + timeout * 1000,
        )
        invocation = _Invocation(pending)
        self._current = invocation
        init_logs, self._init_output = self._init_output, ""
        init_duration, self._init_duration_ms = self._init_duration_ms, None
        self._api.submit(pending)
        try:
            body, is_error = invocation.result.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            return self._timed_out(invocation, timeout, init_logs)
        except concurrent.futures.CancelledError as error:
            raise LambdaRuntimeException(
                f"Execution environment {self.id} stopped during invocation {request_id}"
            ) from error
        finally:
            self._current = None
        duration_ms = (time.perf_counter() - invocation.started) * 1000
        output = self._output.take_until(request_id, _OUTPUT_GRACE_SECONDS) if self._output else ""
        if invocation.exit_status is not None:
            exited = runtime_exited(request_id, invocation.exit_status)
            output += exited.log_lines
            body = exited.body
        logs = init_logs + invocation_logs(
            self.function_version,
            request_id,
            output,
            duration_ms=duration_ms,
            max_memory_mb=invocation.max_memory_mb,
            init_duration_ms=init_duration,
        )
        return InvocationResult(request_id, body, is_error=is_error, logs=logs)

    def get_logs(self) -> str:
        return self._output.history() if self._output else ""

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        """Check that the function can run here and install its runtime's SDK (once)."""
        spec = runtime_spec(function_version.config.runtime, function_version.config.package_type)
        interpreter = interpreter_for(spec)
        deps_dir = default_deps_dir()
        if spec.language == "python":
            ensure_python_packages(deps_dir, interpreter)
        else:
            node_modules(deps_dir)
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()
        for layer in function_version.config.layers:
            if layer.code:
                layer.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        """Nothing to undo: the unzipped code belongs to LocalStack, the SDKs are shared."""

    # Runtime API callbacks --------------------------------------------------------------------

    def on_ready(self) -> None:
        self._init_duration_ms = (time.perf_counter() - self._init_started) * 1000
        _settle(self._ready, None)

    def on_invocation_started(self, invocation: PendingInvocation) -> None:
        current = self._current
        if current is not None and current.pending.request_id == invocation.request_id:
            current.started = time.perf_counter()

    def on_result(self, request_id: str, body: bytes, is_error: bool) -> None:
        current = self._current
        if current is None or current.pending.request_id != request_id:
            LOG.warning("Lambda result for unknown request %s dropped", request_id)
            return
        current.max_memory_mb = self._max_memory_mb()
        _settle(current.result, (body, is_error))

    def on_init_error(self, body: bytes) -> None:
        _fail(self._ready, StatusErrorException("Environment startup failed", body))

    # Process management -----------------------------------------------------------------------

    def kill_process(self) -> None:
        """Kill the function process and everything it started (its own process group)."""
        with self._lock:
            process, self._process = self._process, None
        if process is not None:
            process.kill()

    def _launch(self) -> None:
        self._ready = concurrent.futures.Future()
        self._api.reset()
        command = bootstrap_command(self._spec)
        self._init_started = time.perf_counter()
        process = FunctionProcess(command, self._env)
        self._output = process.output
        with self._lock:
            self._process = process
        process.watch(self._on_exit, name=f"lambda-process-{self.id[:8]}")

    def _wait_until_ready(self) -> None:
        try:
            self._ready.result()
        except StatusErrorException:
            self._init_output = self._output.take_all(wait_for_eof=1.0) if self._output else ""
            self.kill_process()
            raise
        if self._output:
            self._init_output = self._output.take_until("init", _OUTPUT_GRACE_SECONDS)

    def _on_exit(self, process: FunctionProcess, status: str) -> None:
        """Turn an unexpected exit of the function process into an error, never a hang."""
        with self._lock:
            if self._process is process:
                self._process = None
        if not self._ready.done():
            _fail(
                self._ready,
                StatusErrorException(
                    "Environment startup failed", runtime_exited_during_init(status)
                ),
            )
        current = self._current
        if current is not None and not current.result.done():
            current.exit_status = status
            _settle(current.result, (b"", True))

    def _max_memory_mb(self) -> int:
        process = self._process
        return process.max_memory_mb() if process is not None else 0

    # Results and logs -------------------------------------------------------------------------

    def _timed_out(self, invocation: _Invocation, timeout: int, init_logs: str) -> InvocationResult:
        """Kill the process group (AWS resets the sandbox); the next event gets a fresh process."""
        request_id = invocation.pending.request_id
        max_memory = self._max_memory_mb()
        self.kill_process()
        output = self._output.take_all(wait_for_eof=1.0) if self._output else ""
        timeout_error = timed_out(request_id, timeout)
        output += timeout_error.log_lines
        duration_ms = (time.perf_counter() - invocation.started) * 1000
        logs = init_logs + invocation_logs(
            self.function_version,
            request_id,
            output,
            duration_ms=duration_ms,
            max_memory_mb=max_memory,
            init_duration_ms=None,
        )
        return InvocationResult(request_id, timeout_error.body, is_error=True, logs=logs)


def _settle[T](future: concurrent.futures.Future[T], value: T) -> None:
    """Resolve ``future`` unless another thread got there first (exit, stop and result race)."""
    with contextlib.suppress(concurrent.futures.InvalidStateError):
        future.set_result(value)


def _fail(future: concurrent.futures.Future[Any], error: BaseException) -> None:
    with contextlib.suppress(concurrent.futures.InvalidStateError):
        future.set_exception(error)
