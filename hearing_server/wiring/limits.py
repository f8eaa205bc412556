"""Abuse limits: who the client is behind a proxy, and the caps on login-like routes."""

from __future__ import annotations

from aiohttp import web

from hearing_server import keys
from hearing_server.auth.limits import LoginLimits, parse_networks


def install_limits(app: web.Application) -> None:
    """The trusted proxies and the login limits, for the routes and signaling to use."""
    settings = app[keys.SETTINGS]
    proxies = parse_networks(settings.trusted_proxies)
    app[keys.TRUSTED_PROXIES] = proxies
    app[keys.LOGIN_LIMITS] = LoginLimits.per_minute(
        settings.login_requests_per_minute, settings.login_requests_per_minute_per_token, proxies
    )
