"""The LocalStack lane: the last open-source LocalStack on the host, with our extension.

LocalStack pins its own boto3/botocore and a long tail of libraries, so it never joins the
workspace's resolution: ``environment/`` defines its own locked environment, which
:meth:`EmbeddedLocalStack.install` builds with uv, together with our extension (``extension/``,
installed editable so source edits apply on the next start). The extension closes what
LocalStack lacks without Docker: DynamoDB and its streams on moto, Lambda functions as host
processes, CloudFormation custom resources.

This lane honours DynamoDB stream partial-batch failures and retry limits, which MiniStack does
not; the integ job runs on both. friend-integ finds it through the ``friend_integ.emulators``
entry point this package declares.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from friend_integ.emulators.base import Emulator
from friend_integ.emulators.health import get_json
from friend_integ.emulators.install import (
    InstallError,
    find_uv,
    install_environment,
    python_request,
    run_checked,
)
from friend_integ.emulators.lambda_runtime import NODEJS_LOCK, install_node_sdk
from friend_target import LOOPBACK

PACKAGE_DIR = Path(__file__).resolve().parents[2]
"""`packages/friend-localstack`: holds LocalStack's environment and our extension."""
ENV_DEFINITION_DIR = PACKAGE_DIR / "environment"
EXTENSION_DIR = PACKAGE_DIR / "extension"
READY_PATH = "/_localstack/init/ready"
LAUNCH_MODULE = "friend_localstack_ext.launch"
"""Runs ``localstack.runtime.main`` and skips the interpreter's slow teardown after shutdown."""
LAMBDA_RUNTIME_DEPS_MODULE = "friend_localstack_ext.lambda_executor.deps"


class EmbeddedLocalStack(Emulator):
    """LocalStack on ``127.0.0.1:<port>`` with the project's extension."""

    key = "localstack"
    title = "LocalStack"

    @property
    def _catalog_root(self) -> Path:
        return self.state_dir / "service-catalog"

    @property
    def _catalog_dir(self) -> Path:
        """Where LocalStack looks for prebuilt files under a filesystem root (static libs)."""
        return self._catalog_root / "usr" / "lib" / "localstack"

    @property
    def npm_cache_dir(self) -> Path:
        return self.state_dir / "cache" / "npm"

    # Install -----------------------------------------------------------------------------

    def _install_inputs(self) -> Sequence[Path]:
        return (
            ENV_DEFINITION_DIR / "pyproject.toml",
            ENV_DEFINITION_DIR / "uv.lock",
            EXTENSION_DIR / "pyproject.toml",
            # The pins of what Lambda runtimes ship.
            EXTENSION_DIR
            / "src/friend_localstack_ext/lambda_executor/python-runtime-requirements.txt",
            NODEJS_LOCK,
        )

    def _install_recipe(self) -> str:
        return "uv sync --frozen --no-dev --compile-bytecode; service catalog; SDKs"

    def _installed_key(self) -> str | None:
        return super()._installed_key() if self._catalog_dir.is_dir() else None

    def _install(self) -> None:
        """The locked environment (bytecode compiled), LocalStack's service catalog, and the
        SDKs Lambda runtimes ship."""
        run_checked(
            [
                find_uv(),
                "sync",
                "--frozen",
                "--no-dev",
                "--project",
                str(ENV_DEFINITION_DIR),
                "--reinstall-package",
                "friend-localstack-ext",
                # Bytecode compiled once here: LocalStack imports some ten thousand modules on
                # every start (the package README has the times).
                "--compile-bytecode",
                *python_request(),
            ],
            "installing LocalStack's environment",
            cwd=ENV_DEFINITION_DIR,
            env=self._install_environment() | {"UV_PROJECT_ENVIRONMENT": str(self.venv_dir)},
        )
        self._build_service_catalog()
        run_checked(
            [str(self.python), "-m", LAMBDA_RUNTIME_DEPS_MODULE, str(self.lambda_runtime_dir)],
            "installing boto3 for Python functions",
            env=self._install_environment(),
        )
        install_node_sdk(self.lambda_runtime_dir, self._install_environment())

    def _install_environment(self) -> dict[str, str]:
        return install_environment() | {"npm_config_cache": str(self.npm_cache_dir)}

    def _build_service_catalog(self) -> None:
        """Build LocalStack's index of all AWS service specs once, as its Docker image does.

        Without a prebuilt index LocalStack builds it on the first request by loading every
        service specification, which makes that request slow and the server several times
        larger; with it, only the specs of the services in use are loaded (the package README
        has the memory measured both ways). LocalStack looks for it in its static libraries
        folder, so it is built under a filesystem root of its own and copied in on start.
        """
        shutil.rmtree(self._catalog_root, ignore_errors=True)
        self._catalog_dir.mkdir(parents=True)
        env = self._install_environment() | {
            "OVERRIDE_IN_DOCKER": "0",
            "DISABLE_EVENTS": "1",
            "FILESYSTEM_ROOT": str(self._catalog_root),
            "HOME": str(self._catalog_root / "home"),
            "XDG_CACHE_HOME": str(self._catalog_root / "home" / ".cache"),
        }
        run_checked(
            [str(self.python), "-m", "localstack.aws.spec"],
            "building LocalStack's service catalog",
            env=env,
        )
        if not any(self._catalog_dir.glob("service-catalog-*")):
            raise InstallError(f"LocalStack wrote no service catalog under {self._catalog_dir}")

    # Run ---------------------------------------------------------------------------------

    def _prepare_run_dir(self) -> None:
        shutil.copytree(self._catalog_dir, self.run_dir / "fs" / "usr" / "lib" / "localstack")

    def _command(self) -> list[str]:
        return [str(self.python), "-m", LAUNCH_MODULE]

    @property
    def _command_marker(self) -> str:
        return LAUNCH_MODULE

    def _settings(self) -> Mapping[str, str]:
        listen = f"{LOOPBACK}:{self.port}"
        return {
            # Network: loopback only, on our port; URLs LocalStack hands out point there too.
            "GATEWAY_LISTEN": listen,
            "GATEWAY_SERVER": "twisted-loopback",
            "LOCALSTACK_HOST": listen,
            "DNS_ADDRESS": "0",
            "SQS_ENDPOINT_STRATEGY": "path",
            # Host mode, with LocalStack's filesystem under the run folder.
            "OVERRIDE_IN_DOCKER": "0",
            "FILESYSTEM_ROOT": str(self.run_dir / "fs"),
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
            "FRIEND_LAMBDA_RUNTIME_DEPS_DIR": str(self.lambda_runtime_dir),
            "npm_config_cache": str(self.npm_cache_dir),
        }

    def _ready(self) -> bool:
        """Healthy, and done with its init hooks (extensions loaded, providers registered)."""
        if not super()._ready():
            return False
        body = get_json(self.endpoint + READY_PATH, timeout=1)
        return isinstance(body, dict) and body.get("completed") is True
