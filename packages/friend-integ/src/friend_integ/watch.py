"""Stack status changes while integ-runner works, as progress lines and as phase timings.

integ-runner says nothing between "Running test" and the result, a minute or more that
covers synthesis, two deployments, the assertions and the destroy. Polling CloudFormation for
the test's stacks (names from the committed snapshot) shows which of these is under way, and
the time between status changes gives the breakdown of a run.
"""

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from friend_integ.targets import REGION

POLL_SECONDS = 1.0


def cloudformation_client(env: Mapping[str, str]) -> Any:
    """A CloudFormation client for the target that `env` describes.

    Credentials and endpoint are taken from `env` explicitly (never from this process's own
    environment), so the watcher looks at exactly the target the tools deploy to.
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


class StackWatcher:
    """Reports each status change of the named stacks until stopped.

    `report(stack, previous_status, status, seconds_in_previous_status)` is called from the
    watcher's thread. A stack that does not exist has the status `ABSENT`.
    """

    def __init__(
        self,
        client: Any,
        stacks: Sequence[str],
        report: Callable[[str, str, str, float], None],
    ) -> None:
        self._client = client
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

    def _current(self, name: str) -> str:
        try:
            stacks = self._client.describe_stacks(StackName=name)["Stacks"]
        except ClientError as error:
            if "does not exist" in str(error):
                return "ABSENT"
            raise
        status: str = stacks[0]["StackStatus"] if stacks else "ABSENT"
        return status

    def poll(self) -> None:
        """Check every stack once and report what changed."""
        now = time.monotonic()
        for name in self._stacks:
            status = self._current(name)
            previous = self._status.get(name)
            if previous is None:
                self._status[name] = (status, now)
                if status != "ABSENT":
                    self._report(name, "ABSENT", status, 0.0)
            elif previous[0] != status:
                self._status[name] = (status, now)
                self._report(name, previous[0], status, now - previous[1])

    def _loop(self) -> None:
        while not self._stop.is_set():
            # A failed poll only delays a progress line; the run itself decides the outcome.
            with contextlib.suppress(BotoCoreError, ClientError):
                self.poll()
            self._stop.wait(POLL_SECONDS)
