"""The CloudFormation resource provider for custom resources: one operation, call by call.

It is one module because its methods are the steps of one state machine, each handing over to
the next; what they call on (the request, the response, the states) lives in sibling modules.

LocalStack's engine calls :meth:`CustomResourceProvider.create`, ``update`` or ``delete`` again
and again while the provider reports ``IN_PROGRESS``. Each call picks up the state the previous
one left (:mod:`.states`) and moves the operation on:

- no state yet: send the request, then wait for its response;
- :class:`AwaitingResponse`: wait one slice; SUCCESS completes the resource (or, for an Update
  that changed the physical id, sends the old resource its Delete), FAILED, an invalid response
  or the deadline fails it;
- :class:`AwaitingReplacedDelete`: wait one slice; any answer, or none by the deadline,
  completes the Update with the new resource.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from localstack.services.cloudformation.resource_provider import (
    OperationStatus,
    ProgressEvent,
    ResourceProvider,
    ResourceRequest,
)

from friend_localstack_ext.custom_resource.errors import CustomResourceError
from friend_localstack_ext.custom_resource.handler_response import (
    HandlerResponse,
    ResponseStatus,
    parse_response,
    wait_for_response,
)
from friend_localstack_ext.custom_resource.resource_model import (
    STATE_KEY,
    PhysicalResource,
    Properties,
    Provisioned,
    template_properties,
)
from friend_localstack_ext.custom_resource.response_url import MAILBOXES
from friend_localstack_ext.custom_resource.service_token import send_request
from friend_localstack_ext.custom_resource.states import (
    Awaiting,
    AwaitingReplacedDelete,
    AwaitingResponse,
    RequestType,
    SentRequest,
    from_context,
    to_context,
)

LOG = logging.getLogger(__name__)


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
        return self._drive(request, RequestType.CREATE, previous=None)

    def update(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        """Send Update (with OldResourceProperties and PhysicalResourceId) and wait."""
        previous = PhysicalResource.from_model(request.previous_state)
        if previous is None:
            # Nothing of a previous deployment is known (e.g. it was deployed as a mock before
            # this provider was installed): only a Create can bring the resource into being.
            return self._drive(request, RequestType.CREATE, previous=None)
        return self._drive(request, RequestType.UPDATE, previous)

    def delete(self, request: ResourceRequest[Properties]) -> ProgressEvent[Properties]:
        """Send Delete for the physical resource the stack holds, and wait."""
        resource = PhysicalResource.from_model(request.desired_state) or (
            PhysicalResource.from_model(request.previous_state)
        )
        if resource is None:
            # The resource never completed (its Create failed or timed out): CloudFormation has
            # nothing to delete for it either once the stack rolled back.
            LOG.debug("Delete of %s skipped: it was never created", request.logical_resource_id)
            return ProgressEvent(status=OperationStatus.SUCCESS, resource_model={})
        return self._drive(request, RequestType.DELETE, previous=resource)

    def _drive(
        self,
        request: ResourceRequest[Properties],
        request_type: RequestType,
        previous: PhysicalResource | None,
    ) -> ProgressEvent[Properties]:
        """One engine call: move the operation on from the state the previous call left."""
        match from_context(request.custom_context):
            case None:
                return self._send(request, request_type, previous)
            case AwaitingResponse() as state:
                return self._await_response(request, state, previous)
            case AwaitingReplacedDelete() as state:
                return self._await_replaced_delete(request, state)

    def _send(
        self,
        request: ResourceRequest[Properties],
        request_type: RequestType,
        previous: PhysicalResource | None,
    ) -> ProgressEvent[Properties]:
        """Send the operation's request and wait the first slice for its response."""
        try:
            sent = send_request(request, request_type, previous)
        except CustomResourceError as error:
            return self._failed(request, request_type, error)
        return self._await_response(request, AwaitingResponse(sent), previous)

    def _await_response(
        self,
        request: ResourceRequest[Properties],
        state: AwaitingResponse,
        previous: PhysicalResource | None,
    ) -> ProgressEvent[Properties]:
        """Wait one slice for the operation's response and act on it once it is there."""
        sent = state.sent
        try:
            response = self._receive(request, sent)
            if response is None:
                return self._in_progress(request, AwaitingResponse(sent.polled()))
            if response.status is ResponseStatus.FAILED:
                raise response.failure(sent.request_id)
            return self._succeeded(request, sent.request_type, previous, response)
        except CustomResourceError as error:
            MAILBOXES.close(sent.response_token)
            return self._failed(request, sent.request_type, error)

    def _succeeded(
        self,
        request: ResourceRequest[Properties],
        request_type: RequestType,
        previous: PhysicalResource | None,
        response: HandlerResponse,
    ) -> ProgressEvent[Properties]:
        """Turn a SUCCESS response into the resource model (and start a replacement's Delete)."""
        if request_type is RequestType.DELETE:
            return ProgressEvent(status=OperationStatus.SUCCESS, resource_model={})
        if not response.physical_resource_id:
            raise CustomResourceError(
                "Invalid PhysicalResourceId: the response must carry a non-empty "
                "PhysicalResourceId."
            )
        provisioned = Provisioned(
            resource=PhysicalResource(
                physical_resource_id=response.physical_resource_id,
                resource_properties=template_properties(request.desired_state),
            ),
            data=response.data,
        )
        if previous is not None and previous.physical_resource_id != response.physical_resource_id:
            LOG.info(
                "Custom resource %s replaced (%s -> %s): deleting the old one",
                request.logical_resource_id,
                previous.physical_resource_id,
                response.physical_resource_id,
            )
            return self._delete_replaced(request, previous, provisioned)
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=provisioned.model())

    def _delete_replaced(
        self,
        request: ResourceRequest[Properties],
        replaced: PhysicalResource,
        replacement: Provisioned,
    ) -> ProgressEvent[Properties]:
        """Send the replaced physical resource its Delete and wait the first slice for it."""
        try:
            sent = send_request(request, RequestType.DELETE, replaced)
        except CustomResourceError as error:
            return self._replacement_done(request, replacement, reason=str(error))
        return self._await_replaced_delete(request, AwaitingReplacedDelete(sent, replacement))

    def _await_replaced_delete(
        self, request: ResourceRequest[Properties], state: AwaitingReplacedDelete
    ) -> ProgressEvent[Properties]:
        """Wait one slice for the replaced resource's Delete to be answered."""
        sent = state.sent
        try:
            response = self._receive(request, sent)
        except CustomResourceError as error:
            MAILBOXES.close(sent.response_token)
            return self._replacement_done(request, state.replacement, reason=str(error))
        if response is None:
            return self._in_progress(request, replace(state, sent=sent.polled()))
        reason = response.reason if response.status is ResponseStatus.FAILED else None
        return self._replacement_done(request, state.replacement, reason=reason)

    def _replacement_done(
        self, request: ResourceRequest[Properties], replacement: Provisioned, reason: str | None
    ) -> ProgressEvent[Properties]:
        """Finish an Update whose old physical resource was sent its Delete.

        As in CloudFormation's cleanup phase, a failed Delete of the replaced resource is
        reported but does not fail the update: the new resource is in place.
        """
        if reason:
            LOG.warning(
                "Custom resource %s: Delete of the replaced physical resource failed: %s",
                request.logical_resource_id,
                reason,
            )
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=replacement.model())

    def _receive(
        self, request: ResourceRequest[Properties], sent: SentRequest
    ) -> HandlerResponse | None:
        """The checked response to ``sent`` if it arrived within this call's slice."""
        body = wait_for_response(sent)
        if body is None:
            return None
        LOG.info(
            "Custom resource %s: %s response after %.3f s",
            request.logical_resource_id,
            sent.request_type,
            time.time() - sent.sent_at,
        )
        return parse_response(body, sent.request_id)

    def _in_progress(
        self, request: ResourceRequest[Properties], state: Awaiting
    ) -> ProgressEvent[Properties]:
        """Report that the response has not come yet; the engine calls again with ``state``."""
        return ProgressEvent(
            status=OperationStatus.IN_PROGRESS,
            resource_model=request.desired_state,
            custom_context=to_context(state),
        )

    def _failed(
        self,
        request: ResourceRequest[Properties],
        request_type: RequestType,
        error: CustomResourceError,
    ) -> ProgressEvent[Properties]:
        """Fail the resource, hence the stack, with the error as the reason in its events."""
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


def _model_after_failure(
    request: ResourceRequest[Properties], request_type: RequestType, error: CustomResourceError
) -> Properties:
    """What the stack keeps of a resource whose request failed.

    A failed Update or Delete leaves the physical resource as it was, so its previous model is
    kept: a later stack delete (or a retried one) still sends Delete for it, and ``Fn::GetAtt``
    keeps returning the Data it had. A Create answered FAILED with a PhysicalResourceId is kept
    under that id: CloudFormation sends it a Delete on rollback, and handlers must cope with
    deleting what they failed to create (LocalStack, which does not roll back, sends it when
    the stack is deleted). A Create that got no answer leaves nothing to delete.
    """
    if (
        request_type is RequestType.UPDATE
        and PhysicalResource.from_model(request.previous_state) is not None
    ):
        return dict(request.previous_state or {})
    if request_type is RequestType.DELETE:
        return dict(request.desired_state or {})
    if request_type is RequestType.CREATE and error.physical_resource_id:
        created = PhysicalResource(
            physical_resource_id=error.physical_resource_id,
            resource_properties=template_properties(request.desired_state),
        )
        return Provisioned(resource=created, data={}).model()
    return {}
