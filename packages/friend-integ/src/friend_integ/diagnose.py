"""Why a test failed, in terms a person can act on: which assertions, what each expected and
what it last got, and what the functions said about those players.

integ-runner reports a failed wait as one line of custom-resource JSON ("Operation timed out")
for the first assertion that gave up, and nothing about the others. Everything needed is on the
target until the test's stacks are deleted, so the integ command reads it first:
- the assertion stack's template: each assertion's custom resource carries the test file line
  that built it and its players (`ASSERTION_METADATA`);
- the logs of the assertion stack's functions: integ-tests-alpha's waiter logs the request
  (`Event: {...}`, with the resource's logical id) and every comparison of an attempt
  (`Testing equality between <actual> and <expected>`, then `Assertion Failed: ...` with the
  mismatch), so the last attempt of each assertion is its last actual value;
- the logs of the tested stack's functions, for the lines that name those players.
"""

import contextlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

ASSERTION_METADATA = "friend:assertion"
"""Template metadata of each assertion's custom resource, written by `friend_integ.case`: the
test file line that built it and the players it is about."""
FUNCTION_LOG_LINES = 15
"""Recent lines of the tested functions shown with a failure; the full logs are on the target."""
_TIMED_OUT = "Operation timed out: "
_EVENT = "Event: "
_TESTING = "Testing equality between "
_FAILED = "Assertion Failed: "
_ASSERTION_RESULT = re.compile(r"^(AssertionResults\w+)$")
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class Label:
    """Where an assertion was built and whom it is about (from the template)."""

    source: str
    players: tuple[str, ...] = ()


@dataclass
class FailedAssertion:
    """One assertion that did not hold when the test ended."""

    logical_id: str
    label: Label | None
    outcome: str
    expected: str = ""
    actual: str = ""
    mismatch: str = ""

    def lines(self, tests_dir: Path) -> list[str]:
        where = self.label.source if self.label else self.logical_id
        code = _source_line(tests_dir, where)
        out = [f"assertion {where}: {self.outcome}" + (f"  [{code}]" if code else "")]
        if self.expected:
            out.append(f"  expected:    {self.expected}")
        if self.actual:
            out.append(f"  last actual: {self.actual}")
        out.extend(f"  mismatch:    {line}" for line in _marked(self.mismatch))
        return out


@dataclass
class Diagnosis:
    """What the failure report shows for one failed test."""

    assertions: list[FailedAssertion] = field(default_factory=list)
    function_logs: list[str] = field(default_factory=list)
    players: tuple[str, ...] = ()
    problems: list[str] = field(default_factory=list)
    """What could not be read (the report says so instead of guessing)."""

    def lines(self, tests_dir: Path) -> list[str]:
        out: list[str] = []
        for assertion in self.assertions:
            out.extend(assertion.lines(tests_dir))
        if self.function_logs:
            who = ", ".join(self.players) if self.players else "all players"
            out.append(f"function logs ({who}), latest last:")
            out.extend(f"  {line}" for line in self.function_logs)
        out.extend(f"(could not read: {problem})" for problem in self.problems)
        return out


def _marked(mismatch: str, limit: int = 6) -> list[str]:
    """The lines of a rendered mismatch that say what differs (the matcher marks them `!!`);
    the whole actual value is shown on its own line already."""
    marked = [line.strip().removeprefix("!!").strip() for line in mismatch.splitlines()]
    return [line for line, raw in zip(marked, mismatch.splitlines(), strict=True) if "!!" in raw][
        :limit
    ]


def _source_line(tests_dir: Path, where: str) -> str:
    """The code at `<file>:<line>` of the test directory, stripped, or ''."""
    name, _, number = where.rpartition(":")
    path = tests_dir / name
    if not number.isdigit() or not path.is_file():
        return ""
    lines = path.read_text().splitlines()
    index = int(number) - 1
    return lines[index].strip() if 0 <= index < len(lines) else ""


def labels(template: Mapping[str, Any]) -> dict[str, Label]:
    """Each labelled assertion resource of an assertion stack's template, by logical id."""
    found = {}
    for logical_id, resource in template.get("Resources", {}).items():
        label = resource.get("Metadata", {}).get(ASSERTION_METADATA)
        if isinstance(label, dict) and "source" in label:
            found[logical_id] = Label(str(label["source"]), tuple(label.get("players", ())))
    return found


