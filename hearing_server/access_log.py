"""The access log, with the secrets some URLs carry left out.

A recipient's electronic-service link (``/s/<token>``), a party's slot-picking link
(``/api/pick/<token>``) and an exhibit's download ticket (``/api/evidence-files/<ticket>``)
hold their secret in the path, and aiohttp's access log writes paths whole: anyone who can
read the log could open them. Those segments, and any ``token``, ``ticket`` or ``code`` query
parameter, are written as ``[hidden]``. Join links keep their token in the fragment, which no
server sees, and join tokens travel in headers, which the log does not write.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from hearing_server.logs import REQUEST_ID_KEY

HIDDEN = "[hidden]"
_SECRET_PATHS = re.compile(r"^(/s/|/api/pick/|/api/evidence-files/)[^/?]+")
_SECRET_QUERY = re.compile(r"([?&](?:token|ticket|code)=)[^&]*", re.IGNORECASE)


def redact(path_qs: str) -> str:
    """``path_qs`` with the secrets it may carry replaced by ``[hidden]``."""
    return _SECRET_QUERY.sub(rf"\g<1>{HIDDEN}", _SECRET_PATHS.sub(rf"\g<1>{HIDDEN}", path_qs))


class RedactingAccessLogger(AbstractAccessLogger):
    """aiohttp's combined log line (peer, time, request line, status, size, referer, user
    agent), the request line's secrets hidden (``redact``)."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        now = datetime.now(UTC).strftime("[%d/%b/%Y:%H:%M:%S +0000]")
        line = (
            f"{request.method} {redact(request.path_qs)} "
            f"HTTP/{request.version.major}.{request.version.minor}"
        )
        referer = redact(request.headers.get("Referer", "-"))
        agent = request.headers.get("User-Agent", "-")
        # the request's id: the handling's context has ended by the time this is written
        self.logger.info(
            '%s %s "%s" %s %s "%s" "%s"',
            request.remote or "-",
            now,
            line,
            response.status,
            response.body_length,
            referer,
            agent,
            extra={"request_id": request.get(REQUEST_ID_KEY)},
        )
