"""Only the node serving a hearing runs its composite and its recording: a hearing put in
session through a node that does not serve it starts them on the node its first participant
is placed on, and a node that loses the hearing stops them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from hearing_server.config import Settings
from hearing_server.core.participant import Role
from hearing_server.keys import COMPOSITES, PLACEMENT, RECORDINGS
from signaling.client import HearingClient
from support.cluster import NODE_LEASE_S, in_process_nodes
from support.hearing import make_hearing
from support.waiting import wait_until


def _composing(app: web.Application, hid: str) -> bool:
    composites = app[COMPOSITES]
    return composites is not None and composites.composite_of(hid) is not None


def _recording(app: web.Application, hid: str) -> bool:
    return app[RECORDINGS].status(hid)["state"] == "recording"


async def test_the_serving_node_composes_and_records_and_stops_when_it_loses_the_hearing(
    redis_url: str, postgres_url: str, aiohttp_server: Any, settings: Settings, tmp_path: Path
) -> None:
    nodes = await in_process_nodes(
        aiohttp_server,
        settings,
        redis_url=redis_url,
        postgres_url=postgres_url,
        shared=tmp_path,
        hearing_lease_seconds=NODE_LEASE_S,
        composite_enabled=True,
        recordings_dir=tmp_path / "recordings",
    )
    a, b = nodes["a"], nodes["b"]
    # In session through b, which serves nobody: nothing starts there.
    hid, people = await make_hearing(b.app, [(Role.JUDGE, "王法官")], state="in_session")
    assert not _composing(b.app, hid) and not _recording(b.app, hid)

    judge = HearingClient(f"http://127.0.0.1:{a.port}", people["王法官"].token)
    try:
        await judge.connect()  # placed on a
        await judge.join()
        assert a.app[PLACEMENT].owned() == {hid}
        await wait_until(lambda: _composing(a.app, hid), 15, "a to compose the hearing")
        await wait_until(lambda: _recording(a.app, hid), 15, "a to record the hearing")
        assert not _composing(b.app, hid) and not _recording(b.app, hid)

        # b takes the lease (as when a stalls past it): a stops composing and recording.
        r = aioredis.Redis.from_url(redis_url)
        try:
            await r.set(f"hearing-server:owner:{hid}", "b", px=int(NODE_LEASE_S * 1000))
            await r.sadd("hearing-server:served:b", hid)
        finally:
            await r.aclose()
        await wait_until(
            lambda: not _composing(a.app, hid) and not _recording(a.app, hid),
            NODE_LEASE_S * 3,
            "a to stop what it ran for the hearing",
        )
    finally:
        await judge.close()
