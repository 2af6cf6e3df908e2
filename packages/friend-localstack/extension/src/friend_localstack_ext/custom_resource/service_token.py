"""Sending a custom resource request to its ServiceToken function, as CloudFormation does.

The request goes out as an asynchronous (``Event``) invocation, with a fresh ResponseURL for the
handler's answer. How long the answer is awaited is decided here too, from the resource's
``ServiceTimeout`` property, because it is part of what the request promises the handler.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from typing import Any, Final

from botocore.exceptions import ClientError  # type: ignore[import-untyped]  # no stubs here
from localstack import config
from localstack.aws.connect import connect_to
from localstack.services.cloudformation.resource_provider import ResourceRequest
from localstack.utils.aws.arns import parse_arn

from friend_localstack_ext.custom_resource.errors import CustomResourceError
from friend_localstack_ext.custom_resource.resource_model import (
    PhysicalResource,
    Properties,
    template_properties,
)
from friend_localstack_ext.custom_resource.response_url import (
    MAILBOXES,
    ensure_response_route,
    response_url,
)
from friend_localstack_ext.custom_resource.states import RequestType, SentRequest

LOG = logging.getLogger(__name__)

MAILBOX_GRACE_SECONDS: Final = 60.0
"""How long a ResponseURL outlives its request's deadline before it is forgotten (a late response
is then answered 404, as an expired presigned URL would be)."""

SERVICE_TIMEOUT_RANGE: Final = range(1, 3601)
"""Seconds allowed for ``ServiceTimeout``, as on AWS."""


def default_timeout_seconds() -> float:
    """The wait for a response when the resource sets no ``ServiceTimeout``."""
    configured = os.environ.get("FRIEND_CFN_CUSTOM_RESOURCE_TIMEOUT")
    return float(configured) if configured else float(config.CFN_PER_RESOURCE_TIMEOUT)


def service_timeout(properties: Properties) -> float:
    """The bounded wait for one request: ``ServiceTimeout`` if set, else the default."""
    raw = properties.get("ServiceTimeout")
    if raw is None or raw == "":
        return default_timeout_seconds()
    try:
        seconds = int(str(raw))
    except ValueError as error:
        raise CustomResourceError(
            f"ServiceTimeout must be a whole number of seconds, got {raw!r}"
        ) from error
    if seconds not in SERVICE_TIMEOUT_RANGE:
        raise CustomResourceError(f"ServiceTimeout must be between 1 and 3600 seconds, got {raw}")
    return float(seconds)


def as_cfn_strings(value: Any) -> Any:
    """Render property values as CloudFormation sends them to custom resources: scalars as strings.

    CloudFormation passes ``ResourceProperties`` to the handler with numbers and booleans turned
    into strings; handlers (CDK's among them) compare against ``'true'``, not ``true``.
    """
    if isinstance(value, dict):
        return {key: as_cfn_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_cfn_strings(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def send_request(
    request: ResourceRequest[Properties],
    request_type: RequestType,
    previous: PhysicalResource | None,
) -> SentRequest:
    """Invoke the ServiceToken function asynchronously with a fresh ResponseURL.

    ``previous`` is the physical resource an Update or Delete is about. A Delete carries that
    resource's own properties (those it was last deployed with), Create and Update the template's.
    """
    if request_type is RequestType.DELETE and previous is not None:
        properties = previous.resource_properties
    else:
        properties = template_properties(request.desired_state)
    service_token = properties.get("ServiceToken")
    if not isinstance(service_token, str) or not service_token:
        raise CustomResourceError("ServiceToken is required and must be a string.")
    timeout = service_timeout(properties)

    ensure_response_route()
    token = MAILBOXES.open(lifetime=timeout + MAILBOX_GRACE_SECONDS)
    request_id = str(uuid.uuid4())
    event: dict[str, Any] = {
        "RequestType": request_type.value,
        "ServiceToken": service_token,
        "ResponseURL": response_url(token),
        "StackId": request.stack_id,
        "RequestId": request_id,
        "LogicalResourceId": request.logical_resource_id,
        "ResourceType": request.resource_type,
        "ResourceProperties": as_cfn_strings(properties),
    }
    if request_type is RequestType.UPDATE and previous is not None:
        event["OldResourceProperties"] = as_cfn_strings(previous.resource_properties)
    if request_type in {RequestType.UPDATE, RequestType.DELETE} and previous is not None:
        event["PhysicalResourceId"] = previous.physical_resource_id

    now = time.time()
    try:
        _invoke_async(service_token, event, request.region_name, request.account_id)
    except CustomResourceError:
        MAILBOXES.close(token)
        raise
    LOG.debug(
        "Custom resource %s: %s request %s sent to %s",
        request.logical_resource_id,
        request_type,
        request_id,
        service_token,
    )
    return SentRequest(
        request_type=request_type,
        request_id=request_id,
        response_token=token,
        sent_at=now,
        timeout=timeout,
    )


def _invoke_async(service_token: str, event: dict[str, Any], region: str, account: str) -> None:
    """Invoke the ServiceToken function the way CloudFormation does: ``InvocationType=Event``."""
    try:
        arn = parse_arn(service_token)
    except Exception as error:
        raise CustomResourceError(
            f"ServiceToken {service_token!r} is not an ARN; a Lambda function ARN is required."
        ) from error
    if arn["service"] != "lambda":
        raise CustomResourceError(
            f"ServiceToken {service_token!r}: only Lambda function ServiceTokens are supported "
            f"here (SNS-backed custom resources are not)."
        )
    client = connect_to(
        aws_access_key_id=arn["account"] or account,
        region_name=arn["region"] or region,
    ).lambda_
    try:
        client.invoke(
            FunctionName=service_token,
            InvocationType="Event",
            Payload=json.dumps(event).encode(),
        )
    except ClientError as error:
        raise CustomResourceError(
            f"Could not invoke the ServiceToken function {service_token}: {error}"
        ) from error
