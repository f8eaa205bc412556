"""The server process: exactly ``hearing-server serve``, plus one read-only route.

``python -m bench.sfu.server [--nice N] [--profile FILE]`` runs
``hearing_server.cli.main(["serve"])`` (settings from the ``HEARING_*`` environment, as
for the real command) with the application factory wrapped to add
``GET /bench/media-stats``: the media router's ``stats()`` (forwarded packets, decoded
frames, ...) behind the admin API key. Nothing in the server is changed; the route is
read twice per run, outside the measured window.
"""

from __future__ import annotations

import argparse
import cProfile
import hmac
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

import hearing_server.cli as cli
import hearing_server.serve as server_process
from hearing_server.config import Settings
from hearing_server.keys import ADMIN_API_KEY, MEDIA

from .control import die_with_parent

STATS_PATH = "/bench/media-stats"


def require_admin(request: web.Request) -> None:
    """Benchmark routes answer the admin API key only, as the staff API does."""
    given = request.headers.get("X-API-Key", "")
    if not hmac.compare_digest(given.encode(), request.app[ADMIN_API_KEY].encode()):
        raise web.HTTPUnauthorized()


async def media_stats(request: web.Request) -> web.Response:
    require_admin(request)
    return web.json_response(request.app[MEDIA].stats())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nice", type=int, default=0, help="scheduling priority increment")
    parser.add_argument("--profile", type=Path, help="write cProfile stats here at exit")
    args = parser.parse_args()
    die_with_parent()
    if args.nice:
        os.nice(args.nice)
    if args.profile is None:
        return serve(_add_stats)
    profiler = cProfile.Profile(time.thread_time)  # CPU time: preemption is not cost
    try:
        return profiler.runcall(serve, _add_stats)
    finally:
        profiler.dump_stats(args.profile)


def _add_stats(app: web.Application) -> None:
    app.router.add_get(STATS_PATH, media_stats)


def serve(extend: Callable[[web.Application], None]) -> int:
    """Run ``hearing-server serve`` with ``extend`` applied to the app it creates."""
    plain: Callable[[Settings], web.Application] = getattr(server_process, "create_app")  # noqa: B009

    def create_app(settings: Settings) -> web.Application:
        app = plain(settings)
        extend(app)
        return app

    # Both look it up at call time: cli for its commands, hearing_server.serve (since issue
    # 28) for the app it serves; patching cli alone left the bench routes out (404).
    setattr(cli, "create_app", create_app)  # noqa: B010
    setattr(server_process, "create_app", create_app)  # noqa: B010
    return cli.main(["serve"])


if __name__ == "__main__":
    sys.exit(main())
