"""The Powertools instances every entry point shares, and the version they report.

Service name, metrics namespace and log level come from the standard Powertools environment
(``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_METRICS_NAMESPACE``, ``POWERTOOLS_LOG_LEVEL``) that the
stack sets, so one definition serves every function and a reader finds it in one place.

Each function may run its own release of this package, so every log line and every metrics blob
names the version that wrote it: read from the installed distribution's metadata (the
``dist-info`` a bundle ships), the code's own word rather than a setting that could disagree.
"""

import functools
from collections.abc import Callable
from importlib.metadata import version

from aws_lambda_powertools import Logger, Metrics, Tracer

DISTRIBUTION = "friend-handlers"
VERSION = version(DISTRIBUTION)
"""This package's version as installed: a release (``0.1.0``) or a working-tree build
(``0.1.0+workspace``)."""

logger = Logger()
"""JSON logs; each record handler sets the correlation id of the record it works on."""
logger.append_keys(version=VERSION)

tracer = Tracer(patch_modules=("botocore",))
"""X-Ray segments for our code and DynamoDB/SQS calls. Patching only botocore (PynamoDB and boto3
both sit on it) keeps the X-Ray SDK from importing and patching unrelated libraries at cold
start."""

metrics = Metrics()
"""CloudWatch EMF metrics: counts of actions by outcome and of stream transitions."""


def entry_point[**P, R](
    correlation_id_path: str | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """What every entry point does around its handler, written once: logs with the Lambda
    context (and the correlation id at ``correlation_id_path`` of the event, if given), an X-Ray
    segment, the metrics flushed at the end with :data:`VERSION` in their metadata."""

    def decorate(handler: Callable[P, R]) -> Callable[P, R]:
        flushed = metrics.log_metrics(reports_version(handler))
        traced = tracer.capture_lambda_handler(flushed)
        logged: Callable[P, R] = logger.inject_lambda_context(
            traced, correlation_id_path=correlation_id_path
        )
        return logged

    return decorate


def reports_version[**P, R](handler: Callable[P, R]) -> Callable[P, R]:
    """Put :data:`VERSION` in the metadata of the invocation's metrics.

    Metadata rather than a dimension: a dimension would start new metric series with every
    release and leave alarms on the old ones. Powertools clears metadata after each flush, so it
    is added per invocation; apply this inside ``metrics.log_metrics``.
    """

    @functools.wraps(handler)
    def with_version(*args: P.args, **kwargs: P.kwargs) -> R:
        metrics.add_metadata(key="version", value=VERSION)
        return handler(*args, **kwargs)

    return with_version
