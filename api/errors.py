"""One error shape for every failure: {"error": {"code": …, "message": …}} with the right HTTP status.

Domain code raises `ground.errors.DomainError` (or a subclass); routers let it propagate, and the one handler
here maps its `kind` to the HTTP status (KIND_STATUS). `ApiError` is left for the few conditions that only
exist in HTTP (a missing header, a forged push); it is a DomainError too, with its status given outright.
Anything else that escapes a route is a 500 `internal` error whose traceback is logged with a request id,
which the body and the `X-Request-Id` header carry, so that a report can be matched to the log.
"""
from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ground.errors import DomainError, ErrorKind

log = logging.getLogger("frontdoor.api")

MALFORMED_BODY = "The request body could not be read: send JSON, encoded as UTF-8, with Content-Type application/json."
INTERNAL = ("Something went wrong on our side and the request was not completed. Try again; if it keeps happening, "
            "tell the administrator the request id.")
NUMBER_TOO_LARGE = "A number in the request is larger than this service stores (at most 2^31 − 1); send a smaller one."
DATABASE_UNAVAILABLE = ("The database cannot be reached just now, so nothing was done; try again in a few seconds. "
                        "If it lasts, tell the administrator.")
VALUE_OUT_OF_RANGE = "A value in the request is out of the range this service stores; send a smaller or simpler one."
TOO_DEEP = "The request nests deeper than this service reads; send it flatter."
REQUEST_ID_HEADER = "X-Request-Id"

KIND_STATUS: dict[ErrorKind, int] = {
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.INVALID: 422,
    ErrorKind.UNAUTHORIZED: 401,
    ErrorKind.TOO_MANY: 429,
    ErrorKind.UNAVAILABLE: 503,
}
_STATUS_KIND = {status: kind for kind, status in KIND_STATUS.items()} | {400: ErrorKind.INVALID}


class ErrorInfo(BaseModel):
    code: str = Field(description="The condition, one code each, e.g. entry_not_found, change_open, locked_out.")
    message: str = Field(description="What went wrong and what to do, for a person.")
    details: list[Any] | None = Field(default=None, description="Every problem, where there are several (e.g. of an import file).")
    request_id: str | None = Field(default=None, description="Only on a 500: the id under which the server logged it.")


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorInfo


class ApiError(DomainError):
    """An error that exists only in HTTP, with its status given outright (400 for a missing header, …)."""

    def __init__(self, status: int, code: str, message: str, details: list | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message, code=code, kind=_STATUS_KIND.get(status, ErrorKind.INVALID), details=details)
        self.status, self.headers = status, headers


def error_body(code: str, message: str, details: list | None = None) -> dict:
    body: dict = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    return body


def status_of(error: DomainError) -> int:
    status = getattr(error, "status", None)
    return status if isinstance(status, int) else KIND_STATUS.get(error.kind, 400)


def new_request_id() -> str:
    return uuid.uuid4().hex[:12]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain_error(request: Request, error: DomainError) -> JSONResponse:
        return JSONResponse(error_body(error.code, error.message, error.details), status_code=status_of(error),
                            headers=getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        details = [{"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")} for e in error.errors()]
        return JSONResponse(error_body("invalid_request", "The request is not valid; see details for what to change.", details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400:  # the body is not JSON, or not UTF-8
            return JSONResponse(error_body("malformed_body", MALFORMED_BODY), status_code=400)
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(error.status_code, "http_error")
        return JSONResponse(error_body(code, str(error.detail)), status_code=error.status_code,
                            headers=getattr(error, "headers", None))

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, error: OverflowError) -> JSONResponse:
        # The schema bounds every number it knows (api/bounds.py); this catches one inside a free-form document.
        return JSONResponse(error_body("number_too_large", NUMBER_TOO_LARGE), status_code=422)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, error: DBAPIError) -> JSONResponse:
        # The database is down or restarting (a connection refused, dropped or timed out): say so at once, and
        # let the client try again; nothing was half-written, the transaction was rolled back. Other database
        # errors are the app's own failure: a 500 with a logged request id.
        if isinstance(error, DataError):  # a value the schema let through that a column cannot hold
            return JSONResponse(error_body("value_out_of_range", VALUE_OUT_OF_RANGE), status_code=422)
        if error.connection_invalidated or isinstance(error, (OperationalError, InterfaceError)):
            log.warning("%s %s: the database is unavailable: %s", request.method, request.url.path, type(error.orig).__name__)
            return JSONResponse(error_body("database_unavailable", DATABASE_UNAVAILABLE), status_code=503,
                                headers={"Retry-After": "5"})
        return await _unexpected(request, error)

    @app.exception_handler(RecursionError)
    async def _too_deep(request: Request, error: RecursionError) -> JSONResponse:
        return JSONResponse(error_body("too_deep", TOO_DEEP), status_code=400)

    # Registered for Exception, Starlette runs this in its outermost ServerErrorMiddleware (and then re-raises,
    # so the server still sees the failure): the caller gets JSON in the one shape, never a plain-text 500.
    app.add_exception_handler(Exception, _unexpected)


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    request_id = new_request_id()
    log.error("request %s: %s %s failed with an unexpected %s", request_id, request.method, request.url.path,
              type(error).__name__, exc_info=error)
    body = error_body("internal", INTERNAL)
    body["error"]["request_id"] = request_id
    return JSONResponse(body, status_code=500, headers={REQUEST_ID_HEADER: request_id})
