"""CloudFormation custom resources (``Custom::*``, ``AWS::CloudFormation::CustomResource``).

Open-source LocalStack has no provider for custom resources and, by default, deploys them as
mocks: the ServiceToken function never runs, ``Fn::GetAtt`` returns placeholders and a stack
whose integ-tests-alpha assertions should fail reaches CREATE_COMPLETE. This provider runs them
the way CloudFormation does:

1. It sends the ServiceToken Lambda function the custom resource request (``RequestType``,
   ``ResponseURL``, ``StackId``, ``RequestId``, ``LogicalResourceId``, ``ResourceType``,
   ``ResourceProperties``, plus ``OldResourceProperties`` on Update and ``PhysicalResourceId``
   on Update and Delete) as an asynchronous (``Event``) invocation.
2. The handler answers by ``PUT`` to the ResponseURL, a route of LocalStack's own gateway
   (``response_url``).
3. ``SUCCESS`` completes the resource: its ``PhysicalResourceId`` is what ``Ref`` returns and
   its ``Data`` is what ``Fn::GetAtt`` reads. ``FAILED`` fails the resource, hence the stack,
   with the handler's ``Reason`` in the stack events, worded as CloudFormation words it.
4. An Update that returns a different ``PhysicalResourceId`` is a replacement: the old physical
   resource gets a Delete request with its old properties.
5. The wait is bounded by the resource's ``ServiceTimeout`` property (seconds, 1-3600), or by
   ``FRIEND_CFN_CUSTOM_RESOURCE_TIMEOUT`` (default: LocalStack's ``CFN_PER_RESOURCE_TIMEOUT``,
   300 s) where it has none; when it runs out the resource fails with a reason that says so.

LocalStack's engine drives a provider by calling it again while it reports ``IN_PROGRESS``,
carrying ``custom_context`` between calls. Each call here waits for the response for a short
slice only (and returns the moment it arrives), so a slow or silent handler never holds a call
for minutes and the engine's own per-resource iteration budget stays in step with the deadline.

Where it differs from AWS, because LocalStack's engine does:

- The Delete of a replaced resource is sent right after its Update, not in a cleanup phase at
  the end of the stack update; a failed one is logged and does not fail the update (as on AWS).
- LocalStack does not roll back: a failed Update is not followed by an Update back to the old
  properties, and a Create answered FAILED gets its Delete when the stack is deleted.
- ``Fn::GetAtt`` of an attribute the response's ``Data`` lacks resolves to LocalStack's
  placeholder ``unknown`` instead of failing the stack.

LocalStack routes every ``Custom::<Name>`` type to the plugin named
``AWS::CloudFormation::CustomResource`` (``ResourceProviderExecutor.try_load_resource_provider``),
so that one entry point serves them all.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import uuid
from typing import Any, Final

from botocore.exceptions import ClientError  # type: ignore[import-untyped]  # no stubs here
from localstack import config
from localstack.aws.connect import connect_to
from localstack.services.cloudformation.resource_provider import (
    CloudFormationResourceProviderPlugin,
    OperationStatus,
    ProgressEvent,
    ResourceProvider,
    ResourceRequest,
)
from localstack.utils.aws.arns import parse_arn

from friend_localstack_ext.custom_resource.response_url import (
    MAILBOXES,
    ensure_response_route,
    response_url,
)

LOG = logging.getLogger(__name__)

Properties = dict[str, Any]

STATE_KEY: Final = "__custom_resource__"
"""Key of the resource model under which the provider keeps what CloudFormation remembers about
a custom resource (physical id, the properties it was created or updated with). The rest of the
model is the response's ``Data``, because LocalStack resolves ``Fn::GetAtt`` from the model."""

MAX_RESPONSE_BYTES: Final = 4096
"""CloudFormation rejects custom resource responses over 4 KiB ("Response object is too long")."""

POLL_SLICE_SECONDS: Final = 5.0
"""Longest wait inside one provider call, unless the deadline needs longer slices to fit the
engine's iteration budget."""

MAILBOX_GRACE_SECONDS: Final = 60.0
"""How long a ResponseURL outlives its request's deadline before it is forgotten (a late response
is then answered 404, as an expired presigned URL would be)."""

