"""Pins and releases: the store, the manifest, the compatibility check and the template that
a mix of releases gives."""

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template
from friend_handlers.contract import ENTRY_POINTS
from friend_handlers.filters import HANDLERS, STREAM_FILTERS
from friend_infra.app import MANIFEST_CONTEXT, pins
from friend_infra.compatibility import (
    IncompatibleReleasesError,
    Wiring,
    incompatibilities,
    protocol_disagreement,
    stream_protocol,
)
from friend_infra.pins import (
    MANIFEST_PATH,
    WORKSPACE,
    Pinned,
    pinned_release,
    read_manifest,
    resolve_pins,
    write_pin,
)
from friend_infra.releases import (
    CHECKSUMS,
    METADATA,
    STORE_DIR,
    ReleaseError,
    ReleaseStore,
    checksums_text,
)
from friend_infra.stack import FriendMicroservicesStack
from friend_infra.workspace import workspace_root
from friend_models import TABLE_CONTRACT_ID

from .releasing import newest

ROOT = workspace_root()
COMMITTED = ReleaseStore(ROOT / STORE_DIR)


def _copy_store(target: Path) -> Path:
    shutil.copytree(ROOT / STORE_DIR, target)
    return target


def _fake_release(store: Path, version: str, **contract: Any) -> None:
    """A friend-handlers release ``version`` that is the newest committed one with its contract
    (and metadata) changed: enough for what is decided from metadata alone."""
    base = ReleaseStore(store).versions("friend-handlers")[-1]
    folder = store / "friend-handlers" / version
    shutil.copytree(store / "friend-handlers" / base, folder)
    metadata = json.loads((folder / METADATA).read_text())
    metadata["version"] = version
    requires = contract.pop("requires", None)
    if requires is not None:
        metadata["requires"] = requires
    metadata["contract"].update(contract)
    (folder / METADATA).write_text(json.dumps(metadata))
    (folder / CHECKSUMS).write_text(checksums_text(folder))


# The committed store and manifest -------------------------------------------------------------


def test_the_committed_releases_verify_and_agree_with_the_working_tree() -> None:
    for package in ("friend-models", "friend-handlers"):
        assert COMMITTED.versions(package), f"no release of {package} committed"
        for version in COMMITTED.versions(package):
            release = COMMITTED.get(package, version)
            assert release.contract["table_contract"] == TABLE_CONTRACT_ID
    newest_handlers = COMMITTED.get("friend-handlers", COMMITTED.versions("friend-handlers")[-1])
    assert newest_handlers.requires["friend-models"] in COMMITTED.versions("friend-models")


def test_the_committed_manifest_pins_every_function_to_a_release() -> None:
    pinned = read_manifest(ROOT / MANIFEST_PATH, HANDLERS)
    assert set(pinned) == set(HANDLERS)
    for version in pinned.values():
        COMMITTED.get("friend-handlers", version)  # production runs releases, never the tree


def test_the_app_deploys_the_manifest_unless_the_context_says_otherwise() -> None:
    assert pins(App()) == read_manifest(ROOT / MANIFEST_PATH, HANDLERS)
    working_tree = App(context={MANIFEST_CONTEXT: WORKSPACE})
    assert pins(working_tree) == dict.fromkeys(HANDLERS, WORKSPACE)


# The store ------------------------------------------------------------------------------------


def test_a_changed_missing_or_extra_file_is_refused(tmp_path: Path) -> None:
    store = ReleaseStore(_copy_store(tmp_path / "store"))
    version = store.versions("friend-handlers")[-1]
    folder = tmp_path / "store" / "friend-handlers" / version
    release = store.get("friend-handlers", version)

    wheel = release.wheel.read_bytes()
    release.wheel.write_bytes(wheel[:-1] + bytes([wheel[-1] ^ 1]))
    with pytest.raises(ReleaseError, match="does not match SHA256SUMS"):
        store.get("friend-handlers", version)
    release.wheel.write_bytes(wheel)

    (folder / "extra.txt").write_text("smuggled")
    with pytest.raises(ReleaseError, match=r"extra \['extra.txt'\]"):
        store.get("friend-handlers", version)
    (folder / "extra.txt").unlink()
    store.get("friend-handlers", version)


def test_a_version_is_stored_once(tmp_path: Path) -> None:
    store = ReleaseStore(_copy_store(tmp_path / "store"))
    version = store.versions("friend-models")[-1]
    staged = tmp_path / "staged"
    staged.mkdir()
    (staged / METADATA).write_text("{}")
    with pytest.raises(ReleaseError, match="already released"):
        store.add("friend-models", version, staged)
    assert (staged / METADATA).exists()


