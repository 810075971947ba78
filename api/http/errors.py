"""The API's one error format and the handlers that produce it.

Every error response is JSON ``{"code": ..., "message": ..., "details": ...}``:
``code`` is machine-readable (a :class:`graph.errors.KocError` subclass's
``.code``, or one of the HTTP codes below), ``message`` is for people, and
``details`` lists the offending fields for 422 responses. No stack trace and no
server-side path ever reaches a client: unexpected exceptions are logged and
answered with a generic 500.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from graph.errors import InvalidCursorError, KocError, StoreError

__all__ = [
    "is_page",
    "ApiError",
    "ErrorResponse",
    "FieldError",
    "STATUS_BY_CODE",
    "ERROR_RESPONSES",
    "error_responses",
    "install_error_handlers",
    "NEXT_STEPS",
    "api_message",
]

log = logging.getLogger("koc.api")

#: HTTP status of each KocError code (subclasses not listed fall back to 400).
STATUS_BY_CODE: dict[str, int] = {
    "not_found": 404,
    "conflict": 409,
    "invalid_cursor": 400,
    "invalid_config": 400,
    "invalid_segment": 422,
    "invalid_parameter": 400,
    "policy_violation": 400,
    "ingest_error": 422,
    "too_many_rejects": 422,
    "invalid_row": 422,
    "scoring_error": 422,
    "not_converged": 422,
    "attribution_error": 409,
    "deadline_exceeded": 503,
    "store_error": 503,
    "schema_error": 503,
}

_HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "unavailable",
}

#: context keys never sent to clients (server-side locations)
_PRIVATE_CONTEXT = {"path", "file", "db", "db_path"}


class FieldError(BaseModel):
    """One invalid input field."""

    field: str = Field(examples=["query.limit"])
    message: str = Field(examples=["Input should be less than or equal to 500"])
    type: str = Field(examples=["less_than_equal"])


class ErrorResponse(BaseModel):
    """The one error format of the API."""

    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["No user 'u42' in the store."])
    details: list[FieldError] | dict[str, Any] | None = None


class ApiError(Exception):
    """An HTTP error raised by the API layer itself (auth, limits, bad cursor, ...)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details, self.headers = details, headers


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting the error format for ``statuses``."""
    return {
        s: {"model": ErrorResponse, "description": _HTTP_CODES.get(s, "error")} for s in statuses
    }


#: errors any authenticated route may return
ERROR_RESPONSES = error_responses(401, 403, 422)


#: (error code, context key present) -> the request that helps next (library messages
#: speak in domain terms; this is their HTTP translation, as api.cli.hints is the CLI's)
NEXT_STEPS: dict[tuple[str, str], str] = {
    ("not_found", "run_id"): "GET /v1/runs lists the runs.",
}


def api_message(exc: KocError) -> str:
    """``exc``'s message with the request an API client needs next."""
    for (code, key), step in NEXT_STEPS.items():
        if exc.code == code and key in exc.context:
            return f"{exc.message} {step}"
    return exc.message


def _body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details}


def _safe_context(context: dict[str, Any]) -> dict[str, Any] | None:
    def plain(v: Any) -> Any:
        if isinstance(v, str | int | float | bool) or v is None:
            return v
        if isinstance(v, list | tuple):
            return [plain(x) for x in v[:20]]
        return str(v)

    out = {k: plain(v) for k, v in context.items() if k not in _PRIVATE_CONTEXT}
    return out or None


async def _koc_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, KocError)
    status = STATUS_BY_CODE.get(exc.code, 400)
    if isinstance(exc, StoreError):
        # store messages name files on the server: log them, answer generically
        log.error("store error on %s %s: %s", request.method, request.url.path, exc.message)
        return JSONResponse(
            _body(exc.code, "The store is unavailable or not initialised; try again later."),
            status_code=status,
            headers={"Retry-After": "5"},
        )
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse(
        _body(exc.code, api_message(exc), _safe_context(exc.context)), status, headers=headers
    )


async def _invalid_cursor(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidCursorError)
    details = [{"field": "query.cursor", "message": exc.message, "type": "invalid_cursor"}]
    return JSONResponse(_body(exc.code, exc.message, details), 400)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(_body(exc.code, exc.message, exc.details), exc.status, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 404 and message == "Not Found":
        message = f"No such endpoint: {request.method} {request.url.path}. See /docs."
    return JSONResponse(
        _body(code, message), exc.status_code, headers=getattr(exc, "headers", None)
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        {
            "field": ".".join(str(p) for p in err.get("loc", ())),
            "message": str(err.get("msg", "invalid")),
            "type": str(err.get("type", "invalid")),
        }
        for err in exc.errors()
    ]
    return JSONResponse(
        _body("validation_error", "Some inputs are invalid; see details.", details), 422
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(
        _body("internal_error", "Internal server error; it has been logged."), status_code=500
    )


#: paths answered in JSON even to a browser; every other path is a page
_MACHINE_PATHS = ("/v1", "/openapi.json", "/healthz", "/readyz", "/_koc", "/static")


def is_page(path: str) -> bool:
    """Whether ``path`` is a browser page (errors there are pages, not JSON)."""
    return not path.startswith(_MACHINE_PATHS)


#: headers of an error response that its page keeps
_KEPT_HEADERS = ("retry-after", "www-authenticate")


def _for_pages(handler: Callable[[Request, Exception], Awaitable[Response]]) -> Any:
    """``handler``, but on a page path its JSON error becomes ``app.state.error_page``'s page."""

    async def handle(request: Request, exc: Exception) -> Response:
        response = await handler(request, exc)
        render = getattr(request.app.state, "error_page", None)
        if render is None or not is_page(request.url.path):
            return response
        body = json.loads(bytes(response.body))
        page: Response = render(request, response.status_code, body)
        for name in _KEPT_HEADERS:  # e.g. how long a 429 or 503 page should wait
            if name in response.headers:
                page.headers[name] = response.headers[name]
        return page

    return handle


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every exception into :class:`ErrorResponse`
    (or, on a browser page, into the page ``app.state.error_page`` renders)."""
    app.add_exception_handler(KocError, _for_pages(_koc_error))
    app.add_exception_handler(InvalidCursorError, _for_pages(_invalid_cursor))
    app.add_exception_handler(ApiError, _for_pages(_api_error))
    app.add_exception_handler(StarletteHTTPException, _for_pages(_http_error))
    app.add_exception_handler(RequestValidationError, _for_pages(_validation_error))
    app.add_exception_handler(Exception, _for_pages(_unexpected))
