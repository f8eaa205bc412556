"""Log records rewritten before they are written.

aiohttp logs a request it cannot parse (a client's malformed bytes: a NUL in a header, a
broken request line) at ERROR with a traceback, although it answers 400 and nothing on the
server failed. In a court's log that reads as a server fault, hides real ones, and lets any
client fill the log with tracebacks. Such a record becomes one WARNING line.
"""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError


class BadRequestFilter(logging.Filter):
    """Turns aiohttp's traceback for an unparseable request into a one-line warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = "refused a request that is not valid HTTP (%s): %s"
            record.args = (exc.code, str(exc.message).strip().splitlines()[0][:200])
            record.exc_info, record.exc_text = None, None
        return True


def install_log_filters() -> None:
    """Attach the filters to the loggers they concern (once per process)."""
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, BadRequestFilter) for f in server.filters):
        server.addFilter(BadRequestFilter())
