"""The server of the action benchmark: exactly ``hearing-server serve`` with its defaults
(composite view, recording and transcription on; settings from ``HEARING_*``), plus a 20 ms
ticker in its event loop and one read-only route (admin API key),
``GET /bench/loop-lag-series?since=T``: every tick since monotonic time T as [woke, lag].
Nothing in the server is changed.

    python -m bench.actions.server [--nice N]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import AsyncIterator

from aiohttp import web

from bench.sfu.control import die_with_parent
from bench.sfu.server import require_admin, serve

from .lag import LagSeries

LAG_SERIES_PATH = "/bench/loop-lag-series"
TICKER = web.AppKey("bench_lag_series", LagSeries)


async def loop_lag_series(request: web.Request) -> web.Response:
    require_admin(request)
    since = float(request.query.get("since", "0"))
    return web.json_response(request.app[TICKER].since(since))


async def _ticking(app: web.Application) -> AsyncIterator[None]:
    app[TICKER].start()
    yield
    await app[TICKER].stop()


def _add_lag(app: web.Application) -> None:
    app[TICKER] = LagSeries()
    app.cleanup_ctx.append(_ticking)
    app.router.add_get(LAG_SERIES_PATH, loop_lag_series)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--nice", type=int, default=0, help="scheduling priority increment")
    args = parser.parse_args()
    die_with_parent()
    if args.nice:
        os.nice(args.nice)
    return serve(_add_lag)


if __name__ == "__main__":
    sys.exit(main())
