"""Overload sheds video in order through the real server, keeps audio and every connection,
tells the judge, and brings the video back when the load falls.

The load monitor's own decisions are unit-tested (tests/unit/media/test_load.py); here its
readings are handed to the server's overload policy directly, so the test does not depend on
how fast the machine is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

import pytest
from aiohttp.test_utils import TestServer
from test_sfu import Participant, _describe, _participants

from hearing_server.config import Settings
from hearing_server.keys import OVERLOAD
from hearing_server.media.load import LoadLevel, LoadReading
from signaling.client import HearingClient
from support.waiting import wait_until

MakeClient = Callable[..., HearingClient]


def _reading(level: LoadLevel) -> LoadReading:
    return LoadReading(level, lag_p95_ms=150.0, lag_max_ms=300.0, dropped=0, reason="test load")



@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The policy on, its monitor unable to trigger: the test hands it its readings.
    return replace(settings, overload_shedding=True, overload_lag_ms=1e9, overload_drops=10**9)


async def _frames_grow(p: Participant, publisher: Participant, kind: str, by: int) -> bool:
    """Whether ``p`` gets at least ``by`` more frames of ``kind`` from ``publisher`` within a
    few seconds (generous: a loaded machine delivers late, not never)."""
    before = p.frames(publisher.person, kind)
    for _ in range(50):
        await asyncio.sleep(0.1)
        if p.frames(publisher.person, kind) >= before + by:
            return True
    return False


async def _stops(p: Participant, publisher: Participant, kind: str) -> bool:
    """Whether frames of ``kind`` from ``publisher`` stop reaching ``p``: none for a whole
    second, within ten (frames already queued or in flight still arrive at first)."""
    last, still = p.frames(publisher.person, kind), 0
    for _ in range(100):
        await asyncio.sleep(0.1)
        now = p.frames(publisher.person, kind)
        still = still + 1 if now == last else 0
        last = now
        if still >= 10:
            return True
    return False


async def test_shedding_keeps_the_judge_and_audio_then_restores(
    server: TestServer, make_client: MakeClient
) -> None:
    ps = await _participants(server, make_client)
    judge, zhang, li = ps["王法官"], ps["张三"], ps["李四"]
    try:
        for p in ps.values():
            await p.start()
        for p in ps.values():
            for o in ps.values():
                if o is not p:
                    await wait_until(lambda p=p, o=o: p.sees(o.person), 20, "video", _describe(ps))

        policy = server.app[OVERLOAD]
        await policy.on_load(_reading(LoadLevel.SHED_VIDEO))
        load = await judge.client.wait_for_event("server_load", lambda d: d["overloaded"])
        assert load["level"] == 2 and load["reason"] == "test load"
        # A party keeps the judge's video and everyone's audio, and loses the other party's video.
        assert await _stops(zhang, li, "video")
        assert await _frames_grow(zhang, judge, "video", 5)
        assert await _frames_grow(zhang, li, "audio", 25)
        # The judge (staff) still sees everyone.
        assert await _frames_grow(judge, zhang, "video", 5)
        assert not any(ev == "server_load" for ev, _ in zhang.client.events)  # staff only

        await policy.on_load(_reading(LoadLevel.NORMAL))
        await judge.client.wait_for_event("server_load", lambda d: not d["overloaded"])
        # Li's video comes back to Zhang (on a keyframe).
        await wait_until(lambda: zhang.frames(li.person, "video") > 0, 10, "video back")
        assert await _frames_grow(zhang, li, "video", 5)
        # No connection was lost on the way.
        for p in ps.values():
            assert not any(ev in ("removed", "replaced") for ev, _ in p.client.events)
    finally:
        for p in ps.values():
            await p.stop()
