"""The API's OpenAPI document, generated from the routes of the three functions that serve the
API (read, write, page): each one's Powertools resolver describes its own routes, and the
documents are merged here, in one place, with Powertools' :class:`OpenAPIMerge`.

``python -m friend_handlers.openapi`` prints the document of the default deployment (the write
route behind the player pool's authorizer); ``docs/openapi.json`` is that output, and a test
fails when the two differ. The write function serves the document of its own deployment at
``GET /openapi.json``: without the authorizer, ``POST /friends`` asks for no token and cannot be
answered 401 or 403, and the document says so.

Three adjustments make the generated document say what the API does:

- Powertools adds a 422 answer to every validated route; the read function answers request
  validation errors with 400 (its ``RequestValidationError`` handler), so 422 goes.
- An optional query parameter is generated as "string or null"; a query string has no null
  (the parameter is absent instead), so the null branch goes.
- Without the authorizer, the write route's security and its 401/403 answers go.
"""

import json
import sys
from typing import Any

from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, SecurityScheme

from friend_handlers.handlers import page, read, write

TITLE = "Friend API"
API_VERSION = "1.0.0"
"""The version of the API's contract (not of a release: answers name theirs in a header). Raise
it when an operation changes incompatibly."""
DESCRIPTION = (
    "Friend requests between players: send an action (POST /friends), read a player's rows and "
    "where a pair stands, and the page that does both. Every answer the functions give names "
    "the friend-handlers release that gave it in X-Friend-Handlers-Version."
)
SECURITY_SCHEMES: dict[str, SecurityScheme] = {
    write.PLAYER_POOL: APIKey.model_validate(
        {
            "type": "apiKey",
            "in": APIKeyIn.header,
            "name": "Authorization",
            "description": "An ID token of the stack's Cognito user pool, as it is (no "
            "'Bearer'); its sub must be the action's player_id.",
            "x-amazon-apigateway-authtype": "cognito_user_pools",
        }
    )
}
REQUEST_VALIDATION_STATUS = "422"
VALIDATION_COMPONENTS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")
REFUSED_WITHOUT_AUTHORIZER = ("401", "403")


def document(*, authorizer: bool) -> dict[str, Any]:
    """The API's OpenAPI document; ``authorizer``: ``POST /friends`` asks for a token of the
    player pool (the stack's default on a real account)."""
    merge = OpenAPIMerge(
        title=TITLE, version=API_VERSION, description=DESCRIPTION, on_conflict="error"
    )
    for resolver in (read.app, write.app, page.app):
        schema = resolver.get_openapi_schema(security_schemes=SECURITY_SCHEMES)
        merge.add_schema(schema.model_dump(mode="json", by_alias=True, exclude_none=True))
    merged = merge.get_openapi_schema()
    for operation in _operations(merged):
        operation["responses"].pop(REQUEST_VALIDATION_STATUS, None)
        for parameter in operation.get("parameters", ()):
            parameter["schema"] = _without_null(parameter["schema"])
    schemas = merged["components"]["schemas"]
    for name in VALIDATION_COMPONENTS:
        schemas.pop(name, None)
    if not authorizer:
        send = merged["paths"]["/friends"]["post"]
        del send["security"]
        for status in REFUSED_WITHOUT_AUTHORIZER:
            del send["responses"][status]
        del merged["components"]["securitySchemes"]
    return merged


def _operations(merged: dict[str, Any]) -> list[dict[str, Any]]:
    return [operation for path in merged["paths"].values() for operation in path.values()]


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without its "or null" branch (``anyOf: [X, {"type": "null"}]`` -> X)."""
    branches = [each for each in schema.get("anyOf", ()) if each != {"type": "null"}]
    if "anyOf" not in schema or len(branches) != 1:
        return schema
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**branches[0], **rest}


def main() -> None:
    """Print the default deployment's document (``docs/openapi.json``)."""
    sys.stdout.write(json.dumps(document(authorizer=True), indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
