"""GET /metrics: the Prometheus exposition, for the holder of the metrics token only.

The numbers say how many people are in hearings and when: not for the public. Prometheus
sends the token as a bearer token (``authorization.credentials_file`` in its scrape config).
"""

from __future__ import annotations

from aiohttp import web

from hearing_server.keys import METRICS

from .auth import require_metrics_token


async def metrics(request: web.Request) -> web.Response:
    require_metrics_token(request)
    body, content_type = await request.app[METRICS].render(request.headers.get("Accept", ""))
    return web.Response(body=body, headers={"Content-Type": content_type})