# The manifest ---------------------------------------------------------------------------------


ALL_WORKSPACE = "".join(f"{handler} = 'workspace'\n" for handler in HANDLERS)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("[functions]\nfront = '0.1.0'\n", "missing"),
        (
            "[functions]\n" + "".join(f"{h} = 'workspace'\n" for h in HANDLERS) + "reed = 'x'\n",
            "unknown",
        ),
        ("[functions]\n" + "".join(f"{h} = 'latest'\n" for h in HANDLERS), "a released version"),
        ("front = 1\n", r"no \[functions\] table"),
    ],
    ids=["unpinned-function", "typo", "not-a-version", "no-table"],
)
def test_a_bad_manifest_is_refused(tmp_path: Path, body: str, problem: str) -> None:
    manifest = tmp_path / "functions.toml"
    manifest.write_text(body)
    with pytest.raises(ReleaseError, match=problem):
        read_manifest(manifest, HANDLERS)


def test_write_pin_changes_only_that_line(tmp_path: Path) -> None:
    manifest = tmp_path / "functions.toml"
    shutil.copy(ROOT / MANIFEST_PATH, manifest)
    before = read_manifest(manifest, HANDLERS)
    write_pin(manifest, "request_state", "workspace")
    write_pin(manifest, "read", "9.8.7")
    assert read_manifest(manifest, HANDLERS) == {
        **before,
        "read": "9.8.7",
        "request_state": "workspace",
    }
    assert "# Which friend-handlers release" in manifest.read_text()  # comments kept


# Compatibility --------------------------------------------------------------------------------


TABLE_WRITERS = ["front", *STREAM_FILTERS]


def _protocol(version: int, oldest: int) -> dict[str, Any]:
    return {"version": version, "oldest_compatible": oldest, "functions": TABLE_WRITERS}


def _pinned(version: str, **changes: Any) -> Pinned:
    contract: dict[str, Any] = {
        "table_contract": TABLE_CONTRACT_ID,
        "handlers": list(HANDLERS),
        "stream_filters": json.loads(json.dumps(STREAM_FILTERS)),
        "environment": {h: ["FRIEND_TABLE_NAME"] for h in HANDLERS} | {"front": ["A", "B"]},
        "stream_protocol": _protocol(2, 2),
    }
    return Pinned(version, contract | changes, {"friend-models": "0.1.0"})


WIRING = Wiring(
    table_contract=TABLE_CONTRACT_ID,
    stream_filters=STREAM_FILTERS,
    environment={h: frozenset({"FRIEND_TABLE_NAME"}) for h in HANDLERS}
    | {"front": frozenset("AB")},
)


def test_releases_that_match_the_stack_are_compatible() -> None:
    pins_ = dict.fromkeys(HANDLERS, _pinned("0.1.0")) | {"read": _pinned("0.2.0")}
    assert incompatibilities(pins_, WIRING) == []


def test_every_disagreement_is_named() -> None:
    filters = json.loads(json.dumps(STREAM_FILTERS))
    filters["accept_state"]["eventName"] = ["INSERT"]
    pins_ = dict.fromkeys(HANDLERS, _pinned("0.1.0")) | {
        "read": _pinned("0.2.0", table_contract="friend-table-0000000000000000"),
        "accept_state": _pinned("0.3.0", stream_filters=filters),
        "front": _pinned("0.4.0", environment={"front": ["A", "B", "C"]}),
        "reject_state": _pinned("0.5.0", handlers=["front", "read"]),
    }
    reasons = incompatibilities(pins_, WIRING)
    assert len(reasons) == 4, reasons
    text = "\n".join(reasons)
    assert "friend-handlers 0.2.0 (with friend-models 0.1.0), pinned by read," in text
    assert "friend-table-0000000000000000" in text
    assert "other stream filter patterns than the stack wires (differ: accept_state)" in text
    assert "front on friend-handlers 0.4.0 needs environment ['C']" in text
    assert "reject_state is pinned to friend-handlers 0.5.0, which has no such handler" in text


def _committed(version: str) -> Pinned:
    return pinned_release(COMMITTED.get("friend-handlers", version))


def _working_tree() -> Pinned:
    return resolve_pins(COMMITTED, ROOT, {})["front"]


