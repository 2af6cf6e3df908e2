"""A LocalStack Lambda runtime executor that runs functions as host processes (no Docker).

Selected with ``LAMBDA_RUNTIME_EXECUTOR=subprocess``. LocalStack imports this module when it
resolves its executor plugins, so it stays light: the executor itself is imported on ``load``.
"""

from typing import Any

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class SubprocessRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    """Entry point ``subprocess`` of the ``localstack.lambda.runtime_executor`` namespace."""

    name = "subprocess"

    def load(self, *args: Any, **kwargs: Any) -> Any:
        from .executor import SubprocessRuntimeExecutor  # noqa: PLC0415 - loaded on selection

        return SubprocessRuntimeExecutor
