"""The command: target choice and checks (fail closed), the stack's outputs, exit codes."""

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from friend_models import State, now_millis
from friend_ops import target
from friend_ops.cli import main
from friend_target import LOCALSTACK_ACCOUNT, TargetError, TargetKind

from .conftest import ACCOUNT, TABLE_NAME, Aws, item, rows

STACK = "FriendOps"


@pytest.fixture
def deployed(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """A stack whose outputs name the moto table and failure queue, as the real stack's do.

    moto's CloudFormation needs its heavy extra (cfn-lint and more) to parse templates, so the
    stack lookup is answered here; :func:`test_outputs_are_read_from_the_stack` covers it, and
    the LocalStack end-to-end test reads a deployed stack's outputs."""
    outputs = {target.TABLE_OUTPUT: TABLE_NAME, target.FAILURE_QUEUE_OUTPUT: aws.failure_queue_url}

    def find(_: object, stack: str | None) -> target.Deployment:
        if stack not in (STACK, None):
            raise TargetError(f"stack {stack}: does not exist")
        return target.Deployment(STACK, outputs)

    monkeypatch.setattr(target, "find_deployment", find)
    return aws


def test_reconcile_dry_run_then_apply(deployed: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    deployed.dynamodb.put_item(TableName=TABLE_NAME, Item=item("ann", "bob", State.FRIENDS, 1, "x"))
    options = ["--aws-account", ACCOUNT, "--stack", STACK, "--settle-seconds", "0"]

    assert main(["reconcile", *options]) == 1
    out = capsys.readouterr().out
    assert f"account {ACCOUNT}" in out
    assert "(ann,bob)=Friends[x], (bob,ann) absent; repair: (ann,bob) deleted (an unfriend" in out
    assert "1 to repair (1 unfriend); 0 left alone" in out
    assert rows(deployed) == {("ann", "bob"): State.FRIENDS}  # a dry run writes nothing

    assert main(["reconcile", "--apply", *options]) == 0
    out = capsys.readouterr().out
    assert "[repaired]" in out
    assert "1 repaired (1 unfriend), 0 changed since the scan" in out
    assert rows(deployed) == {}
    assert main(["reconcile", *options]) == 0
    assert "0 to repair; 0 left alone" in capsys.readouterr().out


def test_reconcile_shows_each_row_with_its_exchange_and_mark(
    deployed: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    """The operator reads, for each pair, both rows as scanned and as repaired: state, exchange
    and whether a request was shown."""
    options = ["--aws-account", ACCOUNT, "--stack", STACK, "--settle-seconds", "0"]
    for row in (
        item("ann", "bob", State.REQUESTED, 1, "x2"),
        item("bob", "ann", State.FRIENDS, 1, "x1"),
        item("cat", "dan", State.REQUESTED, 1, "x3", mirrored=True),
        item("eve", "fay", State.FRIENDS, 1),  # written before exchange ids
    ):
        deployed.dynamodb.put_item(TableName=TABLE_NAME, Item=row)

    assert main(["reconcile", *options]) == 1
    out = capsys.readouterr().out
    assert (
        "(ann,bob)=Requested[x2], (bob,ann)=Friends[x1]; repair: "
        "(ann,bob)=Requested[x2, mirrored], (bob,ann)=Pending[x2] (a new request" in out
    )
    assert "(cat,dan)=Requested[x3, mirrored], (dan,cat) absent; repair: (cat,dan) deleted" in out
    assert "(eve,fay)=Friends, (fay,eve) absent; repair: (eve,fay) deleted" in out


def test_reconcile_reports_what_it_leaves_alone_and_why(
    deployed: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    """Work that only a person can decide keeps the exit status at 1; a pair in flight does
    not (it will settle by itself)."""
    options = ["--aws-account", ACCOUNT, "--stack", STACK]
    deployed.dynamodb.put_item(TableName=TABLE_NAME, Item=item("cat", "dan", State.FRIENDS, 1))
    fresh = item("eve", "fay", State.FRIENDS, now_millis(), "y")
    deployed.dynamodb.put_item(TableName=TABLE_NAME, Item=fresh)
    assert main(["reconcile", "--apply", *options]) == 0
    out = capsys.readouterr().out
    assert "left alone (changed within the settle time" in out
    assert "1 repaired (1 unfriend), 0 changed since the scan; 1 left alone (1 in flight)" in out

    bogus = item("ann", "bob", State.REQUESTED, 1, "x")
    bogus["state"] = {"S": "Blocked"}
    deployed.dynamodb.put_item(TableName=TABLE_NAME, Item=bogus)
    deployed.dynamodb.put_item(TableName=TABLE_NAME, Item=item("gil", "hal", State.REQUESTED, 1))
    assert main(["reconcile", "--apply", *options]) == 1
    out = capsys.readouterr().out
    assert "left alone (a row does not fit the model): (ann,bob) unreadable: state 'Blocked'" in out
    assert "3 left alone (1 in flight, 1 request not shown, 1 unreadable)" in out


@pytest.mark.usefixtures("deployed")
def test_redrive_with_an_empty_queue_has_nothing_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["redrive", "--aws-account", ACCOUNT]) == 0
    out = capsys.readouterr().out
    assert f"stack: {STACK}" in out
    assert "summary: 0 redriven (0 records), 0 left in the queue" in out


def test_another_account_is_refused_before_anything_is_read(
    deployed: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed.dynamodb.put_item(TableName=TABLE_NAME, Item=item("ann", "bob", State.FRIENDS, 1))
    assert main(["reconcile", "--apply", "--aws-account", "999999999999", "--stack", STACK]) == 2
    assert "not 999999999999" in capsys.readouterr().err
    assert rows(deployed) == {("ann", "bob"): State.FRIENDS}


@pytest.mark.usefixtures("deployed")
def test_a_missing_stack_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reconcile", "--aws-account", ACCOUNT, "--stack", "Missing"]) == 2
    assert "Missing" in capsys.readouterr().err


def _stack(name: str, *outputs: str) -> dict[str, Any]:
    return {
        "StackName": name,
        "CreationTime": datetime.now(UTC),
        "StackStatus": "CREATE_COMPLETE",
        "Outputs": [{"OutputKey": key, "OutputValue": f"{name}-{key}"} for key in outputs],
    }


def test_outputs_are_read_from_the_named_stack() -> None:
    client = boto3.client("cloudformation")
    with Stubber(client) as stubber:
        stubber.add_response(
            "describe_stacks",
            {"Stacks": [_stack(STACK, target.TABLE_OUTPUT)]},
            {"StackName": STACK},
        )
        stubber.add_client_error("describe_stacks", "ValidationError", "Gone does not exist")
        deployment = target.find_deployment(client, STACK)
        assert deployment.output(target.TABLE_OUTPUT) == f"{STACK}-{target.TABLE_OUTPUT}"
        with pytest.raises(TargetError, match="no output StreamFailureQueueUrl"):
            deployment.output(target.FAILURE_QUEUE_OUTPUT)
        with pytest.raises(TargetError, match="Gone does not exist"):
            target.find_deployment(client, "Gone")


def test_without_a_name_the_one_stack_of_the_service_is_used() -> None:
    client = boto3.client("cloudformation")
    ours = (target.TABLE_OUTPUT, target.FAILURE_QUEUE_OUTPUT)
    with Stubber(client) as stubber:
        other = _stack("CDKToolkit", "BucketName")
        stubber.add_response("describe_stacks", {"Stacks": [other, _stack("Friends", *ours)]})
        assert target.find_deployment(client, None).stack == "Friends"
        two = [_stack("Friends", *ours), _stack("FriendsInteg", *ours)]
        stubber.add_response("describe_stacks", {"Stacks": two})
        with pytest.raises(TargetError, match="--stack: stacks of this service: Friends, Frie"):
            target.find_deployment(client, None)


def test_endpoint_and_account_exclude_each_other() -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["redrive", "--endpoint", "http://127.0.0.1:4566", "--aws-account", ACCOUNT])
    assert exit_.value.code == 2


def test_an_emulator_target_gets_test_credentials_and_nothing_of_the_users() -> None:
    user = {
        "AWS_PROFILE": "production",
        "AWS_SESSION_TOKEN": "secret",
        "AWS_ACCESS_KEY_ID": "AKIAREAL",
        "AWS_CONFIG_FILE": "/home/me/.aws/config",
        "PATH": "/usr/bin",
    }
    chosen, env = target.choose("http://localhost:4599", None, user)
    assert chosen.kind is TargetKind.EMULATOR
    assert chosen.account == LOCALSTACK_ACCOUNT
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4599"
    assert env["AWS_ACCESS_KEY_ID"] == "test"
    assert "AWS_PROFILE" not in env
    assert "AWS_SESSION_TOKEN" not in env
    assert Path(env["AWS_CONFIG_FILE"]).read_text() == ""
    assert env["PATH"] == "/usr/bin"
    default, _ = target.choose(None, None, user)
    assert default.endpoint == target.DEFAULT_ENDPOINT
    with pytest.raises(TargetError, match="--aws-account only"):
        target.choose(None, None, user, region="eu-west-1")


def test_an_aws_target_drops_emulator_endpoints() -> None:
    user = {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_PROFILE": "ops"}
    chosen, env = target.choose(None, ACCOUNT, user, region="eu-west-1")
    assert (chosen.kind, chosen.account, chosen.region) == (TargetKind.AWS, ACCOUNT, "eu-west-1")
    assert "AWS_ENDPOINT_URL" not in env
    assert env["AWS_PROFILE"] == "ops"
    assert env["AWS_REGION"] == "eu-west-1"


def test_the_scoped_environment_is_restored() -> None:
    before = dict(os.environ)
    with target.scoped_environment({"ONLY": "this"}):
        assert dict(os.environ) == {"ONLY": "this"}
    assert dict(os.environ) == before
