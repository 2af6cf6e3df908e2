"""Page entry point (API Gateway REST): the one-page UI that sends friend actions through the
write API and watches the friend graph through the read API.

Served by the API itself (``GET /`` and ``GET /app.js``), so the page, ``POST /friends`` and
``GET /players/...`` share one origin: no CORS, and the page reaches the API by relative URLs
wherever the stage is mounted (AWS, an emulator's ``/_aws/execute-api/<id>/prod/``). The files
live beside this module (``static/``) and ship in the functions' bundle; no build step.

The Content-Security-Policy lets the page run only its own script and talk only to its own
origin, so a player id is never more than text on it.
"""

from collections.abc import Callable
from importlib.resources import files
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from friend_handlers.contract import PAGE_FILES
from friend_handlers.http_api import answer, versioned

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # Small and changed only by a deployment: revalidate rather than serve a stale page.
    "Cache-Control": "no-cache",
}

_STATIC = files("friend_handlers") / "static"

app = APIGatewayRestResolver()


def _serve(name: str, content_type: str) -> Callable[[], Response[str]]:
    """Route ``GET <resource>`` to the file ``name`` (read once, at import)."""
    body = (_STATIC / name).read_text("utf-8")

    def serve() -> Response[str]:
        return Response(status_code=200, content_type=content_type, body=body, headers=HEADERS)

    serve.__name__ = f"serve_{name.replace('.', '_')}"
    return serve


for resource, (name, content_type) in PAGE_FILES.items():
    app.get(
        resource,
        summary=f"The page: {name}",
        responses={200: answer(name, content_type=content_type)},
    )(_serve(name, content_type))


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return versioned(app.resolve(event, context))
