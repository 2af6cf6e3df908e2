"""Template assertions on what carries behaviour: routing, failure handling, access, outputs."""

import json
from typing import Any

import pytest
from aws_cdk import Acknowledgment, App, RemovalPolicy, Stack, Validations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template
from friend_handlers.contract import (
    API_DOCUMENT_PATH,
    DLQ_URL_ENV,
    IDEMPOTENCY_EXPIRY_ATTRIBUTE,
    IDEMPOTENCY_KEY_ATTRIBUTE,
    IDEMPOTENCY_TABLE_ENV,
    PAGE_FILES,
    PLAYER_CLAIM_ENV,
    QUEUE_URL_ENV,
    REMEMBER_SECONDS,
)
from friend_handlers.filters import HANDLERS, STREAM_FILTERS
from friend_handlers.logic.message_schema import request_model_schema
from friend_infra import api as api_module
from friend_infra.app import nag_findings
from friend_infra.event_sources import STREAM_BATCH_SIZE, STREAM_RETRY_ATTEMPTS
from friend_infra.functions import HANDLED_MESSAGE_ACTIONS, TABLE_ACTIONS, allow_send
from friend_infra.queues import FRONT_MAX_RECEIVE_COUNT
from friend_infra.sizing import FRONT_MAX_CONCURRENCY
from friend_infra.stack import PLAYER_CLAIM, FriendMicroservicesStack
from friend_infra.workspace import workspace_root, workspace_version
from friend_models import CALL_BUDGET_SECONDS, FRIEND_ID, PLAYER_ID, TABLE_NAME_ENV

from .synthesized import Synthesized, synthesize

STREAM_HANDLERS = tuple(STREAM_FILTERS)
ROOT = workspace_root()


@pytest.fixture(scope="module")
def synthesized() -> Synthesized:
    return synthesize()


@pytest.fixture(scope="module")
def destroyable() -> Template:
    """The stack as integration tests deploy it (removal policy DESTROY), in its own app."""
    app = App()
    stack = FriendMicroservicesStack(app, "Destroyable", removal_policy=RemovalPolicy.DESTROY)
    return Template.from_stack(stack)


def _arn(logical_id: str, attribute: str = "Arn") -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def _statements(synthesized: Synthesized, handler: str) -> list[dict[str, Any]]:
    """Every policy statement attached to ``handler``'s role."""
    function = synthesized.resources("AWS::Lambda::Function")[synthesized.function_id(handler)]
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    statements: list[dict[str, Any]] = []
    for policy in synthesized.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def _actions(statement: dict[str, Any]) -> set[str]:
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


def _actions_on(synthesized: Synthesized, handler: str, resource: Any) -> set[str]:
    return {
        action
        for statement in _statements(synthesized, handler)
        if statement["Resource"] == resource
        for action in _actions(statement)
    }


def test_every_handler_has_exactly_one_python313_function(synthesized: Synthesized) -> None:
    functions = synthesized.resources("AWS::Lambda::Function")
    assert sorted(f["Properties"]["Handler"] for f in functions.values()) == sorted(
        f"friend_handlers.handlers.{name}.handler" for name in HANDLERS
    )
    for function in functions.values():
        props = function["Properties"]
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == ["x86_64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert 0 < props["Timeout"] <= 30
        assert props["LoggingConfig"]["LogFormat"] == "JSON"


def test_all_functions_share_one_content_addressed_bundle(synthesized: Synthesized) -> None:
    keys = {
        f["Properties"]["Code"]["S3Key"]
        for f in synthesized.resources("AWS::Lambda::Function").values()
    }
    (key,) = keys
    assert len(key.removesuffix(".zip")) == 64


def test_every_function_publishes_a_named_version_behind_a_live_alias(
    synthesized: Synthesized,
) -> None:
    """Each function publishes a version whose description names the code it runs (here the
    working tree: ``friend-handlers <version>+workspace``), and its ``live`` alias serves it."""
    version = workspace_version(ROOT, "friend-handlers")
    versions = synthesized.resources("AWS::Lambda::Version")
    for name in HANDLERS:
        function_id = synthesized.function_id(name)
        (version_id,) = [
            logical_id
            for logical_id, resource in versions.items()
            if resource["Properties"]["FunctionName"] == {"Ref": function_id}
        ]
        assert versions[version_id]["Properties"]["Description"] == f"friend-handlers {version}"
        alias = synthesized.resources("AWS::Lambda::Alias")[synthesized.alias_id(name)]
        assert alias["Properties"]["Name"] == "live"
        assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}


