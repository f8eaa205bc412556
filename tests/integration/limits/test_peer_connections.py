"""Peer connections per participant: one publish and one subscribe connection, whatever the
client does. A new publish offer renegotiates the participant's one publish connection (or is
refused with a code), and a new socket.io connection for the same participant replaces the
old one and closes its media first: nothing a client repeats adds server peers."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

from hearing_server.config import Settings
from hearing_server.core.participant import Role
from hearing_server.keys import MEDIA
from signaling.client import HearingClient, SignalingError
from support.hearing import make_hearing

PEOPLE = [(Role.JUDGE, "王法官"), (Role.PARTY, "张三")]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # These clients all come from 127.0.0.1 with no forwarded address: room for the judge and
    # a party's old and new connection at once.
    return replace(settings, max_connections_per_address=50)


def _peers(server: TestServer) -> tuple[int, int]:
    stats = server.app[MEDIA].stats()
    return stats["publishers"], stats["subscribers"]


async def test_reconnecting_and_republishing_never_adds_peers(
    server: TestServer, make_client: Any
) -> None:
    _, people = await make_hearing(server.app, PEOPLE, state="in_session")
    judge = make_client(people["王法官"].token)
    await judge.connect()
    await judge.join()
    old: HearingClient | None = None
    for _ in range(4):
        party = make_client(people["张三"].token)
        await party.connect()
        await party.join()
        await party.publish([AudioStreamTrack(), VideoStreamTrack()])
        if old is not None:
            await old.wait_for_event("replaced")
        old = party
        assert _peers(server)[0] == 1
    assert old is not None
    # A brand-new client connection offered on the same socket: the one publish connection
    # is renegotiated or the offer refused with a code; never a second publisher.
    for _ in range(3):
        try:
            await old.publish([AudioStreamTrack(), VideoStreamTrack()])
        except SignalingError as exc:
            assert exc.code and exc.code != "internal", exc
    # The last offer replaced the publish connection: the new one counts once it is up.
    # Never more than one on the way there.
    seen = []
    for _ in range(50):
        seen.append(_peers(server))
        if seen[-1][0] == 1:
            break
        await asyncio.sleep(0.1)
    assert all(p <= 1 and s <= 2 for p, s in seen), seen
    assert seen[-1][0] == 1, seen
    await judge.call("raise_hand", {"raised": True})  # the server still answers
