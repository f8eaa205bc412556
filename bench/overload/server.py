"""The overload benchmark's server: ``hearing-server serve`` (through bench.sfu.server, so
settings come from the ``HEARING_*`` environment), with two benchmark-only additions:

* each Python thread names its OS thread after itself when it starts (``prctl
  PR_SET_NAME``, 15 bytes), so ``/proc/<pid>/task/*/comm`` tells the compositor's, the
  recorder's and the decoders' threads apart; Python 3.11 leaves every one "python".
  Threads a native library starts (FFmpeg's, x264's) inherit the name of the thread that
  started them, which is the attribution wanted.
* a 20 ms ticker in the event loop; at each whole wall-clock second one JSON line is
  appended to ``--samples``: the lags of the ticks since the previous line (ms) and the
  media router's counters (``MediaRouter.stats()``). Written from the loop: a saturated
  loop writes late, which the line's ``t`` shows.

``GET /bench/media-stats`` (bench.sfu.server) is there too. Nothing in hearing_server changes.

    python -m bench.overload.server --samples FILE [--nice N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.sfu.control import die_with_parent
from bench.sfu.server import STATS_PATH, media_stats, serve
from hearing_server.keys import MEDIA

from .ticks import LagTicks, every_second, name_os_threads


def _extend(samples: Path) -> Callable[[web.Application], None]:
    async def sampling(app: web.Application) -> AsyncIterator[None]:
        ticks = LagTicks()
        out = samples.open("a")

        def sample(s: int) -> None:
            line: dict[str, Any] = {
                "s": s,
                "t": round(time.time(), 3),
                "lags_ms": ticks.take(),
                "media": app[MEDIA].stats(),
            }
            out.write(json.dumps(line) + "\n")
            out.flush()

        loop = asyncio.get_running_loop()
        tasks = [
            loop.create_task(ticks.run(), name="bench-lag"),
            loop.create_task(every_second(sample), name="bench-sampler"),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            out.close()

    def extend(app: web.Application) -> None:
        app.router.add_get(STATS_PATH, media_stats)
        app.cleanup_ctx.append(sampling)

    return extend


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--samples", type=Path, required=True, help="JSON lines, one a second")
    parser.add_argument("--nice", type=int, default=0, help="scheduling priority increment")
    args = parser.parse_args()
    die_with_parent()
    if args.nice:
        os.nice(args.nice)
    name_os_threads()
    return serve(_extend(args.samples))


if __name__ == "__main__":
    sys.exit(main())