def test_no_trigger_invokes_latest(synthesized: Synthesized) -> None:
    """Queue, stream and API invoke the alias only: a deploy that has not moved ``live`` (or a
    canary holding it back) cannot be bypassed through ``$LATEST``."""
    aliases = [synthesized.alias_name(name) for name in HANDLERS]
    mappings = synthesized.resources("AWS::Lambda::EventSourceMapping").values()
    assert len(mappings) == 1 + len(STREAM_FILTERS)  # the front queue's and the stream's
    for mapping in mappings:
        assert mapping["Properties"]["FunctionName"] in aliases
    api_functions = [{"Ref": synthesized.alias_id(name)} for name in ("read", "write", "page")]
    for permission in synthesized.resources("AWS::Lambda::Permission").values():
        assert permission["Properties"]["FunctionName"] in api_functions
    assert not synthesized.resources("AWS::CodeDeploy::DeploymentGroup")  # canary is opt-in


def test_canary_shifts_traffic_with_alarms_and_rollback() -> None:
    app = App()
    stack = FriendMicroservicesStack(app, "Canary", canary=True)
    template = Template.from_stack(stack)
    groups = template.find_resources("AWS::CodeDeploy::DeploymentGroup")
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    aliases = template.find_resources("AWS::Lambda::Alias")
    assert len(groups) == len(aliases) == len(HANDLERS)
    (application,) = template.find_resources("AWS::CodeDeploy::Application").values()
    assert application["Properties"]["ComputePlatform"] == "Lambda"
    for group in groups.values():
        props = group["Properties"]
        assert props["DeploymentConfigName"] == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
        assert props["AutoRollbackConfiguration"] == {
            "Enabled": True,
            "Events": [
                "DEPLOYMENT_FAILURE",
                "DEPLOYMENT_STOP_ON_REQUEST",
                "DEPLOYMENT_STOP_ON_ALARM",
            ],
        }
        (alarm,) = props["AlarmConfiguration"]["Alarms"]
        assert alarm["Name"]["Ref"] in alarms
    rollback = {
        alarm["Name"]["Ref"]
        for group in groups.values()
        for alarm in group["Properties"]["AlarmConfiguration"]["Alarms"]
    }
    assert len(rollback) == len(HANDLERS)
    for logical_id in rollback:
        props = alarms[logical_id]["Properties"]
        assert props["MetricName"] == "Errors"
        (resource,) = [d["Value"] for d in props["Dimensions"] if d["Name"] == "Resource"]
        assert resource["Fn::Join"][1][1] == ":live"  # the alias's errors, not all versions'
    # The alias update waits for CodeDeploy instead of moving at once.
    for alias in aliases.values():
        assert "CodeDeployLambdaAliasUpdate" in alias["UpdatePolicy"]
    assert nag_findings(app) == []


def test_function_environment(synthesized: Synthesized) -> None:
    table = {"Ref": synthesized.logical_id(synthesized.stack.table)}
    dlq = {"Ref": synthesized.logical_id(synthesized.stack.dead_letter_queue)}
    handled = {"Ref": synthesized.logical_id(synthesized.stack.idempotency_table)}
    queue = {"Ref": synthesized.logical_id(synthesized.stack.queue)}
    for name in HANDLERS:
        function = synthesized.resources("AWS::Lambda::Function")[synthesized.function_id(name)]
        variables = function["Properties"]["Environment"]["Variables"]
        expected: dict[str, Any] = {
            "POWERTOOLS_SERVICE_NAME": "friend",
            "POWERTOOLS_METRICS_NAMESPACE": "FriendMicroservices",
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }
        if TABLE_ACTIONS[name]:
            expected[TABLE_NAME_ENV] = table
        if name == "front":
            expected[DLQ_URL_ENV] = dlq
            expected[IDEMPOTENCY_TABLE_ENV] = handled
        if name == "write":
            expected[QUEUE_URL_ENV] = queue  # and no player claim: the authorizer is opt-in
        assert variables == expected


ANSWER_MARGIN_SECONDS = 1
"""Time a handler needs after its last DynamoDB call failed: build the answer, flush metrics."""


