"""The app as ``cdk deploy`` runs it: closed by default (the write route behind the players'
pool), open only when the context names that choice; and the API it deploys is the one its
OpenAPI document describes."""

from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template
from friend_handlers.contract import PLAYER_CLAIM_ENV
from friend_handlers.openapi import document
from friend_infra.app import (
    MANIFEST_CONTEXT,
    OPEN_WRITE_API_CONTEXT,
    PLAYERS_STACK_NAME,
    build,
    nag_findings,
)
from friend_infra.pins import WORKSPACE
from friend_infra.stack import FriendMicroservicesStack


def _app(**context: str) -> tuple[App, FriendMicroservicesStack]:
    app = App(context={MANIFEST_CONTEXT: WORKSPACE, **context})
    return app, build(app)


@pytest.fixture(scope="module")
def closed() -> tuple[App, FriendMicroservicesStack]:
    return _app()


@pytest.fixture(scope="module")
def open_api() -> tuple[App, FriendMicroservicesStack]:
    return _app(**{OPEN_WRITE_API_CONTEXT: "true"})


def _methods(template: Template) -> dict[tuple[str, str], dict[str, Any]]:
    """(HTTP method, path) -> the method's properties, the path rebuilt from its resources."""
    resources = template.find_resources("AWS::ApiGateway::Resource")

    def path_of(reference: Any) -> str:
        if not isinstance(reference, dict) or "Ref" not in reference:
            return ""  # the API's root resource
        props = resources[reference["Ref"]]["Properties"]
        return f"{path_of(props['ParentId'])}/{props['PathPart']}"

    return {
        (props["HttpMethod"], path_of(props["ResourceId"]) or "/"): props
        for props in (
            method["Properties"]
            for method in template.find_resources("AWS::ApiGateway::Method").values()
        )
    }


def test_by_default_the_write_route_asks_for_a_token_of_the_apps_player_pool(
    closed: tuple[App, FriendMicroservicesStack],
) -> None:
    app, stack = closed
    players = Template.from_stack(app.node.find_child(PLAYERS_STACK_NAME))  # type: ignore[arg-type]
    (pool,) = players.find_resources("AWS::Cognito::UserPool").values()
    assert pool["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["DeletionPolicy"] == "Retain"
    template = Template.from_stack(stack)
    methods = _methods(template)
    assert methods[("POST", "/friends")]["AuthorizationType"] == "COGNITO_USER_POOLS"
    assert {
        props["AuthorizationType"] for key, props in methods.items() if key != ("POST", "/friends")
    } == {"NONE"}
    (authorizer,) = template.find_resources("AWS::ApiGateway::Authorizer").values()
    assert authorizer["Properties"]["Type"] == "COGNITO_USER_POOLS"
    write = template.find_resources("AWS::Lambda::Function")[
        stack.resolve(stack.functions["write"].function.node.default_child.logical_id)  # type: ignore[union-attr]
    ]
    assert write["Properties"]["Environment"]["Variables"][PLAYER_CLAIM_ENV] == "sub"
    assert nag_findings(app) == []


def test_an_open_write_api_is_a_choice_the_context_names(
    open_api: tuple[App, FriendMicroservicesStack],
) -> None:
    app, stack = open_api
    assert app.node.try_find_child(PLAYERS_STACK_NAME) is None
    template = Template.from_stack(stack)
    assert not template.find_resources("AWS::ApiGateway::Authorizer")
    assert {props["AuthorizationType"] for props in _methods(template).values()} == {"NONE"}
    assert nag_findings(app) == []


def test_a_flag_that_is_not_true_or_false_is_refused() -> None:
    with pytest.raises(ValueError, match="expected true or false"):
        _app(**{OPEN_WRITE_API_CONTEXT: "maybe"})


@pytest.mark.parametrize("authorizer", [True, False])
def test_the_api_deploys_exactly_the_operations_its_document_describes(
    closed: tuple[App, FriendMicroservicesStack],
    open_api: tuple[App, FriendMicroservicesStack],
    authorizer: bool,
) -> None:
    _, stack = closed if authorizer else open_api
    methods = _methods(Template.from_stack(stack))
    doc = document(authorizer=authorizer)
    described = {
        (method.upper(), path): operation
        for path, item in doc["paths"].items()
        for method, operation in item.items()
    }
    assert set(methods) == set(described)
    for key, operation in described.items():
        secured = methods[key]["AuthorizationType"] != "NONE"
        assert secured == ("security" in operation), key
