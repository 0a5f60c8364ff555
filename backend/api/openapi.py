"""The error answers of every operation, declared in the OpenAPI schema with one error body.

Which errors an operation can give follows from what it is: any request can be refused for its Host, a
NUL in its URL (400), an invalid parameter or body (422) or an unavailable database (503); a change can
come from another site (403) or collide with another request's (409); a body can be too large (413) or of
the wrong type (415); a route behind a policy other than `Public` can meet a missing or bad credential
(401), a share link or a role that does not allow it (403), or data that is missing or not the caller's
(404). A route that gives another error on its own (the login's 401 and 429) declares it with FastAPI's
`responses=`; its body is the same error body.
"""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from backend.api.auth import UNSAFE_METHODS, Public, declared_routes
from backend.api.middleware import is_json

ERROR_DESCRIPTIONS = {
    400: "refused before any route: a Host this server does not answer to, or a NUL in the URL",
    401: "no credential, or one that is not (or no longer) valid",
    403: "not allowed: the role, a read-only token or share link, or a change from another site",
    404: "not found, or not in a project of the caller's",
    409: "conflicts with the current state or with another request's change",
    413: "the body is over the size limit (SEEDSCOPE_MAX_REQUEST_BYTES)",
    415: "the body's Content-Type is not the one this operation reads",
    422: "a parameter or the body is invalid: a list of issues (FastAPI's) or a sentence naming the field",
    429: "too many attempts: wait the Retry-After header's seconds",
    503: "the database or the task queue is not available; try again shortly",
}


class ValidationIssue(BaseModel):
    """One issue of a request that failed validation, as FastAPI reports it (also `input`, `ctx`)."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error answer. `detail` is a sentence for a refusal by the application, or FastAPI's list of
    issues for a request that fails validation."""

    detail: str | list[ValidationIssue]


def _error_codes(route_methods: frozenset[str], public: bool, operation: dict[str, Any]) -> set[int]:
    codes = {400, 422, 503}
    if route_methods & UNSAFE_METHODS:
        codes |= {403, 409}
    body = operation.get("requestBody")
    if body is not None:
        codes.add(413)
        if not all(is_json(media_type) for media_type in body.get("content", {})):
            codes.add(415)
    if not public:
        codes |= {401, 403, 404}
    return codes


def _error_components() -> dict[str, Any]:
    schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.pop("$defs", {})
    components[ErrorBody.__name__] = schema
    return components


def document_errors(app: FastAPI) -> None:
    """Make `app.openapi()` declare every operation's error answers with the error body."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        error = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ErrorBody.__name__}"}}}
        for route in declared_routes(app):
            for method in route.methods:
                operation = schema["paths"].get(route.path, {}).get(method.lower())
                if operation is None:  # not in the schema (pages)
                    continue
                responses = operation.setdefault("responses", {})
                # FastAPI's own 422 ("Validation Error") is described as the error body's.
                responses.pop("422", None)
                public = isinstance(route.policy, Public)
                for code in _error_codes(route.methods, public, operation):
                    responses.setdefault(str(code), {"description": ERROR_DESCRIPTIONS[code]})
                for code, response in responses.items():
                    if code.isdigit() and int(code) >= 400:
                        response["content"] = error
                operation["responses"] = dict(sorted(responses.items()))
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        # FastAPI's own 422 body, replaced above by the error body (whose list has the same items).
        for replaced in ("HTTPValidationError", "ValidationError"):
            components.pop(replaced, None)
        components.update(_error_components())
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