def test_the_releases_cut_before_protocols_were_recorded_are_described_once() -> None:
    for version, expected in (("0.1.0", (1, 1)), ("0.2.0", (2, 2))):
        assert "stream_protocol" not in _committed(version).contract
        protocol = stream_protocol(_committed(version))
        assert protocol is not None
        assert (protocol.version, protocol.oldest_compatible) == expected
        assert set(protocol.functions) == set(TABLE_WRITERS)


def test_a_recorded_protocol_is_never_overridden_by_the_legacy_description() -> None:
    recorded = _pinned("0.1.0", stream_protocol=_protocol(3, 2))
    protocol = stream_protocol(recorded)
    assert protocol is not None
    assert (protocol.version, protocol.oldest_compatible) == (3, 2)
    tree = _working_tree()
    if "stream_protocol" in tree.contract:
        protocol = stream_protocol(tree)
        assert protocol is not None
        assert protocol.version == tree.contract["stream_protocol"]["version"]


@pytest.mark.parametrize(
    "old_functions",
    [("request_state",), ("accept_state", "reject_state"), tuple(STREAM_FILTERS)],
    ids=["request_state", "accept-and-reject", "every-stream-function"],
)
def test_table_writers_of_the_first_release_beside_newer_ones_are_refused(
    old_functions: tuple[str, ...],
) -> None:
    mix = {h: _working_tree() for h in HANDLERS} | dict.fromkeys(old_functions, _committed("0.1.0"))
    (reason,) = protocol_disagreement(mix)
    assert f"{', '.join(sorted(old_functions))} on friend-handlers 0.1.0 (protocol 1" in reason
    assert "front" in reason.split(" write rows of protocol 1, but ")[1]
    assert "accept rows of protocol" in reason


def test_functions_that_do_not_write_the_table_may_run_any_release() -> None:
    mix = {h: _working_tree() for h in HANDLERS} | {"read": _committed("0.1.0")}
    assert protocol_disagreement(mix) == []
    assert protocol_disagreement(dict.fromkeys(HANDLERS, _committed("0.1.0"))) == []


def test_a_newer_protocol_that_accepts_the_older_one_runs_beside_it() -> None:
    mix = dict.fromkeys(HANDLERS, _pinned("0.3.0", stream_protocol=_protocol(3, 2))) | {
        "accept_state": _committed("0.2.0")
    }
    assert protocol_disagreement(mix) == []
    mix["request_state"] = _pinned("0.4.0", stream_protocol=_protocol(4, 3))
    (reason,) = protocol_disagreement(mix)
    assert (
        "accept_state on friend-handlers 0.2.0 (protocol 2, oldest compatible 2) write rows of "
        "protocol 2, but request_state on friend-handlers 0.4.0 (protocol 4, oldest compatible "
        "3) accept rows of protocol 3 or newer only"
    ) in reason


def test_a_table_writer_on_a_release_of_unknown_protocol_is_refused() -> None:
    recorded = _pinned("0.9.0").contract
    unknown = Pinned("0.9.0", {k: v for k, v in recorded.items() if k != "stream_protocol"}, {})
    mix = dict.fromkeys(HANDLERS, _committed("0.2.0")) | {"read": unknown, "front": unknown}
    (reason,) = protocol_disagreement(mix)
    assert reason.startswith("front is pinned to friend-handlers 0.9.0, which records no stream")


# The template of a mix ------------------------------------------------------------------------


def _synth(store: Path, pins_: dict[str, str], outdir: Path) -> tuple[dict[str, Any], Path]:
    app = App(outdir=str(outdir))
    stack = FriendMicroservicesStack(app, "Mixed", pins=pins_, release_store=store)
    template = Template.from_stack(stack).to_json()
    return template["Resources"], Path(app.synth().directory)


LEGACY_ENTRY_POINT = "friend_handlers.{}.handler"
"""Where releases up to 0.2.0 kept their entry points (their metadata records none)."""


def _handlers(resources: dict[str, Any]) -> list[str]:
    """The Lambda ``handler`` setting of every function in the template."""
    return sorted(
        resource["Properties"]["Handler"]
        for resource in resources.values()
        if resource["Type"] == "AWS::Lambda::Function"
    )


def _function_of(resources: dict[str, Any], handler: str) -> str:
    (found,) = [
        logical_id
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"]["Handler"]
        in (ENTRY_POINTS[handler], LEGACY_ENTRY_POINT.format(handler))
    ]
    return found


def test_an_entry_point_comes_from_the_code_a_function_runs() -> None:
    recorded = Pinned("9.9.9", {"entry_points": {"read": "friend_handlers.api.read.handler"}}, {})
    assert recorded.entry_point("read") == "friend_handlers.api.read.handler"
    for version in COMMITTED.versions("friend-handlers"):
        if "entry_points" not in COMMITTED.get("friend-handlers", version).contract:
            legacy = pinned_release(COMMITTED.get("friend-handlers", version))
            assert legacy.entry_point("read") == LEGACY_ENTRY_POINT.format("read")


