"""A browser on a network where only the TURN relay gets through.

Chromium's peer connections are made relay-only (``iceTransportPolicy: 'relay'``, forced by an
init script: the web client itself is unchanged and uses the ``iceServers`` from its ``join``
answer, i.e. the server's short-lived TURN credentials). coturn runs on 127.0.0.1 with the
server's secret (tests/support/turn.py). The judge in the browser and a party (an aiortc
client, relay-only too) see each other; both of the browser's connections run on a relay
candidate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect
from test_browser_hearing import assert_video_playing

from hearing_server.config import Settings
from hearing_server.core.participant import Role
from signaling.client import HearingClient
from support.hearing import make_hearing
from support.media import ColourVideoTrack, ToneAudioTrack, TrackConsumer
from support.turn import TurnServer, start_or_skip
from support.waiting import eventually

pytestmark = pytest.mark.browser

SECRET = "browser-turn-test-secret-at-least-32-chars"

# Every peer connection the page makes is relay-only, as on a network that blocks the rest.
RELAY_ONLY = """
(() => {
  const Native = window.RTCPeerConnection;
  window.relayPcs = [];
  window.RTCPeerConnection = class extends Native {
    constructor(config, ...rest) {
      super({ ...(config || {}), iceTransportPolicy: 'relay' }, ...rest);
      window.relayPcs.push(this);
    }
  };
})();
"""

# The local candidate type of each connected peer connection's selected pair.
SELECTED = """
async () => {
  const out = [];
  for (const pc of window.relayPcs) {
    if (pc.connectionState !== 'connected') continue;
    const stats = await pc.getStats();
    let pairId = null;
    stats.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
    });
    const pair = pairId && stats.get(pairId);
    const local = pair && stats.get(pair.localCandidateId);
    out.push({ type: local ? local.candidateType : null,
               bytes: pair ? pair.bytesReceived + pair.bytesSent : 0 });
  }
  return out;
}
"""


@pytest.fixture
def turn() -> Iterator[TurnServer]:
    server = start_or_skip(SECRET)
    yield server
    server.stop()


@pytest.fixture
def settings(settings: Settings, turn: TurnServer) -> Settings:
    return dataclasses.replace(settings, turn_urls=[turn.url("udp")], turn_secret=SECRET)


async def test_relay_only_browser_sees_and_is_seen_through_coturn(
    server: TestServer, launch: Any, turn: TurnServer
) -> None:
    _, people = await make_hearing(
        server.app, [(Role.JUDGE, "王审判员"), (Role.PARTY, "张三")], state="in_session"
    )
    judge_p, party_p = people["王审判员"], people["张三"]
    base = f"http://127.0.0.1:{server.port}"
    judge = await launch("judge", "judge", width=1440, height=900)
    await judge.page.add_init_script(RELAY_ONLY)
    party = HearingClient(base, party_p.token, relay_only=True)
    consumer: TrackConsumer | None = None
    try:
        await party.connect()
        await party.join()
        await party.publish([ColourVideoTrack((40, 200, 40)), ToneAudioTrack(700.0)])
        await judge.page.goto(f"{base}/join#token={judge_p.token}")
        await expect(judge.page.locator(".screen.console")).to_be_visible()
        await assert_video_playing(judge.page, party_p.id, "the relay-only judge")
        video = await party.wait_for_track(judge_p.id, "video", timeout=30)
        consumer = TrackConsumer(video)

        async def party_sees_judge() -> Any:
            return consumer.state.frames >= 10 if consumer else False

        await eventually(party_sees_judge, timeout=30, what="the party to see the judge")

        async def both_relayed() -> Any:
            pcs = await judge.page.evaluate(SELECTED)
            ok = len(pcs) == 2 and all(p["type"] == "relay" and p["bytes"] > 0 for p in pcs)
            return pcs if ok else None

        await eventually(
            both_relayed, timeout=30, what="both of the browser's connections on a relay"
        )
    finally:
        if consumer is not None:
            await consumer.stop()
        await party.close()
