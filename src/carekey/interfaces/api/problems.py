"""RFC 9457 problem details (application/problem+json) for every error the API returns."""

from __future__ import annotations

import re
import sqlite3

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from carekey.errors import CarekeyError, MatcherUnavailable, NotAuthenticated, RateLimited, StorageUnavailable
from carekey.storage.sql.uow import storage_failure

MEDIA = "application/problem+json"


class Problem(BaseModel):
    """An RFC 9457 problem: ``type`` names the kind of problem, ``detail`` says what happened to this request."""

    type: str = Field(examples=["urn:carekey:problem:refused-purpose"])
    title: str = Field(examples=["Purpose refused"])
    status: int = Field(examples=[403])
    detail: str = Field(examples=["carekey never processes data for 'law_enforcement': ..."])
    instance: str | None = Field(None, examples=["/visits/V-1/people/CK-7F3K-92QD"])


class ApiProblem(Exception):
    """A problem raised by the HTTP layer itself (missing header, malformed body...)."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def problem(
    request: Request,
    status: int,
    title: str,
    detail: str,
    kind: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: object,
) -> JSONResponse:
    body = {
        "type": f"urn:carekey:problem:{kind or _slug(title)}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    } | extra
    return JSONResponse(body, status_code=status, media_type=MEDIA, headers=headers)


def install(app: FastAPI) -> None:
    document_problems(app)

    @app.exception_handler(CarekeyError)
    async def _carekey(request: Request, exc: CarekeyError) -> JSONResponse:
        headers = {}
        if isinstance(exc, NotAuthenticated):
            headers["WWW-Authenticate"] = "Bearer"
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.detail.get("retry_after", 60))
        if isinstance(exc, StorageUnavailable | MatcherUnavailable):  # nothing saved: retry later
            headers["Retry-After"] = str(exc.retry_after)
        extra = {
            k: v
            for k, v in exc.detail.items()
            if (isinstance(v, str | int | float) or k == "candidates") and k != "retry_after"
        }
        kind = re.sub(r"(?<!^)(?=[A-Z])", "-", type(exc).__name__.removesuffix("Error")).lower()
        return problem(request, exc.status, exc.title, exc.message, kind, headers, **extra)

    async def _storage(request: Request, exc: Exception) -> JSONResponse:
        """A storage failure raised outside a unit of work (which would have made it StorageUnavailable) is a 503
        too; any other database error is a bug, answered as a problem document without internals."""
        if storage_failure(exc):
            return await _carekey(request, StorageUnavailable("the storage cannot be reached right now; retry"))
        return problem(request, 500, "Internal error", "an unexpected error occurred; nothing more is shown here")

    for cls in (sa_exc.DBAPIError, sa_exc.TimeoutError, sqlite3.Error):
        app.add_exception_handler(cls, _storage)

    @app.exception_handler(ApiProblem)
    async def _api(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem(request, exc.status, exc.title, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return problem(request, 400, "Malformed JSON", "the request body is not valid JSON")
        fields = [
            {"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "message": e.get("msg", "")}
            for e in errors
        ]
        detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
        return problem(request, 422, "Invalid input", detail, "invalid-input", errors=fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":  # FastAPI's, on bytes
            return problem(request, 400, "Malformed JSON", "the request body is not valid JSON (or not UTF-8)")
        return problem(
            request,
            exc.status_code,
            str(exc.detail) if exc.status_code != 404 else "Not found",
            str(exc.detail),
            headers=getattr(exc, "headers", None),
        )


PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
TEXT = {
    400: "Malformed request: a body that is not JSON, or a missing purpose header",
    401: "Not authenticated or token expired",
    403: "Refused purpose, policy denial or missing consent",
    404: "Not found",
    405: "Method not allowed (the `Allow` header lists the methods of the path)",
    409: "Conflict (closed visit, duplicate card, position already enrolled); `possible-duplicate`: the person "
    "may already be enrolled, its `candidates` list who (confirm one, or override)",
    413: "Request body larger than the route accepts",
    422: "Invalid input (out-of-range values...)",
    429: "Rate limited (retry after Retry-After seconds)",
    502: "The remote system (DHIS2) did not accept the request; nothing was marked as sent",
    503: "Storage unavailable (disk full, I/O error, lost database connection): nothing was saved; retry "
    "after Retry-After seconds",
}


def problem_response(status: int) -> dict[str, object]:
    """One OpenAPI response: a problem document, served as application/problem+json (and only so)."""
    return {"description": TEXT[status], "content": {MEDIA: {"schema": PROBLEM_REF}}}


#: OpenAPI ``responses`` entries for the problems a route may return.
def responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    return {s: problem_response(s) for s in statuses}


def document_problems(app: FastAPI) -> None:
    """Complete the OpenAPI document with what every route shares, so that it lists every answer exactly:
    the ``Problem`` schema; the 422 of request validation as the problem document it is (FastAPI would declare
    its own ``HTTPValidationError`` body, which carekey never sends); 413 on every route taking a body
    (``limits.BodyLimit``); 503 on every route but ``/health`` (a storage failure, ``StorageUnavailable``)."""
    generate = app.openapi

    def openapi() -> dict[str, object]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = generate()
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        for path, operations in spec.get("paths", {}).items():
            for operation in operations.values():
                answers = operation.setdefault("responses", {})
                if "422" in answers or operation.get("parameters") or operation.get("requestBody"):
                    answers["422"] = problem_response(422)
                if operation.get("requestBody"):
                    answers.setdefault("413", problem_response(413))
                if path != "/health":
                    answers.setdefault("503", problem_response(503))
        if "HTTPValidationError" not in str(spec.get("paths")):
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
        return spec

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the generated schema
