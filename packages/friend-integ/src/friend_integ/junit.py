"""The run as a JUnit XML report (`junit.xml` next to the run's logs), which CI systems read.

One test case per test file's deployment (named after the file, its assertions listed in the
case's output, a failure with every failed assertion and what the report found), one per
snapshot check, and the summary's phase timings as properties of the suite. The format is the
common subset that Jenkins, GitLab and GitHub's test reporters read; the standard library's
ElementTree writes it, so no dependency is needed for a dozen elements.
"""

import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

from friend_integ.integ_runner import Phase, Result
from friend_integ.run_state import Run
from friend_integ.snapshots import assertion_labels


def _case(run: Run, verdict: str, result: Result) -> ET.Element:
    case = ET.Element(
        "testcase",
        classname=f"integ.{result.phase.value}",
        name=result.test_file if result.phase is Phase.DEPLOY else result.name,
        time=f"{result.seconds:.3f}",
    )
    out = [f"{result.phase.value} {result.name}" + (f" ({result.region})" if result.region else "")]
    if result.phase is Phase.DEPLOY:
        labels = assertion_labels(run.layout, result.test_file)
        out.append(f"{len(labels)} assertions:")
        out.extend(f"  {label}" for label in labels)
    if verdict == "FAIL":
        failure = ET.SubElement(case, "failure", message=f"{result.status.value} {result.name}")
        lines = list(result.details)
        diagnosis = run.outcomes.diagnoses.get(result.name)
        if diagnosis is not None:
            lines.extend(diagnosis.lines(run.layout.tests_dir))
        failure.text = "\n".join(lines)
    ET.SubElement(case, "system-out").text = "\n".join(out)
    return case


def write(run: Run, started_at: datetime, path: Path) -> Path | None:
    """Write the report of the run's results to `path`; None when there were no results."""
    if run.parser is None:
        return None
    verdicts = run.parser.verdicts()
    failures = sum(verdict == "FAIL" for verdict, _ in verdicts) + len(run.outcomes.teardown_errors)
    suite = ET.Element(
        "testsuite",
        name="integ",
        tests=str(len(verdicts) + len(run.outcomes.teardown_errors)),
        failures=str(failures),
        errors="0",
        timestamp=started_at.isoformat(timespec="seconds"),
        time=f"{run.progress.elapsed():.3f}",
    )
    properties = ET.SubElement(suite, "properties")
    if run.target is not None:
        ET.SubElement(properties, "property", name="target", value=run.target.describe())
    for name, seconds in run.timings.items():
        ET.SubElement(properties, "property", name=f"time {name}", value=f"{seconds:.1f}")
    ET.SubElement(properties, "property", name="logs", value=str(run.log_dir))
    for verdict, result in verdicts:
        suite.append(_case(run, verdict, result))
    for error in run.outcomes.teardown_errors:
        case = ET.SubElement(suite, "testcase", classname="integ.teardown", name="destroy")
        ET.SubElement(case, "failure", message="a stack did not delete").text = error
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path
