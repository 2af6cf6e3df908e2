"""The Powertools instances every entry point shares, and the version they report.

Service name, metrics namespace and log level come from the standard Powertools environment
(``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_METRICS_NAMESPACE``, ``POWERTOOLS_LOG_LEVEL``) that the
stack sets, so one definition serves all six functions and a reader finds it in one place.

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
