"""What every answer of the HTTP API shares, written once for the functions that give it (read,
write, page) and for the OpenAPI document that describes them: the header that names the release
that answered, the JSON error body, and how a response is declared in a route's ``responses``.

Each route declares its answers here rather than in prose, so the document
(:mod:`friend_handlers.openapi`) is generated from the same code that serves them.
"""

from typing import Any, cast

from aws_lambda_powertools.event_handler import content_types
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, Field

from friend_handlers.contract import VERSION_HEADER
from friend_handlers.observability import VERSION


class ErrorBody(BaseModel):
    """Every refusal and failure of the API, whoever gives it (a function, or API Gateway for a
    body the request model refuses, a missing token or an exhausted throttle)."""

    message: str = Field(description="What was wrong, for a person to read.")


def versioned(response: dict[str, Any]) -> dict[str, Any]:
    """``response`` (a resolved proxy answer) with :data:`VERSION_HEADER` naming this release.
    Added after routing and exception handling, so errors and unknown routes carry it too."""
    response.setdefault("multiValueHeaders", {})[VERSION_HEADER] = [VERSION]
    return response


def answer(
    description: str,
    model: type[BaseModel] | None = None,
    *,
    content_type: str = content_types.APPLICATION_JSON,
    body_schema: dict[str, Any] | None = None,
    from_function: bool = True,
) -> OpenAPIResponse:
    """One declared response: a body of ``model`` (else of ``body_schema``, else a string) and,
    when only the function gives it (``from_function``), the release header as required. An
    answer API Gateway may give in the function's place (a refused body, a missing token)
    cannot promise the header."""
    content: dict[str, Any] = (
        {"model": model} if model is not None else {"schema": body_schema or {"type": "string"}}
    )
    response: dict[str, Any] = {
        "description": description,
        "headers": {
            VERSION_HEADER: {
                "description": "The friend-handlers release that answered.",
                "schema": {"type": "string"},
                "required": from_function,
            }
        },
        "content": {content_type: content},
    }
    # Powertools' header type omits ``required``, which OpenAPI's Header Object has.
    return cast("OpenAPIResponse", response)
