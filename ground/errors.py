"""The one base of every error a request can meet: what went wrong, in words and as a code, and what kind it is.

A domain error says nothing about HTTP. Its `kind` is one of a few broad kinds of failure, and the API maps each
kind to its status in one place (api/errors.py); its `code` names the condition, one code per condition
(`entry_not_found`, `change_open`, `locked_out`, …), and stays the same wherever the condition is met.

    class EntryExists(DomainError):
        code, kind = "entry_exists", ErrorKind.CONFLICT

    raise DomainError("There is no such thing.", code="thing_not_found", kind=ErrorKind.NOT_FOUND)
"""
from __future__ import annotations

import enum


class ErrorKind(str, enum.Enum):
    NOT_FOUND = "not_found"        # what was asked for does not exist
    CONFLICT = "conflict"          # it exists, but its state does not allow this now
    FORBIDDEN = "forbidden"        # the caller is known, and may not do this
    INVALID = "invalid"            # what was sent cannot be used as it is
    UNAUTHORIZED = "unauthorized"  # the caller is not known (not signed in, or wrong credentials)
    TOO_MANY = "too_many"          # too many tries; wait
    UNAVAILABLE = "unavailable"    # something this needs is not there right now


class DomainError(Exception):
    """An error with a `code` (the condition), a `kind`, a `message` for a person and optional `details`.

    Subclasses set `code` and `kind` as class attributes (or per instance, before or after calling
    `super().__init__(message)`); `details` is a list of JSON-able items (e.g. every problem of a file), or None.
    """

    code: str = "invalid"
    kind: ErrorKind = ErrorKind.INVALID
    details: list | None = None

    def __init__(self, message: str = "", *, code: str | None = None, kind: ErrorKind | None = None,
                 details: list | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        if kind is not None:
            self.kind = ErrorKind(kind)
        if details is not None:
            self.details = details

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args and self.args[0] else (type(self).__doc__ or self.code).strip()

    def __str__(self) -> str:
        return self.message
