"""CloudFormation as the integ command sees it: a client for the run's target, stack status,
deletion, and a watcher that turns status changes into progress lines and phase timings."""

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from friend_target import REGION

ABSENT = "ABSENT"
POLL_SECONDS = 1.0


def client(env: Mapping[str, str]) -> Any:
    """A CloudFormation client for the target that `env` describes.

    Credentials and endpoint are taken from `env` explicitly (never from this process's own
    environment), so the command looks at exactly the target the tools deploy to.
    """
    endpoint = env.get("AWS_ENDPOINT_URL") or f"https://cloudformation.{REGION}.amazonaws.com"
    if "AWS_ACCESS_KEY_ID" in env:
        session = boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
            aws_session_token=env.get("AWS_SESSION_TOKEN"),
            region_name=REGION,
        )
    else:
        session = boto3.session.Session(profile_name=env.get("AWS_PROFILE"), region_name=REGION)
    return session.client("cloudformation", endpoint_url=endpoint)


def describe(cloudformation: Any, name: str) -> dict[str, Any] | None:
    """The stack called `name`, or None when there is none."""
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    return stacks[0] if stacks else None


def status(cloudformation: Any, name: str) -> str:
    """The stack's status, or `ABSENT`."""
    stack = describe(cloudformation, name)
    return str(stack["StackStatus"]) if stack else ABSENT


def delete_stacks(cloudformation: Any, names: Sequence[str]) -> None:
    """Delete the stacks in order (assertion stacks first) and wait for each to go."""
    waiter = cloudformation.get_waiter("stack_delete_complete")
    for name in names:
        cloudformation.delete_stack(StackName=name)
        waiter.wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 300})


class StackWatcher:
    """Reports each status change of the named stacks until stopped.

    integ-runner says nothing between "Running test" and the result, a minute or more that
    covers synthesis, two deployments, the assertions and the destroy; polling the test's stacks
    (names from the committed snapshot) shows which is under way, and the time between status
    changes gives the breakdown of a run. `report(stack, previous_status, status,
    seconds_in_previous_status)` is called from the watcher's thread.
    """

    def __init__(
        self,
        cloudformation: Any,
        stacks: Sequence[str],
        report: Callable[[str, str, str, float], None],
    ) -> None:
        self._client = cloudformation
        self._stacks = list(stacks)
        self._report = report
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._status: dict[str, tuple[str, float]] = {}

    def __enter__(self) -> "StackWatcher":
        if self._stacks:
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def poll(self) -> None:
        """Check every stack once and report what changed."""
        now = time.monotonic()
        for name in self._stacks:
            current = status(self._client, name)
            previous = self._status.get(name)
            if previous is None:
                self._status[name] = (current, now)
                if current != ABSENT:
                    self._report(name, ABSENT, current, 0.0)
            elif previous[0] != current:
                self._status[name] = (current, now)
                self._report(name, previous[0], current, now - previous[1])

    def _loop(self) -> None:
        while not self._stop.is_set():
            # A failed poll only delays a progress line; the run itself decides the outcome.
            with contextlib.suppress(BotoCoreError, ClientError):
                self.poll()
            self._stop.wait(POLL_SECONDS)