SERVICE_TIMEOUT_RANGE: Final = range(1, 3601)
"""Seconds allowed for ``ServiceTimeout``, as on AWS."""

_CONTEXT_PHASE: Final = "phase"
_CONTEXT_TOKEN: Final = "response_token"  # noqa: S105 (a context key, not a secret)
_CONTEXT_REQUEST_ID: Final = "request_id"
_CONTEXT_DEADLINE: Final = "deadline"
_CONTEXT_TIMEOUT: Final = "timeout"
_CONTEXT_POLLS: Final = "polls"
_CONTEXT_SENT_AT: Final = "sent_at"
_CONTEXT_NEW_STATE: Final = "new_state"
_CONTEXT_NEW_DATA: Final = "new_data"

_PHASE_PRIMARY: Final = "primary"
_PHASE_REPLACED_DELETE: Final = "delete-replaced"


class CustomResourceError(Exception):
    """A custom resource request could not be sent or its response was not acceptable.

    ``physical_resource_id`` is set when a handler answered FAILED and named its resource:
    CloudFormation sends that resource a Delete when the stack goes away.
    """

    def __init__(self, message: str, physical_resource_id: str | None = None) -> None:
        super().__init__(message)
        self.physical_resource_id = physical_resource_id


def default_timeout_seconds() -> float:
    """The wait for a response when the resource sets no ``ServiceTimeout``."""
    configured = os.environ.get("FRIEND_CFN_CUSTOM_RESOURCE_TIMEOUT")
    return float(configured) if configured else float(config.CFN_PER_RESOURCE_TIMEOUT)


def _engine_iteration_budget() -> int:
    """How many times LocalStack's engine calls a provider that keeps reporting IN_PROGRESS.

    Mirrors ``ResourceProviderExecutor.deploy_loop`` (one-second sleeps, at least ten calls):
    when the deadline is long, slices grow so the engine does not give up first with a
    reason-less "timed out".
    """
    return max(math.ceil(config.CFN_PER_RESOURCE_TIMEOUT / 1), 10)


