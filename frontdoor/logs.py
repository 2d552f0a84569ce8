"""What the logs hold and how they look: one JSON object a line (or plain text at a terminal), every line made
while a request is handled naming its request id and the worker, no citizen's number in clear and no query string.

`logging_config(settings)` is handed to uvicorn (`frontdoor serve`), which applies it in every worker process
before the app starts; `install_redaction()` then makes sure the filters sit on every handler that writes, also
when the app runs under another server. The access lines are the app's own (api/request_id.py: method, path
without its query string, status, duration_ms); uvicorn's access log is off. WeChat's pushes carry their
signature, timestamp and nonce in the query string, and a logged signed query is a replay kit."""
from __future__ import annotations

import logging
import os
import sys
from datetime import datetime, timezone

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from api.request_id import current_request_id
from frontdoor.settings import Settings
from ground.privacy import mask

ACCESS_LOGGER = "uvicorn.access"
LOGGERS = ("", "uvicorn", "uvicorn.error", ACCESS_LOGGER, "frontdoor")
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# uvicorn adds a coloured copy of some messages; it would only repeat the message with escape codes.
DROPPED_ATTRS = [*RESERVED_ATTRS, "color_message", "taskName"]


class Redact(logging.Filter):
    """Formats the record's message now, masks the numbers in it, and drops the query from access-log paths."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == ACCESS_LOGGER and isinstance(record.args, tuple) and len(record.args) >= 3:
            args = list(record.args)
            args[2] = str(args[2]).split("?", 1)[0]
            record.args = tuple(args)
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if isinstance(getattr(record, "path", None), str):  # an access line's own field
            record.path = mask(record.path.split("?", 1)[0])
        return True


class RequestContext(logging.Filter):
    """Names the request being handled (or "-" outside one) and the worker process on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        record.worker = os.getpid()
        return True


class IsoJsonFormatter(JsonFormatter):
    """python-json-logger's formatter with the time in ISO 8601, UTC, to the millisecond, and tracebacks masked
    (an exception's message may quote what a citizen sent)."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")

    def formatException(self, exc_info) -> str:
        return mask(super().formatException(exc_info))


class TextFormatter(logging.Formatter):
    """Plain lines for a person at a terminal, tracebacks masked as in JSON."""

    def formatException(self, exc_info) -> str:
        return mask(super().formatException(exc_info))


def json_formatter() -> JsonFormatter:
    """time, level, logger, message, then request_id, worker and any fields the line adds (method, path, …)."""
    return IsoJsonFormatter(JSON_FIELDS, rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                            reserved_attrs=DROPPED_ATTRS, json_ensure_ascii=False)


def wants_json(settings: Settings) -> bool:
    """JSON unless told otherwise; "auto" gives text to a person at a terminal and JSON to everything else."""
    if settings.log_format == "auto":
        return not sys.stderr.isatty()
    return settings.log_format == "json"


def logging_config(settings: Settings) -> dict:
    """A `logging.config.dictConfig` for the service (uvicorn's `log_config`)."""
    formatter = {"()": json_formatter} if wants_json(settings) else {"()": TextFormatter, "format": TEXT_FORMAT}
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "frontdoor",
               "filters": ["request", "redact"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": RequestContext}, "redact": {"()": Redact}},
        "formatters": {"frontdoor": formatter},
        "handlers": {"stderr": handler},
        "root": {"handlers": ["stderr"], "level": settings.log_level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            ACCESS_LOGGER: {"handlers": [], "propagate": False},  # the app logs its own access lines
        },
    }


def install_redaction() -> None:
    """Adds the Redact and RequestContext filters to each handler of the loggers that write (idempotent)."""
    for name in LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, Redact) for f in handler.filters):
                handler.addFilter(Redact())
            if not any(isinstance(f, RequestContext) for f in handler.filters):
                handler.addFilter(RequestContext())