@pytest.mark.parametrize("handler", HANDLERS)
def test_a_slow_table_fails_a_call_before_the_function_times_out(
    synthesized: Synthesized, handler: str
) -> None:
    """A DynamoDB call gives up within CALL_BUDGET_SECONDS (friend-models' client settings).
    Every function outlasts one call, so a table that does not answer ends in the handler's own
    answer (the read API's JSON 503; a failed record for the queue and stream functions) rather
    than a Lambda timeout, which API Gateway would turn into a bare 5xx. A read request makes
    exactly one call (one Query or one GetItem), so for the read API this is the whole request;
    a batch function starts each call only while one more fits (friend_handlers.deadline), so a
    later record of a slow batch fails on its own and is retried."""
    function = synthesized.resources("AWS::Lambda::Function")[synthesized.function_id(handler)]
    assert function["Properties"]["Timeout"] >= CALL_BUDGET_SECONDS + ANSWER_MARGIN_SECONDS


def test_log_groups_have_retention(synthesized: Synthesized) -> None:
    groups = synthesized.resources("AWS::Logs::LogGroup")
    assert len(groups) == len(HANDLERS) + 1  # one per function and the API's access logs
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {30}


def test_table_is_built_from_the_model_names(synthesized: Synthesized) -> None:
    table_id = synthesized.logical_id(synthesized.stack.table)
    table = synthesized.resources("AWS::DynamoDB::Table")[table_id]
    props = table["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": PLAYER_ID, "KeyType": "HASH"},
        {"AttributeName": FRIEND_ID, "KeyType": "RANGE"},
    ]
    assert sorted(props["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [
        {"AttributeName": FRIEND_ID, "AttributeType": "S"},
        {"AttributeName": PLAYER_ID, "AttributeType": "S"},
    ]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["DeletionPolicy"] == "Retain"


def test_idempotency_table_remembers_handled_messages_until_their_ttl(
    synthesized: Synthesized,
) -> None:
    table_id = synthesized.logical_id(synthesized.stack.idempotency_table)
    table = synthesized.resources("AWS::DynamoDB::Table")[table_id]
    assert table["Properties"] == {
        "KeySchema": [{"AttributeName": IDEMPOTENCY_KEY_ATTRIBUTE, "KeyType": "HASH"}],
        "AttributeDefinitions": [
            {"AttributeName": IDEMPOTENCY_KEY_ATTRIBUTE, "AttributeType": "S"}
        ],
        "BillingMode": "PAY_PER_REQUEST",
        "TimeToLiveSpecification": {
            "AttributeName": IDEMPOTENCY_EXPIRY_ATTRIBUTE,
            "Enabled": True,
        },
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
    }
    assert table["DeletionPolicy"] == "Retain"


def test_front_queue_keeps_messages_no_longer_than_the_front_remembers_them(
    synthesized: Synthesized,
) -> None:
    queue_id = synthesized.logical_id(synthesized.stack.queue)
    queue = synthesized.resources("AWS::SQS::Queue")[queue_id]["Properties"]
    assert queue["MessageRetentionPeriod"] == REMEMBER_SECONDS


@pytest.mark.parametrize("handler", HANDLERS)
def test_only_the_front_uses_the_idempotency_table(synthesized: Synthesized, handler: str) -> None:
    handled = _arn(synthesized.logical_id(synthesized.stack.idempotency_table))
    expected = set(HANDLED_MESSAGE_ACTIONS) if handler == "front" else set()
    assert _actions_on(synthesized, handler, handled) == expected
    assert expected <= {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }


def test_removal_policy_is_a_stack_property(destroyable: Template) -> None:
    tables = destroyable.find_resources("AWS::DynamoDB::Table").values()
    assert len(tables) == 2
    assert {table["DeletionPolicy"] for table in tables} == {"Delete"}
    for group in destroyable.find_resources("AWS::Logs::LogGroup").values():
        assert group["DeletionPolicy"] == "Delete"


def test_front_queue_redrives_to_its_dlq(synthesized: Synthesized) -> None:
    queues = synthesized.resources("AWS::SQS::Queue")
    queue = queues[synthesized.logical_id(synthesized.stack.queue)]["Properties"]
    dlq_id = synthesized.logical_id(synthesized.stack.dead_letter_queue)
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": _arn(dlq_id),
        "maxReceiveCount": FRONT_MAX_RECEIVE_COUNT,
    }
    front = synthesized.resources("AWS::Lambda::Function")[synthesized.function_id("front")]
    assert queue["VisibilityTimeout"] >= 6 * front["Properties"]["Timeout"]
    for each in queues.values():
        assert each["Properties"]["SqsManagedSseEnabled"] is True


