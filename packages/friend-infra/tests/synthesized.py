"""The stack synthesized for template assertions, and the lookups those assertions share.

Lookups go through the stack's own constructs (``stack.functions[...]``), so they hold for any
pins and never depend on how the template spells a handler.
"""

import json
from dataclasses import dataclass
from typing import Any

from aws_cdk import App
from aws_cdk.assertions import Template
from friend_infra.stack import FriendMicroservicesStack


@dataclass(frozen=True)
class Synthesized:
    app: App
    stack: FriendMicroservicesStack
    template: Template

    @property
    def json(self) -> dict[str, Any]:
        return self.template.to_json()

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return self.template.find_resources(kind)

    def logical_id(self, construct: Any) -> str:
        return str(self.stack.resolve(construct.node.default_child.logical_id))

    def function_id(self, handler: str) -> str:
        """Logical id of ``handler``'s function."""
        return self.logical_id(self.stack.functions[handler].function)

    def alias_id(self, handler: str) -> str:
        """Logical id of the ``live`` alias of ``handler``'s function."""
        return self.logical_id(self.stack.functions[handler].alias)

    def alias_name(self, handler: str) -> dict[str, Any]:
        """How a mapping names ``handler``'s ``live`` alias: ``<function name>:live``."""
        function_name = {"Fn::Select": [6, {"Fn::Split": [":", {"Ref": self.alias_id(handler)}]}]}
        return {"Fn::Join": ["", [function_name, ":live"]]}

    def mapping_of(self, handler: str) -> dict[str, Any]:
        """Properties of the one event source mapping feeding ``handler`` (through its alias)."""
        (found,) = [
            resource["Properties"]
            for resource in self.resources("AWS::Lambda::EventSourceMapping").values()
            if resource["Properties"]["FunctionName"] == self.alias_name(handler)
        ]
        return found

    def alarms(self) -> list[dict[str, Any]]:
        return [alarm["Properties"] for alarm in self.resources("AWS::CloudWatch::Alarm").values()]

    def alarms_on(self, metric: str, namespace: str) -> list[dict[str, Any]]:
        return [
            alarm
            for alarm in self.alarms()
            if alarm["MetricName"] == metric and alarm["Namespace"] == namespace
        ]

    def dashboard(self) -> dict[str, Any]:
        """The dashboard body as JSON, each reference replaced by the logical id it refers to."""
        (dashboard,) = self.resources("AWS::CloudWatch::Dashboard").values()
        _, parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"]
        body: dict[str, Any] = json.loads("".join(_flat(part) for part in parts))
        return body


def _flat(part: Any) -> str:
    if isinstance(part, str):
        return part
    if "Ref" in part:
        return str(part["Ref"])
    (logical_id, attribute) = part["Fn::GetAtt"]
    return f"{logical_id}.{attribute}"


def synthesize(**options: Any) -> Synthesized:
    """``FriendMicroservicesStack`` with ``options``, in an app of its own."""
    app = App()
    stack = FriendMicroservicesStack(app, "FriendMicroservices", **options)
    return Synthesized(app=app, stack=stack, template=Template.from_stack(stack))
