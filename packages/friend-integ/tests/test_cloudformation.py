"""Stack status changes become progress lines with the time each status lasted."""

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ClientError
from friend_integ import cloudformation
from friend_integ.cloudformation import StackWatcher, client


class FakeCloudFormation:
    """Answers describe_stacks from a script of statuses per stack (None: does not exist)."""

    def __init__(self, script: dict[str, list[str | None]]) -> None:
        self.script = script

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        status = self.script[StackName].pop(0)
        if status is None:
            raise ClientError(
                {"Error": {"Code": "ValidationError", "Message": f"{StackName} does not exist"}},
                "DescribeStacks",
            )
        return {"Stacks": [{"StackName": StackName, "StackStatus": status}]}


def test_each_change_is_reported_once_with_the_time_spent_before_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ticks = [0.0, 1.0, 11.0, 12.0, 15.0]
    monkeypatch.setattr(
        cloudformation.time, "monotonic", lambda: ticks.pop(0) if len(ticks) > 1 else ticks[0]
    )
    client = FakeCloudFormation(
        {
            "Stack": [
                None,
                "CREATE_IN_PROGRESS",
                "CREATE_COMPLETE",
                "CREATE_COMPLETE",
                "DELETE_IN_PROGRESS",
            ]
        }
    )
    reports: list[tuple[str, str, str, float]] = []
    watcher = StackWatcher(lambda _region: client, lambda *r: reports.append(r))
    watcher.watch("us-east-2", ["Stack"])

    for _ in range(5):
        watcher.poll()

    assert reports == [
        ("Stack", "ABSENT", "CREATE_IN_PROGRESS", 1.0),
        ("Stack", "CREATE_IN_PROGRESS", "CREATE_COMPLETE", 10.0),
        ("Stack", "CREATE_COMPLETE", "DELETE_IN_PROGRESS", 4.0),
    ]


def test_the_watcher_makes_one_client_per_region_for_all_its_polls() -> None:
    # Making a client loads botocore's models: far more work than the calls it makes, on
    # cores that the emulator and the tools need.
    made: list[str] = []

    def clients(region: str) -> FakeCloudFormation:
        made.append(region)
        return FakeCloudFormation({"A": ["CREATE_IN_PROGRESS"] * 3, "B": [None] * 3})

    watcher = StackWatcher(clients, lambda *_: None)
    watcher.watch("us-east-1", ["A"])
    watcher.watch("us-east-2", ["B"])

    for _ in range(3):
        watcher.poll()

    assert sorted(made) == ["us-east-1", "us-east-2"]


def test_client_targets_exactly_the_endpoint_and_credentials_given() -> None:
    cfn = client(
        {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
        }
    )
    assert cfn.meta.endpoint_url == "http://127.0.0.1:4566"
    assert cfn.meta.region_name == "us-east-1"
    sent: list[AWSPreparedRequest] = []

    def answer_empty(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        """Keep the signed request and answer it here: nothing leaves the process."""
        sent.append(request)
        return AWSResponse(request.url, 200, {}, _EmptyBody())

    cfn.meta.events.register("before-send.cloudformation", answer_empty)
    cfn.describe_stacks()
    (request,) = sent
    assert request.url.startswith("http://127.0.0.1:4566")
    assert "Credential=test/" in request.headers["Authorization"].decode()


class _EmptyBody:
    """The raw body of an answer with no stacks, as urllib3 would hand it to botocore."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b"<DescribeStacksResponse><DescribeStacksResult><Stacks/>"
        yield b"</DescribeStacksResult></DescribeStacksResponse>"


class DeletingCloudFormation:
    """Deletes stacks after a number of looks, or never (status DELETE_FAILED); records the
    order of deletions and of stacks seen gone."""

    def __init__(self, looks_until_gone: dict[str, int | None]) -> None:
        self.looks = dict(looks_until_gone)
        self.deleting: set[str] = set()
        self.calls: list[tuple[str, str]] = []

    def delete_stack(self, StackName: str) -> None:
        self.calls.append(("delete", StackName))
        self.deleting.add(StackName)

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        left = self.looks.get(StackName, 0)
        if StackName in self.deleting and left is not None:
            if left == 0:
                self.calls.append(("gone", StackName))
                raise ClientError(
                    {"Error": {"Code": "ValidationError", "Message": "does not exist"}},
                    "DescribeStacks",
                )
            self.looks[StackName] = left - 1
        if StackName in self.deleting:
            status = "DELETE_IN_PROGRESS" if left is not None else "DELETE_FAILED"
        else:
            status = "CREATE_COMPLETE"
        reason = {"StackStatusReason": "bucket not empty"} if left is None else {}
        return {"Stacks": [{"StackName": StackName, "StackStatus": status, **reason}]}


def test_stacks_are_deleted_one_after_the_other_in_the_given_order() -> None:
    fake = DeletingCloudFormation({"Assertions": 2, "Stack": 1})

    cloudformation.delete_stacks(fake, ["Assertions", "Stack"], poll=0)

    # The assertion stack depends on the tested stack: it must be gone before the next delete.
    assert fake.calls == [
        ("delete", "Assertions"),
        ("gone", "Assertions"),
        ("delete", "Stack"),
        ("gone", "Stack"),
    ]


def test_a_stack_that_fails_to_delete_is_an_error_that_says_why() -> None:
    fake = DeletingCloudFormation({"Assertions": 0, "Stack": None})

    with pytest.raises(cloudformation.StackDeletionError, match="Stack did not delete: bucket"):
        cloudformation.delete_stacks(fake, ["Assertions", "Stack"], poll=0)


def test_a_stack_still_deleting_after_the_timeout_is_an_error() -> None:
    fake = DeletingCloudFormation({"Stack": 10**9})

    with pytest.raises(cloudformation.StackDeletionError, match="still DELETE_IN_PROGRESS"):
        cloudformation.delete_stacks(fake, ["Stack"], poll=0, timeout=0.01)
