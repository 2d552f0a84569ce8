"""One error shape for every failure: {"error": {"code": …, "message": …}} with the right HTTP status.

Domain code raises `ground.errors.DomainError` (or a subclass); routers let it propagate, and the one handler
here maps its `kind` to the HTTP status (KIND_STATUS). `ApiError` is left for the few conditions that only
exist in HTTP (a missing header, a forged push); it is a DomainError too, with its status given outright.
Anything else that escapes a route is a 500 `internal` error whose traceback is logged with a request id,
which the body and the `X-Request-Id` header carry, so that a report can be matched to the log. A database that
cannot be reached is a 503 `database_unavailable`; one whose disk is full, a 503 `storage_full` (in Chinese on a
citizen's channel): in both, the transaction was rolled back and nothing already written is touched.
On a citizen's channel (a public route), every error whose code api/content/errors.yaml words is told in Chinese.
"""
from __future__ import annotations

import logging
import sqlite3
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.auth import route_accesses
from api.request_id import REQUEST_ID_HEADER, current_request_id, new_request_id
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
STORAGE_FULL = ("The server's storage is full, so nothing was saved; what was saved before is safe. Try again later, "
                "and tell the administrator: the database's disk needs space.")
# What a citizen is told on their own channel (a public route) when storage is full: content, not code.
CITIZEN_MESSAGES = Path(__file__).parent / "content" / "errors.yaml"
POSTGRES_DISK_FULL = "53100"  # SQLSTATE disk_full

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


def is_storage_full(error: DBAPIError) -> bool:
    """SQLite's "database or disk is full" (SQLITE_FULL, also past `max_page_count`), or PostgreSQL's disk_full."""
    original = error.orig
    return (getattr(original, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            or getattr(original, "sqlstate", None) == POSTGRES_DISK_FULL)


def is_citizens_route(request: Request) -> bool:
    """A public route is a citizen's channel (the chat, WeChat's push): its errors are told in Chinese."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    return dependant is not None and any(access.roles is None for access in route_accesses(dependant))


@cache
def citizen_messages(path: Path = CITIZEN_MESSAGES) -> dict[str, str]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def worded(request: Request, code: str, message: str) -> str:
    """`message`, or on a citizen's route the Chinese words for `code` (api/content/errors.yaml) where there are some."""
    if code in citizen_messages() and is_citizens_route(request):
        return citizen_messages()[code]
    return message


def respond(request: Request, code: str, message: str, status: int, details: list | None = None,
            headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, worded(request, code, message), details), status_code=status, headers=headers)


def storage_full(request: Request) -> JSONResponse:
    log.error("%s %s: the database's storage is full; nothing was written", request.method, request.url.path)
    return respond(request, "storage_full", STORAGE_FULL, 503, headers={"Retry-After": "60"})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain_error(request: Request, error: DomainError) -> JSONResponse:
        return respond(request, error.code, error.message, status_of(error), error.details,
                       headers=getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        details = [{"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")} for e in error.errors()]
        return respond(request, "invalid_request", "The request is not valid; see details for what to change.", 422, details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400:  # the body is not JSON, or not UTF-8
            return respond(request, "malformed_body", MALFORMED_BODY, 400)
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(error.status_code, "http_error")
        return JSONResponse(error_body(code, str(error.detail)), status_code=error.status_code,
                            headers=getattr(error, "headers", None))

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, error: OverflowError) -> JSONResponse:
        # The schema bounds every number it knows (api/bounds.py); this catches one inside a free-form document.
        return respond(request, "number_too_large", NUMBER_TOO_LARGE, 422)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, error: DBAPIError) -> JSONResponse:
        # The database is down or restarting (a connection refused, dropped or timed out): say so at once, and
        # let the client try again; nothing was half-written, the transaction was rolled back. Other database
        # errors are the app's own failure: a 500 with a logged request id.
        if isinstance(error, DataError):  # a value the schema let through that a column cannot hold
            return respond(request, "value_out_of_range", VALUE_OUT_OF_RANGE, 422)
        if is_storage_full(error):  # the transaction was rolled back: what was written before is intact
            return storage_full(request)
        if error.connection_invalidated or isinstance(error, (OperationalError, InterfaceError)):
            log.warning("%s %s: the database is unavailable: %s", request.method, request.url.path, type(error.orig).__name__)
            return respond(request, "database_unavailable", DATABASE_UNAVAILABLE, 503, headers={"Retry-After": "5"})
        return await _unexpected(request, error)

    @app.exception_handler(RecursionError)
    async def _too_deep(request: Request, error: RecursionError) -> JSONResponse:
        return respond(request, "too_deep", TOO_DEEP, 400)

    # Registered for Exception, Starlette runs this in its outermost ServerErrorMiddleware (and then re-raises,
    # so the server still sees the failure): the caller gets JSON in the one shape, never a plain-text 500.
    app.add_exception_handler(Exception, _unexpected)


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    request_id = current_request_id() or new_request_id()
    log.error("request %s: %s %s failed with an unexpected %s", request_id, request.method, request.url.path,
              type(error).__name__, exc_info=error)
    body = error_body("internal", worded(request, "internal", INTERNAL))
    body["error"]["request_id"] = request_id
    return JSONResponse(body, status_code=500, headers={REQUEST_ID_HEADER: request_id})
