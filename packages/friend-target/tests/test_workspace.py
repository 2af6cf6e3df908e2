"""Dependencies between the workspace's packages run one way, and the recovery commands install
without the CDK.

Read from the files uv reads: each member's ``pyproject.toml`` (runtime dependencies and every
dependency group, since ``uv sync --all-packages`` installs them together, a loop through a dev
group is a loop all the same) and ``uv.lock`` (what ``friend-ops`` pulls in at run time).
"""

import re
import tomllib
from collections.abc import Iterable, Mapping
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CDK = frozenset({"aws-cdk-lib", "aws-cdk-integ-tests-alpha", "jsii", "constructs"})
"""The CDK's Python libraries: what the deployment tooling needs and a recovery command must not."""


def _name(requirement: str) -> str:
    """The normalized project name a requirement string starts with (PEP 503)."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group()).lower()


def member_graph(root: Path) -> dict[str, set[str]]:
    """Workspace member -> the members it depends on, at run time or in any dependency group."""
    projects = {}
    for pyproject in sorted(root.glob("packages/*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())
        projects[_name(project["project"]["name"])] = project
    graph = {}
    for name, project in projects.items():
        wanted = list(project["project"].get("dependencies", []))
        for group in project.get("dependency-groups", {}).values():
            wanted += [entry for entry in group if isinstance(entry, str)]
        graph[name] = {_name(each) for each in wanted} & projects.keys()
    return graph


def loop(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A dependency loop of ``graph`` (its packages in order, the first repeated), or None."""
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        return list(reversed(error.args[1]))
    return None


def runtime_closure(lock: Mapping[str, object], package: str) -> set[str]:
    """Every package ``package`` installs at run time (``uv export --no-dev``), from the lock."""
    packages = lock["package"]
    assert isinstance(packages, list)
    dependencies = {p["name"]: [d["name"] for d in p.get("dependencies", [])] for p in packages}
    found: set[str] = set()
    todo = [package]
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo.extend(dependencies[name])
    return found


def test_no_dependency_loop_between_workspace_members() -> None:
    graph = member_graph(ROOT)
    assert {"friend-target", "friend-ops", "friend-integ"} <= graph.keys()
    assert loop(graph) is None


def test_a_loop_through_a_dev_group_is_found() -> None:
    """The loop this package was made to break: friend-ops needed friend-integ at run time and
    friend-integ's tests need friend-ops."""
    graph = {"friend-ops": {"friend-integ"}, "friend-integ": {"friend-ops"}, "friend-target": set()}
    found = loop(graph)
    assert found is not None
    assert set(found) == {"friend-ops", "friend-integ"}


def test_member_graph_reads_runtime_and_dev_dependencies(tmp_path: Path) -> None:
    for name, runtime, dev in (("a", ["B>=1", "boto3"], []), ("b", [], ["a"])):
        folder = tmp_path / "packages" / name
        folder.mkdir(parents=True)
        (folder / "pyproject.toml").write_text(
            f'[project]\nname = "{name}"\ndependencies = {runtime!r}\n'
            f"[dependency-groups]\ndev = {dev!r}\n"
        )
    graph = member_graph(tmp_path)
    assert graph == {"a": {"b"}, "b": {"a"}}
    assert loop(graph) is not None


@pytest.mark.parametrize("command", ["friend-ops", "friend-target"])
def test_the_recovery_commands_install_without_the_cdk(command: str) -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    closure = runtime_closure(lock, command)
    assert closure.isdisjoint(CDK | {"friend-integ", "friend-infra", "friend-handlers"}), closure


def test_the_deployment_tooling_does_pull_in_the_cdk() -> None:
    """The closure is read correctly: friend-integ does need the CDK."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    assert runtime_closure(lock, "friend-integ") >= CDK
