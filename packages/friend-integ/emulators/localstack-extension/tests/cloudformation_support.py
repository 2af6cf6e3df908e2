"""Waiting for CloudFormation stacks deployed by the LocalStack tests, and reading their events."""

from __future__ import annotations

import time
from typing import Any


def stack_events(cloudformation: Any, name: str) -> list[tuple[str, str, str]]:
    """(logical id, status, reason) of every event of the stack, oldest first."""
    events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    return [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason", ""))
        for e in reversed(events)
    ]


def wait_settled(cloudformation: Any, name: str, timeout: float, poll: float) -> dict[str, Any]:
    """The stack once no operation on it is in progress; fails with its events otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack: dict[str, Any] = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            return stack
        time.sleep(poll)
    raise AssertionError(f"stack {name} did not settle: {stack_events(cloudformation, name)}")


def wait_deleted(cloudformation: Any, name: str, timeout: float, poll: float) -> bool:
    """Whether the stack was gone (or DELETE_COMPLETE) within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live = {
            s["StackName"]
            for s in cloudformation.describe_stacks()["Stacks"]
            if s["StackStatus"] != "DELETE_COMPLETE"
        }
        if name not in live:
            return True
        time.sleep(poll)
    return False
