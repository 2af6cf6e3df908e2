"""How a custom resource lives in LocalStack's resource model between deployments.

LocalStack keeps one dict per resource, the resource model, from one deployment to the next, and
resolves ``Ref`` and ``Fn::GetAtt`` from it. The provider keeps what CloudFormation remembers of a
custom resource (its physical id, the properties it was created or last updated with) under one
key of that model, and lays the handler's ``Data`` out in the rest, where ``Fn::GetAtt`` reads.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Final, Self

LOG = logging.getLogger(__name__)

Properties = dict[str, Any]
"""A resource model, or the properties of a resource as a template gives them."""

STATE_KEY: Final = "__custom_resource__"
"""Key of the resource model under which the provider keeps what CloudFormation remembers about
a custom resource (physical id, the properties it was created or updated with). The rest of the
model is the response's ``Data``, because LocalStack resolves ``Fn::GetAtt`` from the model."""


@dataclass(frozen=True)
class PhysicalResource:
    """A physical resource a handler created, as CloudFormation remembers it.

    Its id is what ``Ref`` returns and what Update and Delete requests name; its properties are
    sent back as ``OldResourceProperties`` on Update and as ``ResourceProperties`` on Delete.
    """

    physical_resource_id: str
    resource_properties: Properties

    @classmethod
    def from_model(cls, model: Properties | None) -> Self | None:
        """The resource in a model from an earlier deployment, if that deployment created one."""
        if not model:
            return None
        state = model.get(STATE_KEY)
        return cls.from_state(state) if isinstance(state, dict) else None

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        """Read back what :meth:`to_state` wrote."""
        return cls(
            physical_resource_id=state["PhysicalResourceId"],
            resource_properties=state["ResourceProperties"],
        )

    def to_state(self) -> dict[str, Any]:
        """The entry under :data:`STATE_KEY`; the schema's primary identifier points into it."""
        return {
            "PhysicalResourceId": self.physical_resource_id,
            "ResourceProperties": self.resource_properties,
        }


@dataclass(frozen=True)
class Provisioned:
    """A physical resource a SUCCESS response put in place, with the ``Data`` it returned."""

    resource: PhysicalResource
    data: dict[str, Any]

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        """Read back what :meth:`to_state` wrote."""
        return cls(resource=PhysicalResource.from_state(state["resource"]), data=state["data"])

    def to_state(self) -> dict[str, Any]:
        """Plain data, as LocalStack's engine carries it between calls of the provider."""
        return {"resource": self.resource.to_state(), "data": self.data}

    def model(self) -> Properties:
        """Resource model: ``Data`` laid out for ``Fn::GetAtt``, plus the resource itself."""
        model = data_to_attributes(self.data)
        model[STATE_KEY] = self.resource.to_state()
        return model


def template_properties(properties: Properties | None) -> Properties:
    """The resource's properties as the template gives them (without the provider's state)."""
    return {key: value for key, value in (properties or {}).items() if key != STATE_KEY}


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
