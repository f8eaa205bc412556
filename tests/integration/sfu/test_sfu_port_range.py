"""With a media port range set, every ICE candidate the server announces (publish answers and
subscriber offers) is on a port of the range, and media flows through them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

import pytest
from aiohttp.test_utils import TestServer

from hearing_server.config import Settings
from hearing_server.core.participant import Role
from signaling.client import HearingClient
from support.cluster import receives_video
from support.hearing import make_hearing
from support.media import ColourVideoTrack, ToneAudioTrack

LOW, HIGH = 47100, 47139


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, media_port_min=LOW, media_port_max=HIGH)


def _ports(sdp: str) -> set[int]:
    return {int(m.group(1)) for m in re.finditer(r"a=candidate:\S+ \d+ udp \d+ \S+ (\d+)", sdp)}


async def test_the_servers_candidates_are_in_the_range(
    server: TestServer, make_client: Callable[..., HearingClient]
) -> None:
    _, people = await make_hearing(
        server.app, [(Role.JUDGE, "王法官"), (Role.PARTY, "张三")], state="in_session"
    )
    judge, party = make_client(people["王法官"].token), make_client(people["张三"].token)
    for c, colour, tone in ((judge, (220, 40, 40), 440.0), (party, (40, 200, 40), 700.0)):
        await c.connect()
        await c.join()
        await c.publish([ColourVideoTrack(colour), ToneAudioTrack(tone)])
    await receives_video(judge, people["张三"].id, "the judge to receive the party")
    await receives_video(party, people["王法官"].id, "the party to receive the judge")
    seen: set[int] = set()
    for c in (judge, party):
        for pc in (c.publish_pc, c.subscribe_pc):
            assert pc is not None and pc.remoteDescription is not None
            seen |= _ports(pc.remoteDescription.sdp)
    assert len(seen) == 4  # each client's two connections, on ports of their own
    assert all(LOW <= p <= HIGH for p in seen), seen
