"""Run open-source LocalStack on the host, without Docker, in an environment of its own.

LocalStack pins its own boto3/botocore and a long tail of libraries, so it never joins the
workspace's resolution: ``localstack-env/`` (next to this package's pyproject) defines its own
locked environment, which :meth:`EmbeddedLocalStack.install` builds with uv under the state
folder, together with our extension (``localstack-extension/``, installed editable so source
edits apply on the next start). Everything LocalStack writes (its filesystem root, temp files,
home and caches, logs, the pid file) lives under that one state folder.

The process runs in its own session, so :meth:`EmbeddedLocalStack.stop` can end exactly what it
started (the process group plus any descendants that left it, such as Lambda runtimes) and
nothing else, even from another process that only has the pid file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from friend_integ.paths import PACKAGE_DIR, Layout

ENV_DEFINITION_DIR = PACKAGE_DIR / "localstack-env"
EXTENSION_DIR = PACKAGE_DIR / "localstack-extension"
LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 4566
HEALTH_PATH = "/_localstack/health"
READY_PATH = "/_localstack/init/ready"

LAUNCH_MODULE = "friend_localstack_ext.launch"
"""Runs ``localstack.runtime.main`` and skips the interpreter's slow teardown after shutdown."""
LAMBDA_RUNTIME_DEPS_MODULE = "friend_localstack_ext.lambda_executor.deps"
_INSTALL_INPUTS = (
    ENV_DEFINITION_DIR / "pyproject.toml",
    ENV_DEFINITION_DIR / "uv.lock",
    EXTENSION_DIR / "pyproject.toml",
    # The pins of what Lambda runtimes ship, installed by the extension's deps module.
    EXTENSION_DIR / "src/friend_localstack_ext/lambda_executor/python-runtime-requirements.txt",
    EXTENSION_DIR / "nodejs-runtime/package-lock.json",
)
_INSTALL_RECIPE = "uv sync --frozen --no-dev --compile-bytecode; service catalog; deps"
"""Part of the install key: a change to how the environment is built rebuilds it."""
_STOP_GRACE_SECONDS = 10.0
_LOG_TAIL_LINES = 40


class LocalStackError(RuntimeError):
    """The embedded LocalStack could not be installed, started or stopped."""


class PortInUseError(LocalStackError):
    """Something this state folder did not start already listens on the port."""


def default_state_dir() -> Path:
    """``<repo>/.state/localstack``, or ``$FRIEND_STATE_DIR/localstack`` when that is set.

    The repository root is the one the integ command uses (:class:`~friend_integ.paths.Layout`,
    found from the package's place in the source tree), so the default does not depend on the
    current directory.
    """
    override = os.environ.get("FRIEND_STATE_DIR")
    base = Path(override) if override else Layout().state_root
    return base.resolve() / "localstack"


def health(endpoint: str, timeout: float = 2) -> dict[str, Any] | None:
    """LocalStack's health JSON at ``endpoint``; None when nothing, or not LocalStack, answers."""
    body = _get_json(endpoint.rstrip("/") + HEALTH_PATH, timeout)
    if isinstance(body, dict) and "services" in body:
        return body
    return None


def _get_json(url: str, timeout: float) -> object | None:
    # An explicit empty proxy map: a user's HTTP(S)_PROXY must never see loopback traffic.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            body: object = json.loads(response.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return body


@dataclass(frozen=True)
class _PidRecord:
    pid: int


