"""A failed test explained from what the target holds: template labels and the waiters' logs."""

import json
from typing import Any

from friend_integ.diagnose import ASSERTION_METADATA, attempts, diagnose, labels

EXPECTED = json.dumps({"$ObjectLike": {"Count": 1, "Items": [{"state": {"S": "Friends"}}]}})


def _event(logical_id: str) -> str:
    request = {"RequestType": "Create", "LogicalResourceId": logical_id, "ResponseURL": "..."}
    return f"2026-12-01T23:00:00Z\treq-1\tINFO\tEvent: {json.dumps(request)}"


def _testing(state: str) -> str:
    actual = {"Count": 1, "Items": [{"state": {"S": state}}]}
    return f"Testing equality between {json.dumps(actual)} and {json.dumps(EXPECTED)}"


def _failed(message: str) -> str:
    result = {"failed": True, "assertion": json.dumps({"status": "fail", "message": message})}
    return f"Assertion Failed: {json.dumps(result)}"


def test_each_attempt_keeps_its_resource_its_last_actual_and_the_mismatch() -> None:
    found = list(
        attempts(
            [
                "START RequestId: req-1",
                _event("WaitAlice"),
                _testing("Pending"),
                _failed("Expected Friends but received Pending at /Items/0/state/S"),
                _event("WaitBob"),
                _testing("Friends"),
                "Responding to CloudFormation {}",
            ]
        )
    )

    assert [(a.logical_id, a.failed) for a in found] == [("WaitAlice", True), ("WaitBob", False)]
    assert '"S":"Pending"' in found[0].actual
    assert "Friends" in found[0].expected
    assert found[0].mismatch.startswith("Expected Friends but received Pending")


class FakeLogs:
    """Log groups by name, each a list of (stream, message) in order."""

    def __init__(self, groups: dict[str, list[tuple[str, str]]]) -> None:
        self.groups = groups

    def get_paginator(self, name: str) -> "FakeLogs":
        self.operation = name
        return self

    def paginate(self, **kwargs: Any) -> list[dict[str, Any]]:
        if self.operation == "describe_log_groups":
            prefix = kwargs["logGroupNamePrefix"]
            names = [name for name in self.groups if name.startswith(prefix)]
            return [{"logGroups": [{"logGroupName": name} for name in names]}]
        events = [
            {"logStreamName": stream, "message": message, "timestamp": 1000 + index}
            for index, (stream, message) in enumerate(self.groups[kwargs["logGroupName"]])
        ]
        return [{"events": events}]


class FakeCloudFormation:
    def __init__(self, template: dict[str, Any]) -> None:
        self.template = template

    def get_template(self, StackName: str) -> dict[str, Any]:
        assert StackName == "CaseIntegAssertions"
        return {"TemplateBody": self.template}


def test_every_failing_assertion_is_named_with_its_line_values_and_the_players_logs() -> None:
    template = {
        "Resources": {
            "WaitAlice": {
                "Metadata": {
                    ASSERTION_METADATA: {"source": "integ_x.py:12", "players": ["alice", "bob"]}
                }
            },
            "WaitDave": {
                "Metadata": {
                    ASSERTION_METADATA: {"source": "integ_x.py:40", "players": ["dave", "carol"]}
                }
            },
            "WaitErin": {
                "Metadata": {ASSERTION_METADATA: {"source": "integ_x.py:50", "players": ["erin"]}}
            },
        }
    }
    waiter = "/aws/lambda/CaseIntegAssertions-SingletonFunction76b3-abc"
    logs = FakeLogs(
        {
            waiter: [
                ("s1", _event("WaitAlice")),
                ("s2", _event("WaitDave")),
                ("s1", _testing("Requested")),
                ("s2", _testing("Pending")),
                ("s1", _failed("Expected Friends but received Requested")),
                ("s2", _failed("Expected Friends but received Pending")),
                ("s3", _event("WaitErin")),
                ("s3", _testing("Friends")),
            ],
            "/aws/lambda/CaseInteg-AcceptStateFunctionA1-xyz": [
                ("t1", "START RequestId: 9"),
                ("t1", '{"level":"INFO","message":"accepted","player_id":"bob"}'),
                ("t1", '{"level":"INFO","message":"unrelated","player_id":"zed"}'),
            ],
        }
    )
    timed_out = json.dumps({"LogicalResourceId": "WaitAlice", "ResourceProperties": {}})

    diagnosis = diagnose(
        {"cloudformation": FakeCloudFormation(template), "logs": logs},
        assertion_stack="CaseIntegAssertions",
        tested_stacks=["CaseInteg"],
        details=[f"Integration test failed: Error: Operation timed out: {timed_out}"],
        since_ms=0,
    )

    named = [(a.label.source if a.label else "", a.outcome) for a in diagnosis.assertions]
    assert named == [
        ("integ_x.py:12", "timed out"),
        ("integ_x.py:40", "still failing when the deployment stopped"),
    ]
    assert "Requested" in diagnosis.assertions[0].actual
    assert "Pending" in diagnosis.assertions[1].actual
    assert diagnosis.players == ("alice", "bob", "dave", "carol")
    assert diagnosis.function_logs == [
        'AcceptStateFunctionA1: {"level":"INFO","message":"accepted","player_id":"bob"}'
    ]
    assert labels(template)["WaitErin"].players == ("erin",)


def test_failed_plain_expectations_are_named_from_their_outputs() -> None:
    # A plain `.expect()` does not fail the deployment: integ-runner lists each failed one by
    # its `AssertionResults` output; the output names the resource, the resource its line.
    template = {
        "Resources": {
            "CallMia": {"Metadata": {ASSERTION_METADATA: {"source": "integ_x.py:7"}}},
            "CallOli": {"Metadata": {ASSERTION_METADATA: {"source": "integ_x.py:9"}}},
        },
        "Outputs": {
            "AssertionResultsCallMia": {"Value": {"Fn::GetAtt": ["CallMia", "assertion"]}},
            "AssertionResultsCallOli": {"Value": {"Fn::GetAtt": ["CallOli", "assertion"]}},
        },
    }

    diagnosis = diagnose(
        {"cloudformation": FakeCloudFormation(template), "logs": FakeLogs({})},
        assertion_stack="CaseIntegAssertions",
        tested_stacks=["CaseInteg"],
        details=["AssertionResultsCallMia", "Expected 400, got 202", "AssertionResultsCallOli"],
        since_ms=0,
    )

    assert [a.label.source for a in diagnosis.assertions if a.label] == [
        "integ_x.py:7",
        "integ_x.py:9",
    ]
