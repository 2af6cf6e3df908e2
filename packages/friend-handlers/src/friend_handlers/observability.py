"""The Powertools instances every entry point shares.

Service name, metrics namespace and log level come from the standard Powertools environment
(``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_METRICS_NAMESPACE``, ``POWERTOOLS_LOG_LEVEL``) that the
stack sets, so one definition serves all six functions and a reader finds it in one place.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
"""JSON logs; each record handler sets the correlation id of the record it works on."""

tracer = Tracer(patch_modules=("botocore",))
"""X-Ray segments for our code and DynamoDB/SQS calls. Patching only botocore (PynamoDB and boto3
both sit on it) keeps the X-Ray SDK from importing and patching unrelated libraries at cold
start."""

metrics = Metrics()
"""CloudWatch EMF metrics: counts of actions by outcome and of stream transitions."""
