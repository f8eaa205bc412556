"""JSON error responses with stable codes, and the middleware that produces them."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from hearing_server.auth.tokens import TokenError
from hearing_server.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidTransition,
    Locked,
    NotFound,
    TooLarge,
    Unavailable,
    ValidationError,
)
from hearing_server.schema import SchemaError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """An error the API reports as ``{code, message}`` with an HTTP status."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers  # e.g. Retry-After on a 429


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status, headers=headers)


_DOMAIN_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (NotFound, 404),
    (Forbidden, 403),
    (InvalidTransition, 409),
    (Conflict, 409),
    (ValidationError, 422),
    (TooLarge, 413),
    (Locked, 429),
    (Unavailable, 502),
)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into a JSON ``{code, message}``; bad input never becomes a 500."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.headers)
    except SchemaError as exc:
        return error_response(400 if exc.code == "invalid_body" else 422, exc.code, exc.message)
    except TokenError as exc:
        status = 403 if exc.code == "wrong_hearing" else 401
        return error_response(status, exc.code, exc.message)
    except DomainError as exc:
        status = next((s for cls, s in _DOMAIN_STATUS if isinstance(exc, cls)), 400)
        return error_response(status, exc.code, exc.message)
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, "body_too_large", "request body is too large")
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith("/api/"):
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        return error_response(exc.status, code, exc.reason)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal", "internal server error")