def test_every_queue_refuses_plain_http(synthesized: Synthesized) -> None:
    queues = set(synthesized.resources("AWS::SQS::Queue"))
    guarded = set()
    for policy in synthesized.resources("AWS::SQS::QueuePolicy").values():
        (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        guarded.update(q["Ref"] for q in policy["Properties"]["Queues"])
    assert guarded == queues


def test_front_mapping_reports_batch_item_failures(synthesized: Synthesized) -> None:
    mapping = synthesized.mapping_of("front")
    assert mapping == {
        "EventSourceArn": _arn(synthesized.logical_id(synthesized.stack.queue)),
        "FunctionName": synthesized.alias_name("front"),
        "BatchSize": 10,
        "MaximumBatchingWindowInSeconds": 0,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": FRONT_MAX_CONCURRENCY},
    }


@pytest.mark.parametrize("handler", STREAM_HANDLERS)
def test_stream_mapping_filters_and_failure_handling(
    synthesized: Synthesized, handler: str
) -> None:
    mapping = synthesized.mapping_of(handler)
    (criterion,) = mapping.pop("FilterCriteria")["Filters"]
    assert json.loads(criterion["Pattern"]) == STREAM_FILTERS[handler]
    failures = synthesized.logical_id(synthesized.stack.stream_failure_queue)
    assert mapping == {
        "EventSourceArn": _arn(synthesized.logical_id(synthesized.stack.table), "StreamArn"),
        "FunctionName": synthesized.alias_name(handler),
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": STREAM_BATCH_SIZE,
        "MaximumBatchingWindowInSeconds": 0,
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": STREAM_RETRY_ATTEMPTS,
        "MaximumRecordAgeInSeconds": 3600,
        "DestinationConfig": {"OnFailure": {"Destination": _arn(failures)}},
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    }


def test_stream_filters_are_distinct_per_function(synthesized: Synthesized) -> None:
    patterns = [
        synthesized.mapping_of(handler)["FilterCriteria"]["Filters"][0]["Pattern"]
        for handler in STREAM_HANDLERS
    ]
    assert len(set(patterns)) == len(STREAM_HANDLERS)


@pytest.mark.parametrize("handler", HANDLERS)
def test_table_actions_are_exactly_what_the_handler_does(
    synthesized: Synthesized, handler: str
) -> None:
    table = _arn(synthesized.logical_id(synthesized.stack.table))
    assert _actions_on(synthesized, handler, table) == set(TABLE_ACTIONS[handler])
    everywhere = {action for s in _statements(synthesized, handler) for action in _actions(s)}
    table_actions = {a for a in everywhere if a.startswith("dynamodb:")}
    stream_read = {
        "dynamodb:ListStreams",
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
    }
    expected_stream = stream_read if handler in STREAM_FILTERS else set()
    handled = set(HANDLED_MESSAGE_ACTIONS) if handler == "front" else set()
    assert table_actions == set(TABLE_ACTIONS[handler]) | expected_stream | handled


def test_read_function_cannot_write(synthesized: Synthesized) -> None:
    assert TABLE_ACTIONS["read"] == ("dynamodb:GetItem", "dynamodb:Query")
    actions = {a for s in _statements(synthesized, "read") for a in _actions(s)}
    assert not {a for a in actions if a.startswith(("dynamodb:", "sqs:"))} - {
        "dynamodb:GetItem",
        "dynamodb:Query",
    }


def test_queue_access_per_function(synthesized: Synthesized) -> None:
    queue = _arn(synthesized.logical_id(synthesized.stack.queue))
    dlq = _arn(synthesized.logical_id(synthesized.stack.dead_letter_queue))
    failures = _arn(synthesized.logical_id(synthesized.stack.stream_failure_queue))
    assert _actions_on(synthesized, "front", dlq) == {"sqs:SendMessage"}
    assert "sqs:SendMessage" not in _actions_on(synthesized, "front", queue)
    assert "sqs:DeleteMessage" in _actions_on(synthesized, "front", queue)
    for handler in STREAM_HANDLERS:
        assert "sqs:SendMessage" in _actions_on(synthesized, handler, failures)
        assert not _actions_on(synthesized, handler, dlq)
        assert not _actions_on(synthesized, handler, queue)
    assert _actions_on(synthesized, "write", queue) == {"sqs:SendMessage"}
    for handler in ("read", "page"):
        assert not {a for s in _statements(synthesized, handler) for a in _actions(s)} - {
            "dynamodb:GetItem",
            "dynamodb:Query",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
        }


def test_write_and_page_functions_may_do_nothing_but_their_job(synthesized: Synthesized) -> None:
    """The write function sends to the front queue, the page function only logs: no table, no
    key, no other queue."""
    queue = _arn(synthesized.logical_id(synthesized.stack.queue))
    basics = {"logs:CreateLogStream", "logs:PutLogEvents"}
    tracing = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    for handler, extra in (("write", {"sqs:SendMessage"}), ("page", set())):
        statements = _statements(synthesized, handler)
        assert {a for s in statements for a in _actions(s)} == basics | tracing | extra
        for statement in statements:
            if "sqs:SendMessage" in _actions(statement):
                assert statement["Resource"] == queue


def test_sending_to_a_queue_under_a_key_of_ours_grants_that_key_for_sending_only() -> None:
    stack = Stack(App(), "Keyed")
    key = kms.Key(stack, "Key")
    queue = sqs.Queue(stack, "Queue", encryption=sqs.QueueEncryption.KMS, encryption_master_key=key)
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    allow_send(role, queue)
    (policy,) = Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    by_resource = {json.dumps(st["Resource"]): _actions(st) for st in statements}
    key_id = stack.resolve(key.node.default_child.logical_id)  # type: ignore[union-attr]
    queue_id = stack.resolve(queue.node.default_child.logical_id)  # type: ignore[union-attr]
    assert by_resource == {
        json.dumps(_arn(queue_id)): {"sqs:SendMessage"},
        json.dumps(_arn(key_id)): {"kms:GenerateDataKey", "kms:Decrypt"},
    }


def test_roles_use_no_managed_policies_and_only_required_wildcards(
    synthesized: Synthesized,
) -> None:
    for role in synthesized.resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]
    for handler in HANDLERS:
        for statement in _statements(synthesized, handler):
            if statement["Resource"] == "*":
                assert _actions(statement) <= {
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "dynamodb:ListStreams",
                }


