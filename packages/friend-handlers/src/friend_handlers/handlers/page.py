"""Page entry point (API Gateway REST): the one-page UI that sends friend actions through the
write API and watches the friend graph through the read API.

Served by the API itself (``GET /`` and ``GET /app.js``), so the page, ``POST /friends`` and
``GET /players/...`` share one origin: no CORS, and the page reaches the API by relative URLs
wherever the stage is mounted (AWS, an emulator's ``/_aws/execute-api/<id>/prod/``). The files
live beside this module (``static/``) and ship in the functions' bundle; no build step.

The Content-Security-Policy lets the page run only its own script and talk only to its own
origin, so a player id is never more than text on it.
"""

from importlib.resources import files
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from friend_handlers.contract import PAGE_FILES

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_STATIC = files("friend_handlers") / "static"
_BODIES = {
    resource: (_STATIC / name).read_text("utf-8") for resource, (name, _) in PAGE_FILES.items()
}


def handler(event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    resource = event["resource"]
    return {
        "statusCode": 200,
        "headers": {
            "Content-Type": PAGE_FILES[resource][1],
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            # Small and changed only by a deployment: revalidate rather than serve a stale page.
            "Cache-Control": "no-cache",
        },
        "body": _BODIES[resource],
        "isBase64Encoded": False,
    }
