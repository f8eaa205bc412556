"""Abuse limits on HTTP: the 429 answer and the login-like routes' wrapper; the limiters
themselves are ``hearing_server/auth/limits.py``."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

from aiohttp import web

from hearing_server.auth.limits import LoginLimits

from .auth import is_admin
from .errors import ApiError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RateLimited(ApiError):
    """429 ``rate_limited`` with the seconds to wait (the error middleware's Retry-After)."""

    def __init__(self, retry_after: float, message: str = "too many requests; slow down"):
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(
            429, "rate_limited", message, headers={"Retry-After": str(self.retry_after)}
        )


def login_limited(handler: Handler, limits: Callable[[web.Request], LoginLimits]) -> Handler:
    """``handler`` behind the login limits (``limits`` finds them on the request's app).

    A request that proves the admin API key is not counted: that key is the court's
    back-office credential, which issues links in bulk, and whoever holds it has nothing
    left to guess. A wrong key is counted like any other guess.
    """

    async def limited(request: web.Request) -> web.StreamResponse:
        if not is_admin(request):
            wait = limits(request).wait(request)
            if wait:
                raise RateLimited(wait)
        return await handler(request)

    limited.__name__ = getattr(handler, "__name__", "limited")
    limited.__doc__ = handler.__doc__
    return limited
