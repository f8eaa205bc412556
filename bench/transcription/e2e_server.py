"""The server of the end-to-end transcription benchmark: exactly ``hearing-server serve``
(settings from the ``HEARING_*`` environment), plus a 20 ms ticker in its event loop and
one read-only route, ``GET /bench/loop-lag[?reset=1]`` (admin API key), that reports how
late the ticker woke. Nothing in the server is changed.

    python -m bench.transcription.e2e_server [--nice N]

``--nice`` changes the server's scheduling priority (the speech-to-text process it spawns
runs 5 steps below the server's).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import AsyncIterator

from aiohttp import web

from bench.sfu.control import die_with_parent
from bench.sfu.server import require_admin, serve

from .e2e_lag import LagTicker

LAG_PATH = "/bench/loop-lag"
TICKER = web.AppKey("bench_lag_ticker", LagTicker)


async def loop_lag(request: web.Request) -> web.Response:
    """The ticker's lags since the last reset; ``?reset=1`` starts a new window."""
    require_admin(request)
    reset = request.query.get("reset") == "1"
    return web.json_response(request.app[TICKER].summary(reset=reset))


async def _ticking(app: web.Application) -> AsyncIterator[None]:
    app[TICKER].start()
    yield
    await app[TICKER].stop()


def _add_lag(app: web.Application) -> None:
    app[TICKER] = LagTicker()
    app.cleanup_ctx.append(_ticking)
    app.router.add_get(LAG_PATH, loop_lag)


def main() -> int:
    """Serve as ``hearing-server serve`` does, with the lag route added."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--nice", type=int, default=0, help="scheduling priority increment")
    args = parser.parse_args()
    die_with_parent()
    if args.nice:
        os.nice(args.nice)
    return serve(_add_lag)


if __name__ == "__main__":
    sys.exit(main())
