"""Log lines an operator can follow: which HTTP request or signaling event each line belongs
to, and a JSON form for log collectors (``log_format``).

Every HTTP request gets a request id (the caller's ``X-Request-Id`` when it is a plain token,
else a new one), answered in ``X-Request-Id`` and carried to the node that serves the hearing
when the request is relayed; every signaling event gets one too, returned in its ``error``
answer. While the request or event is handled, every log line carries the id, whatever
module writes it: a clerk who quotes the id of a failed action leads straight to its lines.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from aiohttp import web

REQUEST_ID_HEADER = "X-Request-Id"
# where a request keeps its id (the access log and the relay to another node read it there)
REQUEST_ID_KEY = web.RequestKey("request_id", str)
LOG_FORMATS = ("text", "json")
# A context variable is the key under which each task keeps its own value: it holds no
# state of its own, so it lives at module level like a constant.
_REQUEST_ID: ContextVar[str | None] = ContextVar("hearing_request_id", default=None)
_GIVEN_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def new_request_id() -> str:
    """A fresh id: 16 hex digits."""
    return secrets.token_hex(8)


def request_id_from(given: str | None) -> str:
    """The caller's id when it is a plain token of at most 64 characters (a proxy's or a
    client's, so both logs line up), else a new one: it is written into every log line."""
    if given is not None and _GIVEN_ID.match(given):
        return given
    return new_request_id()


def current_request_id() -> str | None:
    """The id of the request or event being handled here, if any."""
    return _REQUEST_ID.get()


@contextmanager
def request_context(request_id: str) -> Iterator[None]:
    """Log lines written inside (and in tasks started inside) carry ``request_id``."""
    token = _REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        _REQUEST_ID.reset(token)


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record (unless the record already has one, as
    the access log's line has)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = _REQUEST_ID.get()
        return True


class TextFormatter(logging.Formatter):
    """The classic line; `` [request <id>]`` at its end while a request is handled."""

    def __init__(self, who: str = "") -> None:
        super().__init__(f"%(asctime)s {who}%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        if request_id is None:
            return line
        head, sep, tail = line.partition("\n")  # after the message, before a traceback
        return f"{head} [request {request_id}]{sep}{tail}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id,
    worker (with several workers), exception (its traceback, when there is one)."""

    def __init__(self, worker: str | None = None) -> None:
        super().__init__()
        self._worker = worker

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if self._worker is not None:
            out["worker"] = self._worker
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        return json.dumps(out, ensure_ascii=False)


def configure_logging(level: str, log_format: str, worker: str | None = None) -> None:
    """The process's log handler (stderr), in ``log_format``, with request ids. As
    ``logging.basicConfig``: a process whose logging is already set up (a host program, a
    test runner) keeps its handlers; they only gain the request ids."""
    root = logging.getLogger()
    if root.handlers:
        for existing in root.handlers:
            if not any(isinstance(f, RequestIdFilter) for f in existing.filters):
                existing.addFilter(RequestIdFilter())
        return
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter(worker))
    else:
        handler.setFormatter(TextFormatter(f"w{worker} " if worker is not None else ""))
    root.addHandler(handler)
    root.setLevel(level)
