"""The one error of the custom resource provider: a request that cannot succeed.

Whatever stops a request (a ServiceToken that is no function, a response that is not valid, a
handler that answered FAILED or not at all), the provider reports it the same way: the resource
fails with the error's message as its reason in the stack events.
"""

from __future__ import annotations


class CustomResourceError(Exception):
    """A custom resource request could not be sent or its response was not acceptable.

    ``physical_resource_id`` is set when a handler answered FAILED and named its resource:
    CloudFormation sends that resource a Delete when the stack goes away.
    """

    def __init__(self, message: str, physical_resource_id: str | None = None) -> None:
        super().__init__(message)
        self.physical_resource_id = physical_resource_id