def _api_paths(synthesized: Synthesized) -> dict[str, str]:
    """Logical id of each API Gateway resource -> its full path (``/friends/{playerId}``)."""
    resources = synthesized.resources("AWS::ApiGateway::Resource")
    parts = {rid: r["Properties"]["PathPart"] for rid, r in resources.items()}
    parents = {rid: r["Properties"]["ParentId"] for rid, r in resources.items()}

    def path(resource_id: str) -> str:
        parent = parents[resource_id]
        prefix = path(parent["Ref"]) if "Ref" in parent else ""
        return f"{prefix}/{parts[resource_id]}"

    return {resource_id: path(resource_id) for resource_id in resources}


def test_api_has_exactly_its_routes_each_on_its_function(synthesized: Synthesized) -> None:
    paths = _api_paths(synthesized)
    # Every route invokes its function's live alias, never $LATEST.
    functions = {synthesized.alias_id(name): name for name in ("read", "write", "page")}
    root = synthesized.logical_id(synthesized.stack.api)
    routes = {}
    for method in synthesized.resources("AWS::ApiGateway::Method").values():
        props = method["Properties"]
        assert props["Integration"]["Type"] == "AWS_PROXY"
        uri = json.dumps(props["Integration"]["Uri"])
        (function,) = [name for logical_id, name in functions.items() if logical_id in uri]
        resource = props["ResourceId"]
        path = "/" if resource == _arn(root, "RootResourceId") else paths[resource["Ref"]]
        routes[(props["HttpMethod"], path)] = (
            function,
            props.get("RequestParameters"),
            "RequestValidatorId" in props,
        )
    player = {"method.request.path.playerId": True}
    pair = player | {"method.request.path.friendId": True}
    assert routes == {
        ("GET", "/friends/{playerId}"): ("read", player, True),
        ("GET", "/friends/isFriend/{playerId}/{friendId}"): ("read", pair, True),
        ("GET", "/players/{playerId}/friends"): ("read", player, True),
        ("GET", "/players/{playerId}/friends/{friendId}"): ("read", pair, True),
        ("POST", "/friends"): ("write", None, True),
        ("GET", API_DOCUMENT_PATH): ("write", None, False),
        **{("GET", path): ("page", None, False) for path in PAGE_FILES},
    }


