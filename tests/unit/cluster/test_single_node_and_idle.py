"""The embedded placement (one process serves every hearing) and the release of hearings
nobody has been connected to for a while."""

from __future__ import annotations

import asyncio

import pytest

from cluster import NodeInfo, NoNodeAvailable, SingleNode
from hearing_server.wiring.cluster import IdleRelease


def test_one_node_serves_every_hearing_until_it_drains() -> None:
    async def run() -> None:
        node = SingleNode(NodeInfo("only", "http://127.0.0.1:8080"))
        await node.start()
        assert (await node.owner("h1")).id == "only"
        assert node.owned() == {"h1"}
        await node.drain()
        assert (await node.owner("h1")).id == "only"  # what it serves stays
        with pytest.raises(NoNodeAvailable):
            await node.owner("h2")  # nothing new
        await node.release("h1")
        assert node.owned() == frozenset()
        await node.close()

    asyncio.run(run())


def test_hearings_nobody_is_connected_to_are_released_after_the_idle_time() -> None:
    async def run() -> None:
        node = SingleNode(NodeInfo("only", "http://127.0.0.1:8080"))
        for hid in ("busy", "quiet", "back"):
            await node.owner(hid)
        connected = {"busy"}
        told: list[str] = []
        idle = IdleRelease(
            node, lambda: frozenset(connected), idle_seconds=60, on_released=told.append
        )
        assert await idle.check(now=0) == []
        assert await idle.check(now=30) == []
        connected.add("back")  # someone came back before the time ran out: it starts over
        assert await idle.check(now=59) == []
        connected.discard("back")
        assert await idle.check(now=61) == ["quiet"]
        assert node.owned() == {"busy", "back"}
        assert await idle.check(now=61 + 59) == []
        assert await idle.check(now=61 + 60) == ["back"]
        assert node.owned() == {"busy"}
        assert told == ["quiet", "back"]  # what ran for them here is stopped (several nodes)

    asyncio.run(run())
