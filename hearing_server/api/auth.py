"""Who is calling: the admin API key, a staff token, or a participant's join token."""

from __future__ import annotations

import hmac

from aiohttp import web

from hearing_server.auth.tokens import JoinClaims, TokenError
from hearing_server.core.actors import Actor
from hearing_server.keys import ADMIN_API_KEY, METRICS_TOKEN, TOKENS

from .errors import ApiError


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def is_admin(request: web.Request) -> bool:
    given = request.headers.get("X-API-Key", "")
    expected = request.app[ADMIN_API_KEY]
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def require_metrics_token(request: web.Request) -> None:
    """The metrics token as a bearer token: none is 401, another one 403."""
    given = _bearer(request)
    if given is None:
        raise ApiError(401, "unauthorized", "send the metrics token as a bearer token")
    expected = request.app[METRICS_TOKEN]
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(403, "invalid_metrics_token", "the metrics token is not valid")


async def staff_actor(request: web.Request) -> Actor:
    """The admin key or a valid staff token, or 401."""
    if is_admin(request):
        return Actor.staff("admin")
    token = _bearer(request)
    if token is None:
        if request.headers.get("X-API-Key"):
            raise ApiError(401, "invalid_api_key", "the API key is not valid")
        raise ApiError(401, "unauthorized", "send X-API-Key or a staff bearer token")
    claims = await request.app[TOKENS].verify_staff(token)
    return Actor.staff(claims.staff_name)


async def join_claims(request: web.Request) -> JoinClaims:
    """A valid join token, or 401."""
    token = _bearer(request)
    if token is None:
        raise TokenError("unauthorized", "send the join token as a bearer token")
    return await request.app[TOKENS].verify_join(token)


async def court_actor(request: web.Request) -> Actor:
    """The admin key, a staff token, or a participant's join token, or 401: for what court
    staff do from anywhere and the court's own people of a hearing (the judge, the clerk) do
    from its console. What the participant may do is the permission table's to say."""
    if is_admin(request) or request.headers.get("X-API-Key"):
        return await staff_actor(request)
    token = _bearer(request)
    if token is None:
        raise ApiError(401, "unauthorized", "send X-API-Key, a staff token or a join token")
    tokens = request.app[TOKENS]
    if tokens.is_staff_token(token):
        return await staff_actor(request)
    return (await tokens.verify_join(token)).actor