def _write_method(template: Template) -> dict[str, Any]:
    (method,) = [
        m["Properties"]
        for m in template.find_resources("AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] == "POST"
    ]
    return method


def test_the_write_route_checks_bodies_with_the_schema_generated_from_the_message_model(
    synthesized: Synthesized,
) -> None:
    method = _write_method(synthesized.template)
    (model_id, model) = next(iter(synthesized.resources("AWS::ApiGateway::Model").items()))
    assert method["RequestModels"] == {"application/json": {"Ref": model_id}}
    assert model["Properties"]["ContentType"] == "application/json"
    assert model["Properties"]["Schema"] == request_model_schema()
    (validator,) = synthesized.resources("AWS::ApiGateway::RequestValidator").values()
    assert validator["Properties"]["ValidateRequestBody"] is True
    assert method["RequestValidatorId"] == {
        "Ref": next(iter(synthesized.resources("AWS::ApiGateway::RequestValidator")))
    }


def test_a_refused_body_is_answered_with_a_json_400(synthesized: Synthesized) -> None:
    (response,) = synthesized.resources("AWS::ApiGateway::GatewayResponse").values()
    assert response["Properties"]["ResponseType"] == "BAD_REQUEST_BODY"
    assert response["Properties"]["StatusCode"] == "400"
    (template,) = response["Properties"]["ResponseTemplates"].items()
    assert template[0] == "application/json"
    assert template[1] == '{"message":$context.error.messageString}'


def test_the_deployment_follows_the_model_and_the_gateway_response(
    synthesized: Synthesized,
) -> None:
    """A stage serves its deployment's copy of models and gateway responses: the deployment
    comes after them, and its logical id (so a new deployment) changes with the schema."""
    (deployment_id, deployment) = next(
        iter(synthesized.resources("AWS::ApiGateway::Deployment").items())
    )
    (response_id,) = synthesized.resources("AWS::ApiGateway::GatewayResponse")
    assert response_id in deployment["DependsOn"]
    (write_method_id,) = [
        logical_id
        for logical_id, m in synthesized.resources("AWS::ApiGateway::Method").items()
        if m["Properties"]["HttpMethod"] == "POST"
    ]
    assert write_method_id in deployment["DependsOn"]  # which refers to the model

    app = App()
    original = api_module.request_model_schema
    api_module.request_model_schema = lambda: {**original(), "title": "Changed"}
    try:
        changed = Template.from_stack(FriendMicroservicesStack(app, "FriendMicroservices"))
    finally:
        api_module.request_model_schema = original
    assert deployment_id not in changed.find_resources("AWS::ApiGateway::Deployment")


def test_under_players_no_static_path_part_shadows_an_id(synthesized: Synthesized) -> None:
    """API Gateway prefers a static resource to a path parameter beside it, which is why a
    player named ``isFriend`` cannot be listed at ``/friends/{playerId}``. Under ``/players``
    every path parameter is its parent's only child, so every id reaches the function."""
    paths = set(_api_paths(synthesized).values())
    players = {path for path in paths if path.startswith("/players/")}
    assert "/players/{playerId}/friends/{friendId}" in players
    for path in players:
        parent, last = path.rsplit("/", 1)
        siblings = {each for each in paths if each.rsplit("/", 1)[0] == parent}
        if last.startswith("{"):
            assert siblings == {path}, f"{siblings - {path}} shadow {path}"
    assert {"/friends/isFriend", "/friends/{playerId}"} <= paths, "the seed's shadowing, kept"


def test_api_stage_throttles_and_logs_access(synthesized: Synthesized) -> None:
    (stage,) = synthesized.resources("AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    settings = {(s["ResourcePath"], s["HttpMethod"]): s for s in props["MethodSettings"]}
    assert set(settings) == {("/*", "*"), ("/~1friends", "POST")}
    stage_wide, writes = settings["/*", "*"], settings["/~1friends", "POST"]
    for each in (stage_wide, writes):
        assert each["ThrottlingRateLimit"] > 0
        assert each["ThrottlingBurstLimit"] >= each["ThrottlingRateLimit"]
    assert writes["ThrottlingRateLimit"] < stage_wide["ThrottlingRateLimit"]
    assert "DestinationArn" in props["AccessLogSetting"]
    assert "$context.status" in props["AccessLogSetting"]["Format"]


@pytest.fixture(scope="module")
def with_players() -> Synthesized:
    """The stack with who-may-act turned on: a Cognito user pool from the game's own stack."""
    app = App()
    pool = cognito.UserPool(Stack(app, "Identity"), "Players")
    stack = FriendMicroservicesStack(app, "FriendMicroservices", player_pool=pool)
    return Synthesized(app=app, stack=stack, template=Template.from_stack(stack))


def test_without_a_player_pool_no_route_asks_who_acts(synthesized: Synthesized) -> None:
    assert not synthesized.resources("AWS::ApiGateway::Authorizer")
    for method in synthesized.resources("AWS::ApiGateway::Method").values():
        assert method["Properties"]["AuthorizationType"] == "NONE"


def test_a_player_pool_guards_the_write_route_and_ties_the_token_to_the_player(
    with_players: Synthesized,
) -> None:
    (authorizer_id, authorizer) = next(
        iter(with_players.resources("AWS::ApiGateway::Authorizer").items())
    )
    props = authorizer["Properties"]
    assert props["Type"] == "COGNITO_USER_POOLS"
    assert props["IdentitySource"] == "method.request.header.Authorization"
    (provider,) = props["ProviderARNs"]
    assert "Players" in json.dumps(provider)  # the pool's ARN, imported from its stack
    method = _write_method(with_players.template)
    assert method["AuthorizationType"] == "COGNITO_USER_POOLS"
    assert method["AuthorizerId"] == {"Ref": authorizer_id}
    others = [
        m["Properties"]
        for m in with_players.resources("AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] != "POST"
    ]
    assert {m["AuthorizationType"] for m in others} == {"NONE"}
    write = with_players.resources("AWS::Lambda::Function")[with_players.function_id("write")]
    variables = write["Properties"]["Environment"]["Variables"]
    assert variables[PLAYER_CLAIM_ENV] == PLAYER_CLAIM == "sub"


def test_cdk_nag_reports_nothing_unacknowledged_with_a_player_pool(
    with_players: Synthesized,
) -> None:
    assert nag_findings(with_players.stack) == []


def test_outputs(synthesized: Synthesized) -> None:
    outputs = synthesized.json["Outputs"]
    stack = synthesized.stack
    assert outputs["QueueUrl"]["Value"] == {"Ref": synthesized.logical_id(stack.queue)}
    assert outputs["DeadLetterQueueUrl"]["Value"] == {
        "Ref": synthesized.logical_id(stack.dead_letter_queue)
    }
    assert outputs["TableName"]["Value"] == {"Ref": synthesized.logical_id(stack.table)}
    assert outputs["ApiUrl"]["Value"] == stack.resolve(stack.api.url)
    assert outputs["ApiId"]["Value"] == {"Ref": synthesized.logical_id(stack.api)}
    assert stack.resolve(stack.queue_url) == outputs["QueueUrl"]["Value"]
    assert stack.resolve(stack.table_name) == outputs["TableName"]["Value"]
    assert stack.resolve(stack.api_url) == outputs["ApiUrl"]["Value"]


def test_stack_is_environment_agnostic(synthesized: Synthesized) -> None:
    assert synthesized.stack.resolve(synthesized.stack.account) == {"Ref": "AWS::AccountId"}
    assert synthesized.stack.resolve(synthesized.stack.region) == {"Ref": "AWS::Region"}


def test_cdk_nag_reports_nothing_unacknowledged(synthesized: Synthesized) -> None:
    assert nag_findings(synthesized.app) == []


def test_cdk_nag_check_catches_a_finding() -> None:
    """The control for the test above: the same check on a queue with no DLQ and no TLS policy."""
    app = App()
    sqs.Queue(Stack(app, "Bare"), "Queue")
    rules = {finding.split(" ")[0] for finding in nag_findings(app)}
    assert {"AwsSolutions-SQS3", "AwsSolutions-SQS4"} <= rules


def test_every_acknowledgment_covers_a_real_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build the stack with acknowledgments recorded instead of applied: the findings are then
    exactly the acknowledged rules, so no acknowledgment is stale or broader than needed."""
    acknowledged: set[str] = set()

    def record(_self: Validations, *rules: Acknowledgment) -> None:
        acknowledged.update(rule.id for rule in rules)

    monkeypatch.setattr(Validations, "acknowledge", record)
    app = App()
    FriendMicroservicesStack(app, "Unacknowledged")
    app.synth()
    findings = {finding.split(" ")[0] for finding in nag_findings(app)}
    assert acknowledged
    assert findings == acknowledged
