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
DELETE_POLL_SECONDS = 0.25
"""A deletion is looked at this often: an emulator deletes a stack in well under a second, and
every look in between is time a run waits for nothing."""
DELETE_TIMEOUT_SECONDS = 900.0
"""Longer than any deletion of these stacks on AWS (functions' network interfaces included)."""


class StackDeletionError(RuntimeError):
    """A stack that did not delete: it failed, or it was still there after the timeout."""


def session(env: Mapping[str, str], region: str = REGION) -> Any:
    """A boto3 session for the target that `env` describes, in `region`.

    Credentials are taken from `env` explicitly (never from this process's own environment),
    so the command looks at exactly the target the tools deploy to.
    """
    if "AWS_ACCESS_KEY_ID" in env:
        return boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
            aws_session_token=env.get("AWS_SESSION_TOKEN"),
            region_name=region,
        )
    return boto3.session.Session(profile_name=env.get("AWS_PROFILE"), region_name=region)


def client(env: Mapping[str, str], service: str = "cloudformation", region: str = REGION) -> Any:
    """A client of `service` at the target that `env` describes (its endpoint, if any)."""
    return session(env, region).client(service, endpoint_url=env.get("AWS_ENDPOINT_URL"))


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


def delete_stacks(
    cloudformation: Any,
    names: Sequence[str],
    *,
    poll: float = DELETE_POLL_SECONDS,
    timeout: float = DELETE_TIMEOUT_SECONDS,
) -> None:
    """Delete the stacks in order (assertion stacks first), each gone before the next starts;
    raise `StackDeletionError` for the first that does not go."""
    for name in names:
        if status(cloudformation, name) == ABSENT:
            continue
        cloudformation.delete_stack(StackName=name)
        deadline = time.monotonic() + timeout
        while (current := status(cloudformation, name)) not in (ABSENT, "DELETE_COMPLETE"):
            if current == "DELETE_FAILED":
                reason = describe(cloudformation, name) or {}
                raise StackDeletionError(
                    f"stack {name} did not delete: {reason.get('StackStatusReason', current)}"
                )
            if time.monotonic() > deadline:
                raise StackDeletionError(f"stack {name} still {current} after {timeout:.0f}s")
            time.sleep(poll)


class StackWatcher:
    """Reports each status change of the watched stacks until stopped.

    integ-runner says nothing between "Running test" and the result, a minute or more that
    covers synthesis, two deployments and the assertions; polling the test's stacks (names from
    the committed snapshot, region from integ-runner's "Running test" line) shows which is under
    way, and the time between status changes gives the breakdown of a run. `report(stack,
    previous_status, status, seconds_in_previous_status)` is called from the watcher's thread.

    Each region's client is made once, on its first poll: making one loads botocore's models,
    far more work than the calls it then makes, on cores the emulator and the tools need.
    """

    def __init__(
        self,
        clients: Callable[[str], Any],
        report: Callable[[str, str, str, float], None],
    ) -> None:
        self._clients = clients
        self._report = report
        self._watched: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._status: dict[str, tuple[str, float]] = {}
        self._region_clients: dict[str, Any] = {}

    def watch(self, region: str, stacks: Sequence[str]) -> None:
        """Start watching `stacks` in `region` (from the next poll on)."""
        with self._lock:
            watched = self._watched.setdefault(region, [])
            watched.extend(name for name in stacks if name not in watched)

    def __enter__(self) -> "StackWatcher":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def poll(self) -> None:
        """Check every watched stack once and report what changed."""
        with self._lock:
            watched = [(region, list(names)) for region, names in self._watched.items()]
        for region, names in watched:
            if region not in self._region_clients:
                self._region_clients[region] = self._clients(region)
            cloudformation = self._region_clients[region]
            for name in names:
                self._check(name, status(cloudformation, name))

    def _check(self, name: str, current: str) -> None:
        now = time.monotonic()
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
