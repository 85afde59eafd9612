"""The resolver every API function shares, and the one error envelope it answers with.

Validation errors answer 422 with `{"error": {"code": "validation_error", "message", "field", "errors"}}`,
and every route documents that (replacing Powertools' default `HTTPValidationError` schema), so the
OpenAPI document says what the API really answers.
"""

from collections.abc import Sequence
from typing import Any, TypedDict

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from pydantic import BaseModel
from pydantic.alias_generators import to_camel

from reels_live.api.schemas import ErrorEnvelope
from reels_live.core.errors import DomainError, InvalidRequest
from reels_live.core.observability import logger

# What a Response's body holds: {"error": {...}} (api.schemas.ErrorEnvelope is its documented shape).
type _Envelope = dict[str, dict[str, Any]]


class _Problem(TypedDict):
    """One validation problem as the envelope lists it."""

    field: str | None
    message: str


VALIDATION_STATUS = 422
_JSON_ONLY = "The body must be JSON (Content-Type: application/json)."

_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing or invalid bearer token",
    402: "The stream is gated and the caller has no access; the body carries the price",
    403: "The caller may not do this",
    404: "Not found",
    409: "Conflicts with the current state",
    410: "Gone: the stream has ended, or the link has expired",
    422: "Validation failed; `field` names the culprit",
    429: "Too many requests; see Retry-After",
    503: "A dependency is unavailable; nothing changed, retry later (Retry-After)",
}


def http_api() -> APIGatewayHttpResolver:
    """A resolver with request/response validation and every error mapped to the envelope."""
    app = APIGatewayHttpResolver(enable_validation=True)

    @app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]  # Powertools leaves it unannotated
    def _invalid(error: RequestValidationError) -> Response[_Envelope]:
        return error_response(_validation_error(error.errors()))

    # Bodies Powertools cannot read at all (found by the schemathesis run against the local stack): a
    # declared type other than JSON (multipart without a boundary raises a bare ValueError), or bytes that
    # are not UTF-8. Both are the caller's mistake, not a 500.
    @app.exception_handler(RequestUnsupportedContentType)  # type: ignore[untyped-decorator]  # Powertools leaves it unannotated
    def _unsupported(_: RequestUnsupportedContentType) -> Response[_Envelope]:
        return error_response(InvalidRequest(_JSON_ONLY))

    @app.exception_handler(UnicodeDecodeError)  # type: ignore[untyped-decorator]  # Powertools leaves it unannotated
    def _undecodable(_: UnicodeDecodeError) -> Response[_Envelope]:
        return error_response(InvalidRequest("The body is not valid JSON."))

    @app.exception_handler(ValueError)  # type: ignore[untyped-decorator]  # Powertools leaves it unannotated
    def _unreadable(error: ValueError) -> Response[_Envelope]:
        content_type = app.current_event.headers.get("content-type", "").strip().lower()
        if content_type and not content_type.startswith("application/json"):
            return error_response(InvalidRequest(_JSON_ONLY))
        return _unexpected(error)  # type: ignore[no-any-return]  # Any: its decorator is unannotated

    @app.exception_handler(DomainError)  # type: ignore[untyped-decorator]  # Powertools leaves it unannotated
    def _domain(error: DomainError) -> Response[_Envelope]:
        return error_response(error)

    @app.not_found
    def _no_route(_: Exception) -> Response[_Envelope]:
        return _envelope(404, {"code": "route_not_found", "message": "No such route."})

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]  # Powertools leaves it unannotated
    def _unexpected(_: Exception) -> Response[_Envelope]:
        # Logged with the stack trace; the caller learns nothing internal.
        logger.exception("unhandled error")
        return _envelope(500, {"code": "internal_error", "message": "Something went wrong on our side."})

    return app


def error_response(error: DomainError) -> Response[_Envelope]:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.field:
        body["field"] = error.field
    for name, value in error.details.items():
        if value is not None:
            body[to_camel(name)] = value.model_dump(mode="json") if hasattr(value, "model_dump") else value
    return _envelope(error.status, body, error.headers)


def documented(success: tuple[int, type[BaseModel], str], *errors: int) -> dict[int, Any]:
    """OpenAPI `responses` for a route: its success answer and the errors it can give (422 always).

    Powertools documents only the declared responses once any are declared, so the success one is here too.
    """
    status, model, description = success
    responses: dict[int, Any] = {
        status: {"description": description, "content": {content_types.APPLICATION_JSON: {"model": model}}}
    }
    for error in sorted({*errors, VALIDATION_STATUS}):
        responses[error] = {
            "description": _DESCRIPTIONS[error],
            "content": {content_types.APPLICATION_JSON: {"model": ErrorEnvelope}},
        }
    return responses


def _validation_error(errors: Sequence[Any]) -> InvalidRequest:
    details = [_describe(error) for error in errors]
    first: _Problem = details[0] if details else {"field": None, "message": "Invalid request."}
    message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return InvalidRequest(message, field=first["field"], errors=details)


def _describe(error: dict[str, Any]) -> _Problem:
    """Pydantic's error as {field, message}; `field` is the JSON path inside body, path, query or header."""
    location = list(error.get("loc", ()))
    # Defaults validated without input report the Python name; the API's names are camelCase.
    parts = [
        to_camel(part) if location[:1] == ["body"] and isinstance(part, str) else str(part)
        for part in location
    ]
    field = ".".join(parts[1:]) or None
    if error.get("type") == "json_invalid":
        return {"field": None, "message": "The body is not valid JSON."}
    if error.get("type") == "missing" and field is None:
        return {"field": None, "message": "A JSON body is required."}
    message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    return {"field": field, "message": message}


def _envelope(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response[_Envelope]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"error": body},
        headers=headers or {},
    )