def _output_resources(template: Mapping[str, Any]) -> dict[str, str]:
    """`AssertionResults...` output -> the logical id of the resource whose result it shows."""
    found = {}
    for name, output in template.get("Outputs", {}).items():
        value = output.get("Value", {})
        if _ASSERTION_RESULT.match(name) and isinstance(value, dict) and "Fn::GetAtt" in value:
            found[name] = str(value["Fn::GetAtt"][0])
    return found


def _json_at(text: str, start: int) -> tuple[Any, int]:
    return _DECODER.raw_decode(text, start)


@dataclass
class _Attempt:
    logical_id: str
    actual: str = ""
    expected: str = ""
    mismatch: str = ""
    failed: bool = False


def _compact(value: Any, limit: int = 400) -> str:
    """A JSON value on one line (an encoded string is decoded first), cut at `limit`."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):  # not JSON: shown as it is
            value = json.loads(value)
    text = (
        value
        if isinstance(value, str)
        else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    )
    return text if len(text) <= limit else text[: limit - 3] + "..."


def attempts(messages: Iterable[str]) -> Iterator[_Attempt]:
    """The waiter's attempts in one log stream, in order, from its log lines."""
    current: _Attempt | None = None
    for message in messages:
        if (at := message.find(_EVENT)) >= 0:
            try:
                event, _ = _json_at(message, at + len(_EVENT))
            except ValueError:
                continue
            if current is not None:
                yield current
            current = _Attempt(str(event.get("LogicalResourceId", "")))
        elif current is not None and (at := message.find(_TESTING)) >= 0:
            try:
                actual, end = _json_at(message, at + len(_TESTING))
                expected, _ = _json_at(message, end + len(" and "))
            except ValueError:
                continue
            current.actual, current.expected = _compact(actual), _compact(expected)
        elif current is not None and (at := message.find(_FAILED)) >= 0:
            current.failed = True
            try:
                result, _ = _json_at(message, at + len(_FAILED))
                current.mismatch = str(json.loads(result["assertion"]).get("message", ""))
            except (ValueError, KeyError, TypeError):
                current.mismatch = message[at + len(_FAILED) :]
    if current is not None:
        yield current


def _timed_out_resources(details: Sequence[str]) -> list[str]:
    """Logical ids of the waits integ-runner reported as timed out."""
    found = []
    for detail in details:
        at = detail.find(_TIMED_OUT)
        if at < 0:
            continue
        try:
            request, _ = _json_at(detail, at + len(_TIMED_OUT))
        except ValueError:
            continue
        found.append(str(request.get("LogicalResourceId", "")))
    return found


def _log_groups(logs: Any, stack: str) -> list[str]:
    """The log groups of the stack's functions (named `<stack>-<logical id>-<suffix>`)."""
    paginator = logs.get_paginator("describe_log_groups")
    names: list[str] = []
    for page in paginator.paginate(logGroupNamePrefix=f"/aws/lambda/{stack}-"):
        names.extend(group["logGroupName"] for group in page.get("logGroups", []))
    return names


def _events(logs: Any, group: str, since_ms: int) -> list[dict[str, Any]]:
    paginator = logs.get_paginator("filter_log_events")
    events = []
    for page in paginator.paginate(logGroupName=group, startTime=since_ms):
        events.extend(page.get("events", []))
    return sorted(events, key=lambda e: (e.get("timestamp", 0), e.get("ingestionTime", 0)))


def _function_name(group: str, stack: str) -> str:
    """`FriendMicroservicesInteg-AcceptStateFunction1A2B-x9y8` -> `AcceptStateFunction1A2B`."""
    name = group.removeprefix(f"/aws/lambda/{stack}-")
    return name.rsplit("-", 1)[0] if "-" in name else name


def last_attempts(logs: Any, assertion_stack: str, since_ms: int) -> dict[str, _Attempt]:
    """The last attempt of each assertion the assertion stack's functions logged."""
    last: dict[str, _Attempt] = {}
    for group in _log_groups(logs, assertion_stack):
        streams: dict[str, list[dict[str, Any]]] = {}
        for event in _events(logs, group, since_ms):
            streams.setdefault(event.get("logStreamName", ""), []).append(event)
        for events in streams.values():
            for attempt in attempts(str(e.get("message", "")) for e in events):
                if attempt.expected or attempt.failed:
                    last[attempt.logical_id] = attempt
    return last


