"""What every embedded emulator shares: install once, start on loopback, stop only its own.

An emulator (:class:`Emulator`) runs as one process on ``127.0.0.1:<port>`` from an environment
of its own under ``state_dir`` (never the workspace's: each pins its own libraries). The process
runs in its own session with an environment built from an allowlist, so nothing of the user's
AWS configuration, proxies or virtual environment reaches it or the functions it runs. A pid
file per port lets another process (the CLI, a later run) find and stop exactly what was started.

Subclasses say how to install (:meth:`Emulator._install`, keyed on :meth:`_install_inputs`),
what to run (:meth:`_command`, :meth:`_settings`) and when it is ready (:meth:`_ready`).

Longer than the modules around it on purpose: install key, start, readiness, ownership of a pid
and stop are one lifecycle whose rules (only ever signal what this folder started) hold across
all of them; process-tree control itself is in :mod:`friend_integ.processes`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

from filelock import FileLock
from friend_target import DEFAULT_PORT, LOOPBACK

from friend_integ import processes
from friend_integ.emulators.health import health
from friend_integ.emulators.install import python_request
from friend_integ.paths import Layout

STOP_GRACE_SECONDS = 10.0
LOG_TAIL_LINES = 40

PASSED_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR")
"""The only variables of the caller's environment an emulator process gets (an allowlist):
what locates programs, sets the locale and names trusted certificates. Credentials, AWS
configuration, proxies and virtual environments never pass."""


class EmulatorError(RuntimeError):
    """The emulator could not be installed, started or stopped."""


class PortInUseError(EmulatorError):
    """Something this state folder did not start already listens on the port."""


def default_state_dir(name: str) -> Path:
    """``<repo>/.state/<name>``, or ``$FRIEND_STATE_DIR/<name>`` when that is set."""
    override = os.environ.get("FRIEND_STATE_DIR")
    base = Path(override) if override else Layout().state_root
    return base.resolve() / name


class Emulator(ABC):
    """One emulator process on ``127.0.0.1:<port>`` whose files live in ``state_dir``.

    Instances on different ports may share a state folder: they share the installed environment
    and keep their pid file, log and runtime folders apart by port.
    """

    key: ClassVar[str]
    """Short name: the ``--emulator`` choice and the state folder's name."""
    title: ClassVar[str]
    """Name for people: progress lines and the summary."""
    stop_grace_seconds: ClassVar[float] = STOP_GRACE_SECONDS
    """How long a graceful shutdown may take before the process tree is killed."""

    def __init__(self, port: int = DEFAULT_PORT, state_dir: Path | None = None) -> None:
        self.port = port
        self.state_dir = (state_dir or default_state_dir(self.key)).resolve()
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
        """This port's runtime folders (temp, home, the emulator's own state)."""
        return self.state_dir / "runs" / str(self.port)

    @property
    def log_file(self) -> Path:
        return self.state_dir / "logs" / f"{self.key}-{self.port}.log"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / f"{self.key}-{self.port}.pid"

    @property
    def lambda_runtime_dir(self) -> Path:
        """What the Lambda runtimes ship (AWS SDKs), shared by every instance of this folder."""
        return self.state_dir / "lambda-runtime"

    # Install -----------------------------------------------------------------------------

    def install(self) -> None:
        """Build the emulator's environment under ``state_dir``; a no-op when current.

        The key covers everything that decides the environment's contents (the locked
        definition, the SDK pins, the interpreter and the recipe), so a change to any rebuilds it.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True)
        key = self._install_key()
        if self._installed_key() == key:
            return
        with FileLock(self.state_dir / "install.lock"):
            if self._installed_key() == key:
                return
            self._install_key_file.unlink(missing_ok=True)
            self._install()
            self._install_key_file.write_text(key)

    @property
    def _install_key_file(self) -> Path:
        return self.venv_dir / ".friend-install-key"

    def _install_key(self) -> str:
        digest = hashlib.sha256()
        for path in self._install_inputs():
            digest.update(path.name.encode())
            digest.update(path.read_bytes() if path.is_file() else b"(absent)")
        digest.update(" ".join(python_request()).encode())
        digest.update(self._install_recipe().encode())
        return digest.hexdigest()

    def _installed_key(self) -> str | None:
        try:
            return self._install_key_file.read_text()
        except FileNotFoundError:
            return None

    @abstractmethod
    def _install_inputs(self) -> Sequence[Path]:
        """The files whose contents decide the installed environment."""

    @abstractmethod
    def _install_recipe(self) -> str:
        """How the environment is built, in words: a change to it rebuilds the environment."""

    @abstractmethod
    def _install(self) -> None:
        """Build the environment (called under the install lock when the key changed)."""

    # Start / stop ------------------------------------------------------------------------

    def start(self, timeout: float = 60) -> None:
        """Start the emulator and return once it is ready.

        Idempotent for an emulator this state folder already runs. Raises
        :class:`PortInUseError` when anything else holds the port, and :class:`EmulatorError`
        with the log's tail when the process dies or is not ready in ``timeout`` seconds.
        """
        if self.is_running():
            self._wait_ready(timeout)
            return
        self._check_port_free()
        self.install()
        # Nothing persists between runs: a crashed run's leftovers must not leak into this one.
        shutil.rmtree(self.run_dir, ignore_errors=True)
        for name in ("tmp", "home"):
            (self.run_dir / name).mkdir(parents=True, exist_ok=True)
        self._prepare_run_dir()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("wb") as log:
            self._process = subprocess.Popen(  # noqa: S603 - fixed argument list, no shell
                self._command(),
                cwd=self.run_dir,
                env=self.environment(),
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
        """End the emulator this state folder started, with its descendants; else do nothing.

        Only the recorded pid, when its command line shows it is ours, and processes that
        descend from it are signalled. The runtime folders go too (nothing persists between
        runs); the log stays for post-mortems.
        """
        pid = self._recorded_pid()
        if pid is not None and self._is_ours(pid):
            processes.stop_tree(pid, lambda: self._is_ours(pid), self.stop_grace_seconds)
            if self._process is not None:
                self._process.wait()
        self.pid_file.unlink(missing_ok=True)
        self._process = None
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def is_running(self) -> bool:
        """Whether the process recorded in this state folder's pid file is alive and ours."""
        pid = self._recorded_pid()
        return pid is not None and self._is_ours(pid)

    def memory_rss_bytes(self) -> int:
        """Resident memory of the running emulator and all its descendants (0 when stopped)."""
        pid = self._recorded_pid()
        if pid is None or not self._is_ours(pid):
            return 0
        return processes.tree_resident_bytes(pid)

    def version(self) -> str | None:
        """The version the running emulator reports on its health endpoint."""
        answer = health(self.endpoint)
        version = answer.get("version") if answer else None
        return str(version) if version else None

    # The environment ---------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        """The process environment: an allowlist of the caller's, a home and temp folder of its
        own, and the emulator's settings. Functions it runs inherit it, so this is also what
        keeps the user's ``~/.aws`` and AWS variables away from them."""
        run = self.run_dir
        env = {name: os.environ[name] for name in PASSED_ENVIRONMENT if name in os.environ}
        env.update(
            {
                "HOME": str(run / "home"),
                "TMPDIR": str(run / "tmp"),
                "XDG_CACHE_HOME": str(run / "home" / ".cache"),
                "XDG_CONFIG_HOME": str(run / "home" / ".config"),
                "XDG_DATA_HOME": str(run / "home" / ".local" / "share"),
                "XDG_STATE_HOME": str(run / "home" / ".local" / "state"),
                # No instance metadata and no AWS files: a function's SDK finds only what the
                # emulator gives it.
                "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                # Loopback never goes through a proxy, whatever a function or tool configures.
                "NO_PROXY": LOOPBACK + ",localhost",
                "no_proxy": LOOPBACK + ",localhost",
            }
        )
        env.update(self._settings())
        return env

    @abstractmethod
    def _settings(self) -> Mapping[str, str]:
        """The emulator's own configuration variables."""

    @abstractmethod
    def _command(self) -> list[str]:
        """The command line that runs the emulator in the foreground."""

    @property
    @abstractmethod
    def _command_marker(self) -> str:
        """A string only this emulator's command line holds (tells a reused pid apart)."""

    def _prepare_run_dir(self) -> None:
        """Put what the emulator needs into the fresh ``run_dir`` before it starts."""
        return

    def _ready(self) -> bool:
        return health(self.endpoint, timeout=1) is not None

    # Internals ---------------------------------------------------------------------------

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self._process is not None and self._process.poll() is not None:
                raise EmulatorError(
                    f"{self.title} exited with code {self._process.returncode} while starting.\n"
                    f"{self.log_tail()}"
                )
            if self._process is None and not self.is_running():
                raise EmulatorError(f"{self.title} is not running.\n{self.log_tail()}")
            if self._ready():
                return
            if time.monotonic() > deadline:
                raise EmulatorError(
                    f"{self.title} did not become ready at {self.endpoint} in {timeout:.0f} s.\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.1)

    def _check_port_free(self) -> None:
        if health(self.endpoint) is not None:
            raise PortInUseError(
                f"an emulator that {self.state_dir} did not start already answers at "
                f"{self.endpoint}; use it, stop it, or choose another port"
            )
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # As servers do: connections of a previous run lingering in TIME_WAIT do not make
            # the port unavailable, a listener does.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((LOOPBACK, self.port))
            except OSError as error:
                raise PortInUseError(
                    f"port {self.port} on {LOOPBACK} is in use by another process ({error}); "
                    "choose another port"
                ) from error

    def _recorded_pid(self) -> int | None:
        try:
            return int(json.loads(self.pid_file.read_text())["pid"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None

    def _is_ours(self, pid: int) -> bool:
        """Alive, and running this emulator from this state folder (not a reused pid)."""
        if self._process is not None and self._process.pid == pid:
            return self._process.poll() is None
        command = processes.command_line(pid)
        return command.startswith(str(self.python)) and self._command_marker in command

    def log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return f"(no log at {self.log_file})"
        tail = "\n".join(lines[-LOG_TAIL_LINES:])
        return f"Last lines of {self.log_file}:\n{tail}"