class EmbeddedLocalStack:
    """One LocalStack process on ``127.0.0.1:<port>`` whose state lives in ``state_dir``.

    Instances on different ports may share a state folder: they share LocalStack's environment
    (``venv/``) and keep their pid file, log and runtime folders apart by port, so parallel test
    sessions on free ports never touch each other's process.

    ``extra_env`` is applied last, over the configuration chosen here (for example to raise
    ``LS_LOG``).
    """

    def __init__(
        self,
        port: int = DEFAULT_PORT,
        state_dir: Path | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.port = port
        self.state_dir = (state_dir or default_state_dir()).resolve()
        self.extra_env = dict(extra_env or {})
        self.endpoint = f"http://{LOOPBACK}:{port}"
        self._process: subprocess.Popen[bytes] | None = None

    # Paths -------------------------------------------------------------------------------

    @property
    def venv_dir(self) -> Path:
        return self.state_dir / "venv"

    @property
    def python(self) -> Path:
        return self.venv_dir / "bin" / "python"

    @property
    def run_dir(self) -> Path:
        """This port's runtime folders (LocalStack's filesystem root, temp, home)."""
        return self.state_dir / "runs" / str(self.port)

    @property
    def log_file(self) -> Path:
        return self.state_dir / "logs" / f"localstack-{self.port}.log"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / f"localstack-{self.port}.pid"

    @property
    def _catalog_root(self) -> Path:
        return self.state_dir / "service-catalog"

    @property
    def _catalog_dir(self) -> Path:
        """Where LocalStack looks for prebuilt files under a filesystem root (static libs)."""
        return self._catalog_root / "usr" / "lib" / "localstack"

    @property
    def lambda_deps_dir(self) -> Path:
        """SDKs for Lambda functions, shared by every instance of this state folder."""
        return self.state_dir / "lambda-runtime"

    @property
    def npm_cache_dir(self) -> Path:
        return self.state_dir / "cache" / "npm"

    @property
    def _install_key_file(self) -> Path:
        return self.venv_dir / ".friend-install-key"

    # Install -----------------------------------------------------------------------------

    def install(self) -> None:
        """Build LocalStack's own environment under ``state_dir``; a no-op when current.

        That is: the locked environment (``venv/``, bytecode compiled), LocalStack's service
        catalog, and the SDKs Lambda runtimes ship (``lambda-runtime/``). Package downloads
        come from the user's uv cache; npm's cache is kept under ``state_dir/cache``.

        The key covers everything that decides those contents: the locked definition, the
        extension's metadata (its entry points), the SDK pins, the interpreter and the recipe.
        The extension's code is installed editable, so its source changes need no reinstall.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True)
        key = self._install_key()
        if self._installed_key() == key:
            return
        with _file_lock(self.state_dir / "install.lock"):
            if self._installed_key() == key:
                return
            self._install_key_file.unlink(missing_ok=True)
            command = [
                _uv(),
                "sync",
                "--frozen",
                "--no-dev",
                "--project",
                str(ENV_DEFINITION_DIR),
                "--reinstall-package",
                "friend-localstack-ext",
                # Bytecode compiled once here: LocalStack imports ~10k modules on start, which
                # took 8-12 s from source against ~3 s from bytecode on a busy 2-core host.
                "--compile-bytecode",
                *_python_request(),
            ]
            env = {k: v for k, v in os.environ.items() if k not in _FOREIGN_ENV}
            env["UV_PROJECT_ENVIRONMENT"] = str(self.venv_dir)
            result = subprocess.run(  # noqa: S603 - fixed argument list, no shell
                command,
                cwd=ENV_DEFINITION_DIR,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise LocalStackError(
                    f"installing LocalStack's environment failed ({' '.join(command)}):\n"
                    f"{result.stderr.strip()}"
                )
            self._build_service_catalog()
            self._install_lambda_runtime_sdks()
            self._install_key_file.write_text(key)

    def _build_service_catalog(self) -> None:
        """Build LocalStack's index of all AWS service specs once, as its Docker image does.

        Without a prebuilt index LocalStack builds it on the first request by loading every
        service specification: measured 120 -> 500 MiB resident and a slow first request.
        With it, only the specs of the services in use are loaded (~190 MiB with SQS, S3,
        DynamoDB and its streams in use). LocalStack looks for it in its static libraries
        folder, so it is built under a filesystem root of its own and copied in on start.
        """
        shutil.rmtree(self._catalog_root, ignore_errors=True)
        self._catalog_dir.mkdir(parents=True)
        env = {k: v for k, v in os.environ.items() if k not in _FOREIGN_ENV}
        env |= {
            "OVERRIDE_IN_DOCKER": "0",
            "FILESYSTEM_ROOT": str(self._catalog_root),
            "HOME": str(self._catalog_root / "home"),
            "XDG_CACHE_HOME": str(self._catalog_root / "home" / ".cache"),
            "DISABLE_EVENTS": "1",
        }
        command = [str(self.python), "-m", "localstack.aws.spec"]
        result = subprocess.run(  # noqa: S603 - fixed argument list, no shell
            command, env=env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0 or not any(self._catalog_dir.glob("service-catalog-*")):
            raise LocalStackError(
                f"building LocalStack's service catalog failed ({' '.join(command)}):\n"
                f"{(result.stderr or result.stdout).strip()[-4000:]}"
            )

    def _install_lambda_runtime_sdks(self) -> None:
        """Install what Lambda runtimes ship (boto3, AWS SDK v3 clients) ahead of time.

        Done here so that no first invocation waits for a download; the extension's installer
        skips what is already current and locks against concurrent installs.
        """
        command = [str(self.python), "-m", LAMBDA_RUNTIME_DEPS_MODULE, str(self.lambda_deps_dir)]
        env = {k: v for k, v in os.environ.items() if k not in _FOREIGN_ENV}
        env["npm_config_cache"] = str(self.npm_cache_dir)
        result = subprocess.run(  # noqa: S603 - fixed argument list, no shell
            command, env=env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise LocalStackError(
                f"installing the Lambda runtimes' SDKs failed ({' '.join(command)}):\n"
                f"{(result.stderr or result.stdout).strip()[-4000:]}"
            )

    def _install_key(self) -> str:
        digest = hashlib.sha256()
        for path in _INSTALL_INPUTS:
            digest.update(str(path.relative_to(PACKAGE_DIR)).encode())
            digest.update(path.read_bytes() if path.is_file() else b"(absent)")
        digest.update(" ".join(_python_request()).encode())
        digest.update(_INSTALL_RECIPE.encode())
        return digest.hexdigest()

    def _installed_key(self) -> str | None:
        if not self._catalog_dir.is_dir():
            return None
        try:
            return self._install_key_file.read_text()
        except FileNotFoundError:
            return None

    # Start / stop ------------------------------------------------------------------------

    def start(self, timeout: float = 60) -> None:
        """Start LocalStack and return once it is healthy and ready.

        Idempotent for a LocalStack this state folder already runs. Raises
        :class:`PortInUseError` when anything else holds the port, and :class:`LocalStackError`
        with the log's tail when the process dies or does not become ready in ``timeout``.
        """
        if self.is_running():
            self._wait_ready(timeout)
            return
        self._check_port_free()
        self.install()
        # LocalStack keeps no state across runs here (no persistence): a crashed run's leftovers
        # must not leak into this one.
        shutil.rmtree(self.run_dir, ignore_errors=True)
        for name in ("fs", "tmp", "home"):
            (self.run_dir / name).mkdir(parents=True, exist_ok=True)
        shutil.copytree(self._catalog_dir, self.run_dir / "fs" / "usr" / "lib" / "localstack")
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("wb") as log:
            self._process = subprocess.Popen(  # noqa: S603 - fixed argument list, no shell
                [str(self.python), "-m", LAUNCH_MODULE],
                cwd=self.run_dir,
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_file.write_text(json.dumps({"pid": self._process.pid, "port": self.port}))
        try:
            self._wait_ready(timeout)
        except BaseException:
            # Not ready, or interrupted (Ctrl-C): leave nothing running behind.
            self.stop()
            raise

    def stop(self) -> None:
        """End the LocalStack this state folder started, with its descendants; else do nothing.

        SIGTERM to LocalStack first (its shutdown hooks stop the Lambda runtimes it started),
        then SIGKILL to its process group and to every descendant still alive after it exited
        or after a grace period. Only the recorded pid, when its command line shows it is ours,
        and processes descending from it (checked by start time) are signalled.
        """
        record = self._pid_record()
        if record is None or not self._is_ours(record.pid):
            self._forget()
            return
        descendants = _descendants(record.pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signal.SIGTERM)
        if not self._wait_exit(record.pid, _STOP_GRACE_SECONDS):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(record.pid, signal.SIGKILL)
            self._wait_exit(record.pid, _STOP_GRACE_SECONDS)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(record.pid, signal.SIGKILL)
        for pid, started in descendants.items():
            if _started(pid) != started:
                continue  # already gone (or the pid now belongs to someone else)
            # Lambda runtimes lead process groups of their own (to be killable as a unit), so
            # the signal to LocalStack's group does not reach them or their children.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        self._forget()
        # Nothing persists between runs (no PERSISTENCE), so the runtime folders go too; the
        # log stays for post-mortems.
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def is_running(self) -> bool:
        """Whether the process recorded in this state folder's pid file is alive and ours."""
        record = self._pid_record()
        return record is not None and self._is_ours(record.pid)

    def memory_rss_bytes(self) -> int:
        """Resident memory of the running LocalStack and all its descendants (0 when stopped)."""
        record = self._pid_record()
        if record is None or not self._is_ours(record.pid):
            return 0
        pids = [record.pid, *_descendants(record.pid)]
        total_kib = 0
        for line in _ps("-o", "rss=", "-p", ",".join(map(str, pids))):
            total_kib += int(line.strip() or 0)
        return total_kib * 1024

    # Internals ---------------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        """The process environment: the user's, minus what must not leak in, plus our config."""
        run = self.run_dir
        env = {k: v for k, v in os.environ.items() if k not in _FOREIGN_ENV}
        listen = f"{LOOPBACK}:{self.port}"
        env.update(
            {
                # Network: loopback only, on our port; URLs LocalStack hands out point there too.
                "GATEWAY_LISTEN": listen,
                "GATEWAY_SERVER": "twisted-loopback",
                "LOCALSTACK_HOST": listen,
                "DNS_ADDRESS": "0",
                "SQS_ENDPOINT_STRATEGY": "path",
                # Host mode, with every folder under the state folder.
                "OVERRIDE_IN_DOCKER": "0",
                "FILESYSTEM_ROOT": str(run / "fs"),
                "TMPDIR": str(run / "tmp"),
                "HOME": str(run / "home"),
                "XDG_CACHE_HOME": str(run / "home" / ".cache"),
                "XDG_CONFIG_HOME": str(run / "home" / ".config"),
                "XDG_DATA_HOME": str(run / "home" / ".local" / "share"),
                "XDG_STATE_HOME": str(run / "home" / ".local" / "state"),
                # No network calls home: no telemetry, no certificate download.
                "DISABLE_EVENTS": "1",
                "SKIP_SSL_CERT_DOWNLOAD": "1",
                # Event source mappings poll fast and back off little when idle, so a chain of
                # SQS -> Lambda -> DynamoDB -> stream -> Lambda settles in well under a second.
                "LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC": "0.1",
                "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC": "0.5",
                # The extension's providers fill what the host lacks (no Java, no Docker).
                "PROVIDER_OVERRIDE_DYNAMODB": "moto",
                "PROVIDER_OVERRIDE_DYNAMODBSTREAMS": "moto",
                "LAMBDA_RUNTIME_EXECUTOR": "subprocess",
                "FRIEND_LAMBDA_RUNTIME_DEPS_DIR": str(self.lambda_deps_dir),
                "npm_config_cache": str(self.npm_cache_dir),
            }
        )
        env.update(self.extra_env)
        return env

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self._process is not None and self._process.poll() is not None:
                raise LocalStackError(
                    f"LocalStack exited with code {self._process.returncode} while starting.\n"
                    f"{self._log_tail()}"
                )
            if self._process is None and not self.is_running():
                raise LocalStackError(f"LocalStack is not running.\n{self._log_tail()}")
            if health(self.endpoint, timeout=1) is not None and self._init_ready():
                return
            if time.monotonic() > deadline:
                raise LocalStackError(
                    f"LocalStack did not become ready at {self.endpoint} in {timeout:.0f} s.\n"
                    f"{self._log_tail()}"
                )
            time.sleep(0.1)

    def _init_ready(self) -> bool:
        body = _get_json(self.endpoint + READY_PATH, timeout=1)
        return isinstance(body, dict) and body.get("completed") is True

    def _check_port_free(self) -> None:
        if health(self.endpoint) is not None:
            raise PortInUseError(
                f"a LocalStack that {self.state_dir} did not start already answers at "
                f"{self.endpoint}; use it, stop it, or choose another port"
            )
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # As the server will (Twisted sets it): connections of a previous run lingering in
            # TIME_WAIT do not make the port unavailable, a listener does.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((LOOPBACK, self.port))
            except OSError as error:
                raise PortInUseError(
                    f"port {self.port} on {LOOPBACK} is in use by another process ({error}); "
                    "choose another port"
                ) from error

    def _pid_record(self) -> _PidRecord | None:
        try:
            data = json.loads(self.pid_file.read_text())
            return _PidRecord(pid=int(data["pid"]))
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None

    def _is_ours(self, pid: int) -> bool:
        """Alive, and running LocalStack from this state folder's environment (not a reused pid)."""
        if self._process is not None and self._process.pid == pid:
            return self._process.poll() is None
        # -ww: without a terminal, ps cuts the command at 80 columns.
        command = " ".join(_ps("-ww", "-o", "command=", "-p", str(pid)))
        return command.startswith(str(self.python)) and LAUNCH_MODULE in command

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        if self._process is not None and self._process.pid == pid:
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        deadline = time.monotonic() + timeout
        while self._is_ours(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def _forget(self) -> None:
        self.pid_file.unlink(missing_ok=True)
        self._process = None

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return f"(no log at {self.log_file})"
        tail = "\n".join(lines[-_LOG_TAIL_LINES:])
        return f"Last lines of {self.log_file}:\n{tail}"


_FOREIGN_ENV = frozenset(
    {
        # The caller's virtual environment must not shadow LocalStack's own.
        "VIRTUAL_ENV",
        "PYTHONPATH",
        "PYTHONHOME",
        "UV_PROJECT_ENVIRONMENT",
        "UV_PROJECT",
        # LocalStack never calls AWS; a real profile or session in its environment could
        # only leak into Lambda functions it runs.
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ENDPOINT_URL",
    }
)


def _uv() -> str:
    """The uv running us (``uv run`` exports ``UV``), else the one on PATH."""
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        raise LocalStackError("uv is needed to build LocalStack's environment: install uv")
    return uv


def _python_request() -> list[str]:
    """Which interpreter uv builds the environment with.

    ``UV_PYTHON`` wins (uv reads it itself). Otherwise, when we run on 3.13 ourselves (the
    workspace's Python), reuse that interpreter, which also works where uv cannot discover or
    download one; else ask uv for any 3.13.
    """
    if os.environ.get("UV_PYTHON"):
        return []
    if sys.version_info[:2] == (3, 13):
        return ["--python", sys.executable]
    return ["--python", "3.13"]


def _ps(*args: str) -> list[str]:
    result = subprocess.run(  # noqa: S603 - fixed argument list, no shell
        ["ps", *args],  # noqa: S607 - ps from PATH, as on every POSIX system
        capture_output=True,
        text=True,
        check=False,
    )
    return [line for line in result.stdout.splitlines() if line.strip()]


def _descendants(root: int) -> dict[int, str]:
    """Live descendants of ``root`` with their start times, found through parent pids.

    The start time (``ps``'s ``lstart``) identifies a process beyond its pid, so a pid reused
    by an unrelated process in the meantime is never signalled.
    """
    children: dict[int, list[int]] = {}
    started: dict[int, str] = {}
    for line in _ps("-A", "-o", "pid=,ppid=,lstart="):
        pid, ppid, start = line.split(maxsplit=2)
        children.setdefault(int(ppid), []).append(int(pid))
        started[int(pid)] = start
    found: dict[int, str] = {}
    pending = [root]
    while pending:
        for child in children.get(pending.pop(), []):
            found[child] = started[child]
            pending.append(child)
    return found


def _started(pid: int) -> str | None:
    lines = _ps("-o", "lstart=", "-p", str(pid))
    return lines[0].strip() if lines else None


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Serialise installs into one state folder across processes."""
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