def test_functions_on_an_old_release_keep_its_entry_points(tmp_path: Path) -> None:
    resources, _ = _synth(COMMITTED.folder, {"read": "0.1.0"}, tmp_path)
    assert _handlers(resources) == sorted(
        [LEGACY_ENTRY_POINT.format("read"), *(ENTRY_POINTS[h] for h in HANDLERS if h != "read")]
    )


def test_a_mix_of_stream_protocols_fails_synth() -> None:
    with pytest.raises(IncompatibleReleasesError) as refused:
        FriendMicroservicesStack(App(), "Refused", pins={"request_state": "0.1.0"})
    assert "request_state on friend-handlers 0.1.0 (protocol 1, oldest compatible 1)" in str(
        refused.value
    )


def _of_function(resources: dict[str, Any], kind: str, function_id: str) -> str:
    (found,) = [
        logical_id
        for logical_id, resource in resources.items()
        if resource["Type"] == kind
        and resource["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    return found


@pytest.mark.slow  # the release is cut on a clone of the repository
def test_a_newer_read_release_changes_only_the_read_function(
    released: Path, tmp_path: Path
) -> None:
    base, new = newest(released)
    store = released / STORE_DIR
    all_base = dict.fromkeys(HANDLERS, base)
    before, _ = _synth(store, all_base, tmp_path / "before")
    after, assembly = _synth(store, all_base | {"read": new}, tmp_path / "after")

    read = _function_of(after, "read")
    old_version = _of_function(before, "AWS::Lambda::Version", read)
    new_version = _of_function(after, "AWS::Lambda::Version", read)
    alias = _of_function(after, "AWS::Lambda::Alias", read)
    changed = {
        logical_id
        for logical_id in set(before) | set(after)
        if before.get(logical_id) != after.get(logical_id)
    }
    assert changed == {read, old_version, new_version, alias}
    assert after[new_version]["Properties"]["Description"] == f"friend-handlers {new}"
    assert before[old_version]["Properties"]["Description"] == f"friend-handlers {base}"

    # Functions on one release share one asset, which holds that release's distributions.
    keys = {
        handler: after[_function_of(after, handler)]["Properties"]["Code"]["S3Key"]
        for handler in HANDLERS
    }
    assert len({key for handler, key in keys.items() if handler != "read"}) == 1
    assert keys["read"] != keys["front"]
    for handler, version in (("read", new), ("front", base)):
        models = ReleaseStore(store).get("friend-handlers", version).requires["friend-models"]
        asset = assembly / ("asset." + keys[handler].removesuffix(".zip"))
        installed = {p.name for p in asset.glob("friend_*.dist-info")}
        assert installed == {
            f"friend_handlers-{version}.dist-info",
            f"friend_models-{models}.dist-info",
        }


def test_a_release_with_another_friend_models_table_fails_synth(tmp_path: Path) -> None:
    store = _copy_store(tmp_path / "store")
    _fake_release(
        store,
        "0.99.0",
        table_contract="friend-table-00000000deadbeef",
        requires={"friend-models": "0.99.0"},
    )
    with pytest.raises(IncompatibleReleasesError) as refused:
        FriendMicroservicesStack(App(), "Refused", pins={"read": "0.99.0"}, release_store=store)
    message = str(refused.value)
    assert "friend-handlers 0.99.0 (with friend-models 0.99.0), pinned by read," in message
    assert "expects table contract friend-table-00000000deadbeef" in message
    assert f"builds the table as {TABLE_CONTRACT_ID}" in message


def test_a_tampered_release_fails_synth(tmp_path: Path) -> None:
    store = _copy_store(tmp_path / "store")
    version = ReleaseStore(store).versions("friend-handlers")[-1]
    requirements = store / "friend-handlers" / version / "requirements.txt"
    requirements.write_text(requirements.read_text() + "evil==1.0\n")
    with pytest.raises(ReleaseError, match=r"requirements\.txt: sha256"):
        FriendMicroservicesStack(App(), "Tampered", pins={"read": version}, release_store=store)


def test_a_pin_for_an_unknown_function_is_refused() -> None:
    with pytest.raises(ValueError, match=r"pins for unknown functions \['reed'\]"):
        FriendMicroservicesStack(App(), "Typo", pins={"reed": "0.1.0"})
