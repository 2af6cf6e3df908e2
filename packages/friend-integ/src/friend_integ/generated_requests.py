"""Generated requests against a deployed API: schemathesis runs every operation of the OpenAPI
document the deployment serves (``GET /openapi.json``) with positive and negative data (ids of
every length and script, percent-encodings, every query parameter, bodies of every shape), and
checks every answer: no 5xx, and status, content type, body and headers as documented.

A fixed seed and a bound on the examples per operation make a run repeatable and short enough
for CI. ``python scripts/generated_requests.py`` deploys to an embedded emulator and prints the
figures; the end-to-end tests (``tests/api``) run the same on both lanes.

Two of schemathesis's checks do not apply to this API, on any target (:data:`NOT_APPLICABLE`).
Where an emulator answers unlike AWS, its lane has a named :class:`Allowance`, for exactly the
requests concerned; no lane has another's.
"""

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from friend_handlers.contract import API_DOCUMENT_PATH

SEED = 20261202
MAX_EXAMPLES = 40
"""Examples per operation and phase: with eight operations about a thousand requests, a
couple of minutes on an emulator."""
PHASES = ("coverage", "fuzzing")
"""The coverage phase walks the boundaries (lengths at and past the limits, every enum value,
missing and extra parts); fuzzing draws at random. The document has no links, so no stateful
phase."""
NOT_APPLICABLE: Mapping[str, str] = {
    "positive_data_acceptance": "JSON Schema cannot state every rule of a valid request (an "
    "opaque nextToken, ids in NFC with printable characters only, player_id != friend_id), so "
    "a schema-valid request may be refused; that 400 is still checked against the document.",
    "unsupported_method": "API Gateway REST answers a method no route declares with its own "
    '403 {"message":"Missing Authentication Token"}, not 405, on AWS as on the emulators.',
}
PATIENCE_SECONDS = 30
"""Per request: a cold function on a busy emulator host takes seconds, a hung one never ends."""
HOOKS_MODULE = "friend_integ.generated_requests_hooks"
LANE_ENV = "FRIEND_GENERATED_REQUESTS_LANE"
"""Tells the hooks (loaded by schemathesis in its own process) which lane's allowance holds."""
SERVER_ERROR = "ST101"

_ROUTER_SEGMENT = re.compile(r"[-._~()'!*:@,;=+&$<> \[\]{}|^\w]+")
"""What the read function's router (Powertools) matches as one path parameter, less ``%``
(which the allowance counts on its own)."""


class Request(Protocol):
    """What an allowance looks at in a generated request (a schemathesis ``Case``)."""

    @property
    def path_parameters(self) -> Mapping[str, Any] | None: ...

    @property
    def body(self) -> Any: ...


@dataclass(frozen=True)
class Allowance:
    """Failures not counted on one lane: those of the requests an emulator handles unlike
    AWS (``covers``). A 5xx counts unless the emulator itself gives it (``server_errors``)."""

    name: str
    why: str
    covers: Callable[[Request], bool]
    server_errors: bool = False


def decoded_path_mismatches(request: Request) -> bool:
    """A path parameter that, once decoded, is not one segment the router matches as AWS would
    send it: a ``%`` (decoded a second time), a ``/`` (splits the path) or a character outside
    the router's set (no route: 404)."""
    values = (request.path_parameters or {}).values()
    return any(not _ROUTER_SEGMENT.fullmatch(str(value)) for value in values)


def body_not_utf8(request: Request) -> bool:
    """A body whose bytes are not UTF-8 text."""
    body = request.body
    try:
        if isinstance(body, bytes):
            body.decode("utf-8")
        elif isinstance(body, str):
            body.encode("utf-8")
    except UnicodeError:
        return True
    return False


MINISTACK_DECODED_PATH = Allowance(
    name="ministack-decoded-path",
    why="MiniStack 1.5.33 hands path and pathParameters to the function already percent-decoded "
    "(API Gateway REST hands them on as sent): a decoded character the function's router does "
    "not match (x%C3%97, x%E2%9C%93, a control character) is answered 404 by the router, an "
    "encoded '/' splits the path, and a '%' is decoded a second time by the function.",
    covers=decoded_path_mismatches,
)
LOCALSTACK_UNDECODABLE_BODY = Allowance(
    name="localstack-undecodable-body",
    why="LocalStack 2026.3.0's request validator parses the body with json.loads on its raw "
    "bytes and catches only JSONDecodeError: a body that is not UTF-8 ends in its own 500 "
    "'Error in apigateway invocation' before the function runs (AWS: 400 Invalid request "
    "body).",
    covers=body_not_utf8,
    server_errors=True,
)
ALLOWANCES: Mapping[str, tuple[Allowance, ...]] = {
    "ministack": (MINISTACK_DECODED_PATH,),
    "localstack": (LOCALSTACK_UNDECODABLE_BODY,),
}


@dataclass(frozen=True)
class Figures:
    """What a run did, from schemathesis's JSON report."""

    operations: int
    requests: int
    failures: Mapping[str, int]
    """``<code> <title>`` -> failing test cases."""
    allowed: int
    """Failures the lane's allowance left out."""
    seconds: float

    @classmethod
    def from_report(cls, report: Mapping[str, Any]) -> "Figures":
        return cls(
            operations=report["operations"]["tested"],
            requests=report["test_cases"]["generated"],
            failures={
                f"{failure['code']} {failure['title']}": failure["count"]
                for failure in report["failures"]
            },
            allowed=report["filtered"],
            seconds=report["running_time"],
        )

    def lines(self, lane: str) -> list[str]:
        allowances = ", ".join(allowance.name for allowance in ALLOWANCES[lane]) or "none"
        failures = [f"  {name}: {count}" for name, count in sorted(self.failures.items())]
        return [
            f"lane: {lane} (allowance: {allowances})",
            f"operations: {self.operations}",
            f"requests sent: {self.requests} (seed {SEED}, at most {MAX_EXAMPLES} per operation "
            "and phase)",
            f"failures: {sum(self.failures.values())}",
            *failures,
            f"left out by the allowance: {self.allowed}",
            f"time: {self.seconds:.1f} s",
        ]


def command(api_url: str, report: Path) -> list[str]:
    """The schemathesis run against the API at ``api_url`` (its stage, ending in ``/``)."""
    return [
        str(Path(sys.executable).with_name("st")),
        "run",
        api_url.rstrip("/") + API_DOCUMENT_PATH,
        f"--url={api_url.rstrip('/')}",
        f"--seed={SEED}",
        f"--max-examples={MAX_EXAMPLES}",
        f"--phases={','.join(PHASES)}",
        "--mode=all",
        "--checks=all",
        f"--exclude-checks={','.join(NOT_APPLICABLE)}",
        "--workers=2",
        f"--request-timeout={PATIENCE_SECONDS}",
        f"--max-response-time={PATIENCE_SECONDS}",
        "--report=json",
        f"--report-json-path={report}",
    ]


def run(api_url: str, lane: str, work_dir: Path) -> tuple[Figures, Path]:
    """Run the generated requests; the figures, and the log with every failure's details."""
    work_dir.mkdir(parents=True, exist_ok=True)
    report, log = work_dir / "schemathesis.json", work_dir / "schemathesis.log"
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": HOOKS_MODULE,
        LANE_ENV: lane,
        "NO_PROXY": "127.0.0.1,localhost",
        "NO_COLOR": "1",
    }
    with log.open("wb") as out:
        subprocess.run(  # noqa: S603 - argument list, no shell
            command(api_url, report),
            env=env,
            cwd=work_dir,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    return Figures.from_report(json.loads(report.read_text())), log
