"""The environment variables of a function process: the Lambda environment, on this host.

LocalStack hands an execution environment the variables its Go init would set in a container
(the function's own variables, ``_HANDLER``, ``AWS_REGION``, the credentials, ...). A host process
needs them pointed at this host instead: the unzipped code as ``LAMBDA_TASK_ROOT``, the runtime's
Runtime API server, a temporary folder of its own, and the module paths of its layers and of the
runtime's SDK. Nothing else of LocalStack's environment reaches the function, and nothing lets
its SDK find the host's AWS credentials: it gets the ones the emulator hands it, as on AWS.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .deps import default_deps_dir, node_modules
from .runtimes import (
    BOOTSTRAP_DIR,
    RuntimeSpec,
    UnsupportedFunctionError,
    interpreter_for,
    node_major_version,
)

if TYPE_CHECKING:
    from localstack.services.lambda_.invocation.lambda_models import FunctionVersion

# LocalStack's variables for its Go init inside a container: meaningless to a host process.
_INIT_ONLY_VARIABLES = frozenset(
    {
        "LOCALSTACK_RUNTIME_ID",
        "LOCALSTACK_RUNTIME_ENDPOINT",
        "LOCALSTACK_CHMOD_PATHS",
        "LOCALSTACK_USER",
        "LOCALSTACK_INIT_LOG_LEVEL",
        "LOCALSTACK_POST_INVOKE_WAIT_MS",
        "LOCALSTACK_MAX_PAYLOAD_SIZE",
        "LOCALSTACK_FUNCTION_ACCOUNT_ID",
    }
)
# Host variables a function process inherits (the rest of LocalStack's environment stays out).
_INHERITED_VARIABLES = ("PATH", "LANG", "LC_ALL", "SSL_CERT_FILE", "SSL_CERT_DIR")
_NO_HOST_CREDENTIALS = {
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
"""Defaults that keep a function's SDK from finding the host's AWS files or instance metadata:
the credentials it gets are the ones the emulator hands it, as on AWS."""


def function_environment(
    env_vars: dict[str, str],
    function_version: FunctionVersion,
    spec: RuntimeSpec,
    runtime_api: str,
    tmp_dir: Path,
) -> dict[str, str]:
    """LocalStack's Lambda variables, pointed at this host instead of a container.

    ``runtime_api`` is the ``host:port`` of the environment's Runtime API server; ``tmp_dir``
    is the environment's own folder, its ``TMPDIR`` and its ``HOME``.
    """
    env = {name: os.environ[name] for name in _INHERITED_VARIABLES if name in os.environ}
    env.update(
        {name: str(value) for name, value in env_vars.items() if name not in _INIT_ONLY_VARIABLES}
    )
    code = function_version.config.code
    if code is None:  # only container images come without code, and runtime_spec refused those
        raise UnsupportedFunctionError(f"Function {function_version.qualified_arn} has no code")
    task_root = str(code.get_unzipped_code_location())
    layer_roots = [
        str(layer.code.get_unzipped_code_location())
        for layer in function_version.config.layers
        if layer.code
    ]
    deps_dir = default_deps_dir()
    env.update(
        {
            "LAMBDA_TASK_ROOT": task_root,
            "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP_DIR),
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "AWS_EXECUTION_ENV": spec.execution_env,
            "TMPDIR": str(tmp_dir),
            # A home of its own: without one, an SDK resolves `~` through the password
            # database to the user's real home and reads the user's ~/.aws.
            "HOME": str(tmp_dir),
        }
    )
    for name, value in _NO_HOST_CREDENTIALS.items():
        env.setdefault(name, value)
    if spec.language == "python":
        env.update(_python_paths(spec, task_root, layer_roots, deps_dir))
    else:
        env.update(_node_paths(spec, layer_roots, deps_dir))
    return env


def _python_paths(
    spec: RuntimeSpec, task_root: str, layer_roots: list[str], deps_dir: Path
) -> dict[str, str]:
    """The function's code first, then its layers (as the runtime lays them out), then boto3."""
    site = f"python/lib/python{spec.version}/site-packages"
    paths = [task_root]
    for root in layer_roots:
        paths += [f"{root}/{site}", f"{root}/python"]
    paths.append(str(deps_dir / "python"))
    return {"PYTHONPATH": os.pathsep.join(paths), "PYTHONDONTWRITEBYTECODE": "1"}


def _node_paths(spec: RuntimeSpec, layer_roots: list[str], deps_dir: Path) -> dict[str, str]:
    """The layers' ``nodejs/node_modules``, then the runtime's AWS SDK v3 clients."""
    node_paths = [f"{root}/nodejs/node_modules" for root in layer_roots]
    node_paths.append(str(node_modules(deps_dir)))
    env = {"NODE_PATH": os.pathsep.join(node_paths)}
    if node_major_version(str(interpreter_for(spec))) != spec.version:
        # The SDK warns about the host's Node, which is not the runtime the function asked
        # for: the warning would be about our substitution, not about the function.
        env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] = "true"
    return env
