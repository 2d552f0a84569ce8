"""What the logs may hold: no citizen's number in clear and no signed query string.

Installed on every logger that writes (the root's handlers and uvicorn's) when a worker starts, after uvicorn
has configured its logging. The access log keeps method, path and status but drops the query string: WeChat's
pushes carry their signature, timestamp and nonce there, and a logged signed query is a replay kit."""
from __future__ import annotations

import logging

from ground.privacy import mask

ACCESS_LOGGER = "uvicorn.access"
LOGGERS = ("", "uvicorn", "uvicorn.error", ACCESS_LOGGER, "frontdoor")


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
        return True


def install_redaction() -> None:
    """Adds one Redact filter to each handler of the loggers that write (idempotent)."""
    for name in LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, Redact) for f in handler.filters):
                handler.addFilter(Redact())
