"""CloudFormation custom resources (``Custom::*``, ``AWS::CloudFormation::CustomResource``).

Open-source LocalStack has no provider for custom resources and, by default, deploys them as
mocks: the ServiceToken function never runs, ``Fn::GetAtt`` returns placeholders and a stack
whose integ-tests-alpha assertions should fail reaches CREATE_COMPLETE. This provider runs them
the way CloudFormation does:

1. It sends the ServiceToken Lambda function the custom resource request (``RequestType``,
   ``ResponseURL``, ``StackId``, ``RequestId``, ``LogicalResourceId``, ``ResourceType``,
   ``ResourceProperties``, plus ``OldResourceProperties`` on Update and ``PhysicalResourceId``
   on Update and Delete) as an asynchronous (``Event``) invocation.
2. The handler answers by ``PUT`` to the ResponseURL, a route of LocalStack's own gateway.
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

The modules, in the order a request meets them:

- :mod:`.provider`: the engine's entry points, moving an operation from state to state;
- :mod:`.states`: those states, and how they travel in ``custom_context``;
- :mod:`.service_token`: the request, and its invocation of the ServiceToken function;
- :mod:`.response_url`: the ResponseURL route on the gateway, where responses arrive;
- :mod:`.handler_response`: the wait for a response, and its checks;
- :mod:`.resource_model`: what the stack keeps of the resource, where ``Fn::GetAtt`` reads;
- :mod:`.errors`: the error that fails a request.

LocalStack routes every ``Custom::<Name>`` type to the plugin named
``AWS::CloudFormation::CustomResource`` (``ResourceProviderExecutor.try_load_resource_provider``),
so that one entry point, :class:`CustomResourceProviderPlugin` here, serves them all.
"""

from __future__ import annotations

from localstack.services.cloudformation.resource_provider import (
    CloudFormationResourceProviderPlugin,
    ResourceProvider,
)

from friend_localstack_ext.custom_resource.provider import CustomResourceProvider
from friend_localstack_ext.custom_resource.resource_model import Properties, data_to_attributes
from friend_localstack_ext.custom_resource.response_url import ensure_response_route


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
