"""The default emulator: MiniStack, a maintained LocalStack-compatible emulator in Python.

Its environment is locked on its own (``emulators/ministack-env/``, never part of the workspace's
resolution) and installed in two places: the ``lambda-runtime`` group (boto3, botocore) into the
interpreter's environment, which MiniStack's Python functions run on, and MiniStack with its
libraries into a folder only the server puts on its path (see ``ministack_server.py``). Node
functions get the pinned AWS SDK v3 clients on ``NODE_PATH``, as AWS's runtime has them.

Not honoured by MiniStack (the LocalStack lane covers them): DynamoDB stream partial-batch
failures and stream retry limits.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from friend_target import LOOPBACK

from friend_integ import waits
from friend_integ.emulators.base import Emulator
from friend_integ.emulators.install import (
    find_uv,
    install_environment,
    python_request,
    run_checked,
)
from friend_integ.emulators.lambda_runtime import NODEJS_LOCK, install_node_sdk
from friend_integ.paths import PACKAGE_DIR

ENV_DEFINITION_DIR = PACKAGE_DIR / "emulators" / "ministack-env"
SERVER_SCRIPT = Path(__file__).with_name("ministack_server.py")
LAMBDA_RUNTIME_GROUP = "lambda-runtime"


class MiniStack(Emulator):
    """MiniStack on ``127.0.0.1:<port>``, its functions on a Lambda-like interpreter."""

    key = "ministack"
    title = "MiniStack"
    # It keeps nothing across runs here (no persistence), and its shutdown can wait on busy
    # worker threads after a deployment (20 s seen): a short grace, then the process tree goes.
    stop_grace_seconds = 3.0

    @property
    def server_dir(self) -> Path:
        """MiniStack and its libraries: on the server's path, never on the functions'."""
        return self.state_dir / "server"

    def _install_inputs(self) -> Sequence[Path]:
        return (ENV_DEFINITION_DIR / "pyproject.toml", ENV_DEFINITION_DIR / "uv.lock", NODEJS_LOCK)

    def _install_recipe(self) -> str:
        return "uv venv; lambda-runtime group -> venv; the rest -> server/ (hashes); node SDK"

    def _install(self) -> None:
        uv = find_uv()
        env = install_environment()
        run_checked(
            [uv, "venv", "--quiet", "--clear", *python_request(), str(self.venv_dir)],
            "creating MiniStack's environment",
            env=env,
        )
        runtime = self._export(uv, env, "--only-group", LAMBDA_RUNTIME_GROUP)
        server = self._export(
            uv,
            env,
            "--no-emit-project",
            *[f"--no-emit-package={name}" for name in _package_names(runtime)],
        )
        install = [uv, "pip", "install", "--quiet", "--no-config", "--require-hashes", "--no-deps"]
        install += ["--python", str(self.python), "--compile-bytecode"]
        with tempfile.TemporaryDirectory() as scratch:
            runtime_file = Path(scratch) / "lambda-runtime.txt"
            server_file = Path(scratch) / "server.txt"
            runtime_file.write_text(runtime)
            server_file.write_text(server)
            run_checked([*install, "-r", str(runtime_file)], "installing boto3", env=env)
            run_checked(
                [*install, "--target", str(self.server_dir), "-r", str(server_file)],
                "installing MiniStack",
                env=env,
            )
        install_node_sdk(self.lambda_runtime_dir, env)

    def _export(self, uv: str, env: Mapping[str, str], *selection: str) -> str:
        """Locked requirements (with hashes) of part of MiniStack's environment definition."""
        command = [uv, "export", "--frozen", "--no-header", "--project", str(ENV_DEFINITION_DIR)]
        return run_checked([*command, *selection], "exporting MiniStack's lock", env=env)

    def _command(self) -> list[str]:
        return [str(self.python), "-I", str(SERVER_SCRIPT), str(self.server_dir)]

    @property
    def _command_marker(self) -> str:
        return str(SERVER_SCRIPT)

    def _settings(self) -> Mapping[str, str]:
        return {
            # Loopback only, on our port; the host it writes into URLs is the same address.
            "GATEWAY_PORT": str(self.port),
            "BIND_HOST": LOOPBACK,
            "MINISTACK_HOST": LOOPBACK,
            # Listeners on other ports that this project never uses stay off.
            "IOT_MTLS_ENABLED": "0",
            "SFTP_ENABLED": "0",
            "PERSIST_STATE": "0",
            "STATE_DIR": str(self.run_dir / "state"),
            "NODE_PATH": str(self.lambda_runtime_dir / "nodejs" / "node_modules"),
            # The assertions' waiters are the only state machines here; see `waits`.
            "SFN_WAIT_SCALE": str(waits.EMBEDDED_MINISTACK_CLOCK),
        }


def _package_names(requirements: str) -> list[str]:
    """Names of the pinned packages in exported requirements (``name==version \\``)."""
    return [
        line.split("==", 1)[0].strip()
        for line in requirements.splitlines()
        if "==" in line and not line.lstrip().startswith(("#", "--"))
    ]