def _as_cfn_strings(value: Any) -> Any:
    """Render property values as CloudFormation sends them to custom resources: scalars as strings.

    CloudFormation passes ``ResourceProperties`` to the handler with numbers and booleans turned
    into strings; handlers (CDK's among them) compare against ``'true'``, not ``true``.
    """
    if isinstance(value, dict):
        return {key: _as_cfn_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_cfn_strings(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _attribute_value(value: Any) -> Any:
    """A ``Data`` value as ``Fn::GetAtt`` returns it: strings, lists and objects; others as JSON."""
    if isinstance(value, str | list | dict):
        return value
    return json.dumps(value)


def data_to_attributes(data: dict[str, Any]) -> dict[str, Any]:
    """Lay out a response's ``Data`` so that LocalStack's ``Fn::GetAtt`` finds every key.

    LocalStack resolves ``Fn::GetAtt [Res, "a.b.c"]`` by walking nested keys ``a`` -> ``b`` ->
    ``c`` of the resource model, while CloudFormation looks the whole attribute name up in
    ``Data``. CDK's handlers return flattened keys with dots (``apiCallResponse.Item.id.S``),
    so each dotted key is nested along its dots. A key that would need a string to also be an
    object is kept at the first place it reached and cannot be read through ``Fn::GetAtt``.
    """
    attributes: dict[str, Any] = {}
    for key, value in data.items():
        parts = key.split(".")
        node = attributes
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                LOG.debug("Data key %r conflicts with a scalar at %r; not addressable", key, part)
                break
            node = child
        else:
            leaf = parts[-1]
            existing = node.get(leaf)
            if isinstance(existing, dict) and isinstance(value, dict):
                existing.update(value)
            elif existing is None:
                node[leaf] = _attribute_value(value)
    return attributes


def _service_timeout(properties: Properties) -> float:
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


def _parse_response(body: bytes, request_id: str) -> dict[str, Any]:
    """Check a handler's response the way CloudFormation does before it acts on it."""
    if len(body) > MAX_RESPONSE_BYTES:
        raise CustomResourceError("Response object is too long.")
    try:
        response = json.loads(body)
    except ValueError as error:
        raise CustomResourceError(f"Response is not valid JSON: {error}") from error
    if not isinstance(response, dict):
        raise CustomResourceError("Response is not a JSON object.")
    if response.get("Status") not in {"SUCCESS", "FAILED"}:
        raise CustomResourceError(
            f"Response Status must be SUCCESS or FAILED, got {response.get('Status')!r}."
        )
    if response.get("RequestId") not in (None, request_id):
        raise CustomResourceError(
            f"Response RequestId {response.get('RequestId')!r} does not match {request_id!r}."
        )
    data = response.get("Data")
    if data is not None and not isinstance(data, dict):
        raise CustomResourceError("Response Data must be a JSON object.")
    return response


class CustomResourceProvider(ResourceProvider[Properties]):
    """Runs Create, Update and Delete of a custom resource through its ServiceToken function."""

    TYPE = "AWS::CloudFormation::CustomResource"
    SCHEMA: dict[str, Any] = {  # noqa: RUF012 (LocalStack reads it as a class attribute)
        "typeName": "AWS::CloudFormation::CustomResource",
        "description": "A resource whose life cycle a Lambda function implements.",
        "additionalProperties": True,
        "properties": {
            "ServiceToken": {"type": "string"},
            "ServiceTimeout": {"type": ["integer", "string"]},
        },
        "required": ["ServiceToken"],
        "primaryIdentifier": [f"/properties/{STATE_KEY}/PhysicalResourceId"],
        "createOnlyProperties": [],
        "handlers": {"create": {}, "update": {}, "delete": {}},
    }

    def create(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        """Send Create and wait for the handler's response."""
        return self._drive(request, "Create", old_state=None)

    def update(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        """Send Update (with OldResourceProperties and PhysicalResourceId) and wait."""
        old_state = _state_of(request.previous_state)
        if old_state is None:
            # Nothing of a previous deployment is known (e.g. it was deployed as a mock before
            # this provider was installed): only a Create can bring the resource into being.
            return self._drive(request, "Create", old_state=None)
        return self._drive(request, "Update", old_state=old_state)

    def delete(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        """Send Delete for the physical resource the stack holds, and wait."""
        state = _state_of(request.desired_state) or _state_of(request.previous_state)
        if state is None:
            # The resource never completed (its Create failed or timed out): CloudFormation has
            # nothing to delete for it either once the stack rolled back.
            LOG.debug("Delete of %s skipped: it was never created", request.logical_resource_id)
            return ProgressEvent(status=OperationStatus.SUCCESS, resource_model={})
        return self._drive(request, "Delete", old_state=state)

    def _drive(
        self,
        request: ResourceRequest[Properties],
        request_type: str,
        old_state: dict[str, Any] | None,
    ) -> ProgressEvent[Properties]:
        """One engine call: send the request on the first call, then wait for its response."""
        try:
            if _CONTEXT_TOKEN not in request.custom_context:
                return self._send(request, request_type, old_state, phase=_PHASE_PRIMARY)
            return self._await(request, request_type, old_state)
        except CustomResourceError as error:
            if request.custom_context.get(_CONTEXT_PHASE) == _PHASE_REPLACED_DELETE:
                return self._replacement_done(request, reason=str(error))
            MAILBOXES.close(request.custom_context.get(_CONTEXT_TOKEN, ""))
            LOG.warning(
                "Custom resource %s (%s) %s failed: %s",
                request.logical_resource_id,
                request.resource_type,
                request_type,
                error,
            )
            return ProgressEvent(
                status=OperationStatus.FAILED,
                resource_model=_model_after_failure(request, request_type, error),
                message=str(error),
            )

    def _send(
        self,
        request: ResourceRequest[Properties],
        request_type: str,
        old_state: dict[str, Any] | None,
        *,
        phase: str,
    ) -> ProgressEvent[Properties]:
        """Invoke the ServiceToken function asynchronously with a fresh ResponseURL."""
        if request_type == "Delete" and old_state is not None:
            properties: Properties = old_state["ResourceProperties"]
        else:
            properties = _template_properties(request.desired_state)
        service_token = properties.get("ServiceToken")
        if not isinstance(service_token, str) or not service_token:
            raise CustomResourceError("ServiceToken is required and must be a string.")
        timeout = _service_timeout(properties)

        ensure_response_route()
        token = MAILBOXES.open(lifetime=timeout + MAILBOX_GRACE_SECONDS)
        request_id = str(uuid.uuid4())
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": service_token,
            "ResponseURL": response_url(token),
            "StackId": request.stack_id,
            "RequestId": request_id,
            "LogicalResourceId": request.logical_resource_id,
            "ResourceType": request.resource_type,
            "ResourceProperties": _as_cfn_strings(properties),
        }
        if request_type == "Update" and old_state is not None:
            event["OldResourceProperties"] = _as_cfn_strings(old_state["ResourceProperties"])
        if request_type in {"Update", "Delete"} and old_state is not None:
            event["PhysicalResourceId"] = old_state["PhysicalResourceId"]

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
        context = dict(request.custom_context)
        context.update(
            {
                _CONTEXT_PHASE: phase,
                _CONTEXT_TOKEN: token,
                _CONTEXT_REQUEST_ID: request_id,
                _CONTEXT_DEADLINE: now + timeout,
                _CONTEXT_TIMEOUT: timeout,
                _CONTEXT_SENT_AT: now,
                _CONTEXT_POLLS: 0,
            }
        )
        request.custom_context = context
        return self._await(request, request_type, old_state)

    def _await(
        self,
        request: ResourceRequest[Properties],
        request_type: str,
        old_state: dict[str, Any] | None,
    ) -> ProgressEvent[Properties]:
        """Wait one slice for the response; report IN_PROGRESS if it has not come yet."""
        context = dict(request.custom_context)
        token: str = context[_CONTEXT_TOKEN]
        remaining = context[_CONTEXT_DEADLINE] - time.time()
        polls_left = max(_engine_iteration_budget() - context[_CONTEXT_POLLS] - 2, 1)
        slice_seconds = min(max(remaining, 0.0), max(POLL_SLICE_SECONDS, remaining / polls_left))
        body = MAILBOXES.wait(token, slice_seconds)
        if body is None:
            if time.time() >= context[_CONTEXT_DEADLINE]:
                MAILBOXES.close(token)
                raise CustomResourceError(
                    f"CloudFormation did not receive a response from your Custom Resource "
                    f"within {context[_CONTEXT_TIMEOUT]:g} seconds (RequestId: "
                    f"{context[_CONTEXT_REQUEST_ID]}, {request_type}). Check the ServiceToken "
                    f"function's logs; the limit is the ServiceTimeout property or "
                    f"FRIEND_CFN_CUSTOM_RESOURCE_TIMEOUT."
                )
            context[_CONTEXT_POLLS] += 1
            return ProgressEvent(
                status=OperationStatus.IN_PROGRESS,
                resource_model=request.desired_state,
                custom_context=context,
            )

        MAILBOXES.close(token)
        LOG.info(
            "Custom resource %s: %s response after %.3f s",
            request.logical_resource_id,
            request_type,
            time.time() - context[_CONTEXT_SENT_AT],
        )
        response = _parse_response(body, context[_CONTEXT_REQUEST_ID])
        if context[_CONTEXT_PHASE] == _PHASE_REPLACED_DELETE:
            reason = response.get("Reason") if response["Status"] == "FAILED" else None
            return self._replacement_done(request, reason=reason)
        if response["Status"] == "FAILED":
            physical_id = response.get("PhysicalResourceId")
            raise CustomResourceError(
                f"Received response status [FAILED] from custom resource. Message returned: "
                f"{response.get('Reason') or 'See the details in CloudWatch Log Stream'} "
                f"(RequestId: {context[_CONTEXT_REQUEST_ID]})",
                physical_resource_id=physical_id if isinstance(physical_id, str) else None,
            )
        return self._succeeded(request, request_type, old_state, response)

    def _succeeded(
        self,
        request: ResourceRequest[Properties],
        request_type: str,
        old_state: dict[str, Any] | None,
        response: dict[str, Any],
    ) -> ProgressEvent[Properties]:
        """Turn a SUCCESS response into the resource model (and start a replacement's Delete)."""
        if request_type == "Delete":
            return ProgressEvent(status=OperationStatus.SUCCESS, resource_model={})
        physical_id = response.get("PhysicalResourceId")
        if not isinstance(physical_id, str) or not physical_id:
            raise CustomResourceError(
                "Invalid PhysicalResourceId: the response must carry a non-empty "
                "PhysicalResourceId."
            )
        new_state = {
            "PhysicalResourceId": physical_id,
            "ResourceProperties": _template_properties(request.desired_state),
        }
        data: dict[str, Any] = response.get("Data") or {}
        if old_state is not None and old_state["PhysicalResourceId"] != physical_id:
            LOG.info(
                "Custom resource %s replaced (%s -> %s): deleting the old one",
                request.logical_resource_id,
                old_state["PhysicalResourceId"],
                physical_id,
            )
            request.custom_context = {
                _CONTEXT_PHASE: _PHASE_REPLACED_DELETE,
                _CONTEXT_NEW_STATE: new_state,
                _CONTEXT_NEW_DATA: data,
            }
            return self._send(request, "Delete", old_state, phase=_PHASE_REPLACED_DELETE)
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=_model(new_state, data))

    def _replacement_done(
        self, request: ResourceRequest[Properties], reason: str | None
    ) -> ProgressEvent[Properties]:
        """Finish an Update whose old physical resource was sent its Delete.

        As in CloudFormation's cleanup phase, a failed Delete of the replaced resource is
        reported but does not fail the update: the new resource is in place.
        """
        context = request.custom_context
        MAILBOXES.close(context.get(_CONTEXT_TOKEN, ""))
        if reason:
            LOG.warning(
                "Custom resource %s: Delete of the replaced physical resource failed: %s",
                request.logical_resource_id,
                reason,
            )
        return ProgressEvent(
            status=OperationStatus.SUCCESS,
            resource_model=_model(context[_CONTEXT_NEW_STATE], context[_CONTEXT_NEW_DATA]),
        )


def _model(state: dict[str, Any], data: dict[str, Any]) -> Properties:
    """Resource model: ``Data`` laid out for ``Fn::GetAtt``, plus the provider's own state."""
    model = data_to_attributes(data)
    model[STATE_KEY] = state
    return model


def _model_after_failure(
    request: ResourceRequest[Properties], request_type: str, error: CustomResourceError
) -> Properties:
    """What the stack keeps of a resource whose request failed.

    A failed Update or Delete leaves the physical resource as it was, so its previous model is
    kept: a later stack delete (or a retried one) still sends Delete for it, and ``Fn::GetAtt``
    keeps returning the Data it had. A Create answered FAILED with a PhysicalResourceId is kept
    under that id: CloudFormation sends it a Delete on rollback, and handlers must cope with
    deleting what they failed to create (LocalStack, which does not roll back, sends it when
    the stack is deleted). A Create that got no answer leaves nothing to delete.
    """
    if request_type == "Update" and _state_of(request.previous_state) is not None:
        return dict(request.previous_state or {})
    if request_type == "Delete":
        return dict(request.desired_state or {})
    if request_type == "Create" and error.physical_resource_id:
        state = {
            "PhysicalResourceId": error.physical_resource_id,
            "ResourceProperties": _template_properties(request.desired_state),
        }
        return _model(state, {})
    return {}


def _state_of(model: Properties | None) -> dict[str, Any] | None:
    """The provider's state in a resource model from an earlier deployment, if it has one."""
    if not model:
        return None
    state = model.get(STATE_KEY)
    return state if isinstance(state, dict) else None


def _template_properties(properties: Properties | None) -> Properties:
    """The resource's properties as the template gives them (without the provider's state)."""
    return {key: value for key, value in (properties or {}).items() if key != STATE_KEY}


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


class CustomResourceProviderPlugin(CloudFormationResourceProviderPlugin):
    """Plugin in ``localstack.cloudformation.resource_providers`` for every custom resource type."""

    name = "AWS::CloudFormation::CustomResource"

    def __init__(self) -> None:
        self.factory: type[ResourceProvider[Properties]] | None = None

    def load(self) -> None:
        """Register the ResponseURL route before the first request can hand out a URL."""
        ensure_response_route()
        self.factory = CustomResourceProvider


__all__ = [
    "CustomResourceProvider",
    "CustomResourceProviderPlugin",
    "data_to_attributes",
]
