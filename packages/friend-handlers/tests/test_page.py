"""The page function on API Gateway REST proxy events, and the page's own consistency."""

import re

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from friend_handlers.handlers import page

from .harness import rest_event


@pytest.mark.parametrize(
    ("resource", "content_type", "marker"),
    [
        ("/", "text/html; charset=utf-8", "<title>Friend graph</title>"),
        ("/app.js", "text/javascript; charset=utf-8", 'new URL("friends", api)'),
    ],
)
def test_each_route_serves_its_file_with_a_strict_policy(
    lambda_context: LambdaContext, resource: str, content_type: str, marker: str
) -> None:
    response = page.handler(rest_event(resource, {}), lambda_context)
    assert response["statusCode"] == 200
    headers = {name: value for name, (value,) in response["multiValueHeaders"].items()}
    assert headers["Content-Type"] == content_type
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "connect-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert marker in response["body"]


def test_the_page_loads_its_script_and_has_every_element_the_script_uses(
    lambda_context: LambdaContext,
) -> None:
    html = page.handler(rest_event("/", {}), lambda_context)["body"]
    script = page.handler(rest_event("/app.js", {}), lambda_context)["body"]
    assert '<script type="module" src="app.js"></script>' in html
    used = set(re.findall(r'byId\("([\w-]+)"\)', script))
    assert used >= {"from", "to", "action", "send", "status", "lists", "pairs"}
    declared = set(re.findall(r'id="([\w-]+)"', html))
    assert used <= declared, f"missing in index.html: {used - declared}"


def test_the_script_reaches_the_api_only_by_relative_urls(lambda_context: LambdaContext) -> None:
    """Absolute paths would miss the stage prefix (``/prod/``, an emulator's
    ``/_aws/execute-api/<id>/prod/``): every URL is resolved against the script's own."""
    script = page.handler(rest_event("/app.js", {}), lambda_context)["body"]
    assert sorted(re.findall(r"new URL\(([^,]+), api\)", script)) == [
        '"friends"',
        "`players/${encodeURIComponent(player)}/friends`",
    ]
    assert sorted(re.findall(r"fetch\((\w+)", script)) == ["new", "url"]  # the two URLs above