def function_logs(
    logs: Any, stack: str, players: Sequence[str], since_ms: int, limit: int = FUNCTION_LOG_LINES
) -> list[str]:
    """The latest lines of the stack's functions that name any of `players` (all lines when
    none is known), each with the function it came from."""
    lines: list[tuple[int, str]] = []
    escaped = [json.dumps(p)[1:-1] for p in players]
    for group in _log_groups(logs, stack):
        function = _function_name(group, stack)
        for event in _events(logs, group, since_ms):
            message = str(event.get("message", "")).strip()
            if not message or message.startswith(("START ", "END ", "REPORT ")):
                continue
            if players and not any(p in message for p in (*players, *escaped)):
                continue
            lines.append((int(event.get("timestamp", 0)), f"{function}: {_compact(message, 300)}"))
    lines.sort(key=lambda item: item[0])
    return [line for _, line in lines[-limit:]]


def emulator_log_lines(
    log: Path, offset: int, players: Sequence[str], limit: int = FUNCTION_LOG_LINES
) -> list[str]:
    """The latest lines that name any of `players` in an embedded emulator's own log, from byte
    `offset` on (where this run began). MiniStack writes the output of functions that an event
    source invokes there rather than to CloudWatch Logs."""
    if not players or not log.is_file():
        return []
    with log.open("rb") as stream:
        stream.seek(offset)
        text = stream.read().decode(errors="replace")
    escaped = [json.dumps(p)[1:-1] for p in players]
    lines = [
        f"emulator log: {_compact(line.strip(), 300)}"
        for line in text.splitlines()
        if any(p in line for p in (*players, *escaped))
    ]
    return lines[-limit:]


def diagnose(
    session_clients: Mapping[str, Any],
    *,
    assertion_stack: str,
    tested_stacks: Sequence[str],
    details: Sequence[str],
    since_ms: int,
    fallback_template: Mapping[str, Any] | None = None,
) -> Diagnosis:
    """Everything the report says about one failed test (see the module docstring).

    `session_clients` holds `cloudformation` and `logs` clients of the test's region;
    `details` are integ-runner's lines about the failure.
    """
    cloudformation, logs = session_clients["cloudformation"], session_clients["logs"]
    diagnosis = Diagnosis()
    template: Mapping[str, Any] = fallback_template or {}
    try:
        body = cloudformation.get_template(StackName=assertion_stack)["TemplateBody"]
        template = body if isinstance(body, dict) else json.loads(body)
    except (BotoCoreError, ClientError, ValueError) as error:
        diagnosis.problems.append(f"the template of {assertion_stack}: {error}")
    by_id = labels(template)

    try:
        last = last_attempts(logs, assertion_stack, since_ms)
    except (BotoCoreError, ClientError) as error:
        diagnosis.problems.append(f"the logs of {assertion_stack}: {error}")
        last = {}

    timed_out = _timed_out_resources(details)
    failing = [*timed_out, *(i for i, a in last.items() if a.failed and i not in timed_out)]
    for logical_id in failing:
        attempt = last.get(logical_id, _Attempt(logical_id))
        outcome = (
            "timed out" if logical_id in timed_out else "still failing when the deployment stopped"
        )
        diagnosis.assertions.append(
            FailedAssertion(
                logical_id,
                by_id.get(logical_id),
                outcome,
                expected=attempt.expected,
                actual=attempt.actual,
                mismatch=attempt.mismatch,
            )
        )
    outputs = _output_resources(template)
    for detail in details:
        found = outputs.get(detail.strip())
        if found is not None and found not in failing:
            failing.append(found)
            diagnosis.assertions.append(FailedAssertion(found, by_id.get(found), "failed"))

    players: list[str] = []
    for logical_id in failing:
        label = by_id.get(logical_id)
        players.extend(p for p in (label.players if label else ()) if p not in players)
    diagnosis.players = tuple(players)
    for stack in tested_stacks:
        try:
            diagnosis.function_logs.extend(function_logs(logs, stack, players, since_ms))
        except (BotoCoreError, ClientError) as error:
            diagnosis.problems.append(f"the logs of {stack}: {error}")
    return diagnosis
