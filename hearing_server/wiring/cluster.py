"""Which node serves which hearing: this process alone (the embedded default) or leases in
Redis shared by several nodes (``redis_url``). See docs/operations.md, "Several nodes"."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from cluster import NodeInfo, Placement, RedisLeases, Relay, SingleNode
from hearing_server import keys
from hearing_server.service.events import HearingMoved

log = logging.getLogger(__name__)

IDLE_CHECK_S = 5.0


class IdleRelease:
    """Gives up the hearings nobody has been connected to for ``idle_seconds``, so that
    the next client places them where there is room (a draining node empties this way)."""

    def __init__(
        self,
        placement: Placement,
        connected: Callable[[], frozenset[str]],
        idle_seconds: float,
        on_released: Callable[[str], None] = lambda hearing_id: None,
    ) -> None:
        """``on_released``: told of each hearing given up (with several nodes, what runs
        for it here stops, since its next client may place it elsewhere)."""
        self._placement = placement
        self._connected = connected
        self._idle_seconds = idle_seconds
        self._on_released = on_released
        self._idle_since: dict[str, float] = {}

    async def check(self, now: float) -> list[str]:
        """Release what has been idle long enough; returns the released hearing ids."""
        live = self._connected()
        released: list[str] = []
        owned = self._placement.owned()
        for hid in list(self._idle_since):
            if hid not in owned or hid in live:
                del self._idle_since[hid]
        for hid in owned - live:
            since = self._idle_since.setdefault(hid, now)
            if now - since >= self._idle_seconds:
                await self._placement.release(hid)
                del self._idle_since[hid]
                released.append(hid)
                self._on_released(hid)
        return released

    async def run(self) -> None:
        while True:
            await asyncio.sleep(IDLE_CHECK_S)
            try:
                for hid in await self.check(time.monotonic()):
                    log.info("hearing %s released: nobody connected", hid)
            except Exception:
                log.exception("releasing idle hearings failed")


def install_cluster(app: web.Application) -> None:
    """The placement (``keys.PLACEMENT``) and its idle release; a lost lease disconnects
    the hearing's clients here, and they reconnect to its new node."""
    settings = app[keys.SETTINGS]
    events = app[keys.EVENTS]
    node = NodeInfo(settings.effective_node_id, settings.effective_node_url)
    moves: set[asyncio.Task[None]] = set()

    def lost(hearing_id: str) -> None:
        task = asyncio.get_running_loop().create_task(events.publish(HearingMoved(hearing_id)))
        moves.add(task)
        task.add_done_callback(moves.discard)

    def load() -> int:
        overload = app.get(keys.OVERLOAD)
        return int(overload.level) if overload is not None else 0

    placement: Placement
    if settings.redis_url:
        placement = RedisLeases(
            settings.redis_url,
            node,
            lease_seconds=settings.hearing_lease_seconds,
            load=load,
            on_lost=lost,
            connect_timeout=settings.redis_connect_timeout_seconds,
            spread=settings.hearing_placement == "spread",
        )
    else:
        placement = SingleNode(node)
    app[keys.PLACEMENT] = placement
    relay = Relay()
    app[keys.FORWARDING] = relay
    idle = IdleRelease(
        placement,
        app[keys.LIVE].live_hearing_ids,
        settings.hearing_idle_release_seconds,
        # a single node serves the hearing again whenever someone comes back: it goes on
        on_released=lost if settings.redis_url else lambda hearing_id: None,
    )

    async def cluster(_: web.Application) -> AsyncIterator[None]:
        await placement.start()
        task = asyncio.create_task(idle.run(), name="idle hearing release")
        yield
        task.cancel()
        await asyncio.gather(task, *moves, return_exceptions=True)
        await placement.close()
        await relay.close()

    app.cleanup_ctx.append(cluster)
