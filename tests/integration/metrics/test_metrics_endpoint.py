"""/metrics on a real server: the token guards it, and the numbers follow real media.

Real server, real socket.io signaling, a real aiortc publisher (the judge) and subscriber
(a party) on loopback; the exposition is parsed with prometheus_client's own parser.
"""

from __future__ import annotations

import dataclasses
import stat
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from hearing_server.app import create_app
from hearing_server.config import Settings
from hearing_server.core.participant import Role
from hearing_server.keys import PLACEMENT, SETTINGS
from signaling.client import HearingClient
from support.hearing import make_hearing
from support.media import ColourVideoTrack, ToneAudioTrack, TrackConsumer
from support.waiting import eventually

MakeClient = Callable[..., HearingClient]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # the load monitor runs only with shedding on; its lag and level are metrics
    return dataclasses.replace(settings, overload_shedding=True)


def _token(server: TestServer) -> str:
    """The default token: generated into the data dir, owner-only, on the first start."""
    path = server.app[SETTINGS].metrics_token_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return path.read_text(encoding="ascii").strip()


async def _get(server: TestServer, headers: dict[str, str]) -> tuple[int, str, str]:
    async with (
        ClientSession() as http,
        http.get(f"http://127.0.0.1:{server.port}/metrics", headers=headers) as resp,
    ):
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


async def _scrape(server: TestServer) -> Samples:
    status, content_type, text = await _get(server, {"Authorization": f"Bearer {_token(server)}"})
    assert status == 200, text
    assert content_type.startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer"}, 401),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401),
        ({"Authorization": "Bearer not-the-metrics-token"}, 403),
        ({"Authorization": "Bearer 令牌"}, 403),
        # the admin key opens the API, not the metrics
        ({"X-API-Key": "test-admin-key-0123456789abcdef0123456789"}, 401),
    ],
)
async def test_without_the_token_nothing_is_disclosed(
    server: TestServer, headers: dict[str, str], status: int
) -> None:
    got, content_type, text = await _get(server, headers)
    assert got == status
    assert content_type.startswith("application/json")
    assert "hearing_server_" not in text


async def test_a_configured_token_replaces_the_generated_one(
    aiohttp_server: Callable[..., Awaitable[TestServer]], settings: Settings
) -> None:
    token = "court-prometheus-0123456789"
    server = await aiohttp_server(
        create_app(dataclasses.replace(settings, metrics_token=token)), host="127.0.0.1"
    )
    assert (await _get(server, {"Authorization": f"Bearer {token}"}))[0] == 200
    assert (await _get(server, {"Authorization": f"Bearer {token}x"}))[0] == 403
    assert not settings.metrics_token_path.exists()  # nothing generated


async def test_openapi_lists_metrics_with_bearer_security(server: TestServer) -> None:
    async with (
        ClientSession() as http,
        http.get(f"http://127.0.0.1:{server.port}/api/openapi.json") as resp,
    ):
        spec = await resp.json()
    op = spec["paths"]["/metrics"]["get"]
    assert op["security"] == [{"bearer": []}]
    assert "text/plain" in op["responses"]["200"]["content"]


async def test_counters_and_gauges_follow_a_real_hearing(
    server: TestServer, make_client: MakeClient
) -> None:
    _, people = await make_hearing(
        server.app, [(Role.JUDGE, "王法官"), (Role.PARTY, "张三")], state="in_session"
    )
    idle = await _scrape(server)
    assert idle[("hearing_server_participants_connected", (("role", "judge"),))] == 0
    assert idle[("hearing_server_media_forwarded_packets_total", ())] == 0

    judge = make_client(people["王法官"].token)
    party = make_client(people["张三"].token)
    consumers: list[TrackConsumer] = []
    try:
        await judge.connect()
        await judge.join()
        await judge.publish([ColourVideoTrack((220, 40, 40)), ToneAudioTrack(440.0)])
        await party.connect()
        await party.join()  # subscribes only
        for kind in ("video", "audio"):
            track = await party.wait_for_track(people["王法官"].id, kind, timeout=20)
            consumers.append(TrackConsumer(track))

        async def flowing() -> Samples | None:
            s = await _scrape(server)
            return s if s[("hearing_server_media_forwarded_packets_total", ())] > 50 else None

        first = await eventually(flowing, timeout=20, what="forwarded packets in /metrics")
        assert first[("hearing_server_participants_connected", (("role", "judge"),))] == 1
        assert first[("hearing_server_participants_connected", (("role", "party"),))] == 1
        assert first[("hearing_server_participants_connected", (("role", "clerk"),))] == 0
        assert first[("hearing_server_hearings_live", (("state", "in_session"),))] == 1
        assert first[("hearing_server_hearings_live", (("state", "open"),))] == 0
        assert first[("hearing_server_hearings_served", ())] == 1  # placed on this node
        assert first[("hearing_server_node_draining", ())] == 0
        node = server.app[PLACEMENT].node.id
        assert any(k[0] == "hearing_server_build_info" and ("node", node) in k[1] for k in first)
        assert first[("hearing_server_media_publishers", ())] == 1
        assert first[("hearing_server_media_subscribers", ())] == 2
        # the judge's audio and video, attached at the party (the judge receives nobody)
        assert first[("hearing_server_media_subscriptions", ())] == 2
        assert first[("hearing_server_media_received_packets_total", ())] > 0
        assert first[("hearing_server_media_forwarded_bytes_total", ())] > 0
        assert first[("hearing_server_media_encoded_frames_total", ())] == 0  # forwarded only
        assert first[("hearing_server_recordings_active", ())] == 1  # in session: recorded
        assert ("hearing_server_recording_queue_frames", ()) in first
        assert first[("hearing_server_load_level", ())] in (0, 1, 2, 3)
        assert first[("process_resident_memory_bytes", ())] > 0

        async def grown() -> Samples | None:
            s = await _scrape(server)
            keys = (
                "hearing_server_media_forwarded_packets_total",
                "hearing_server_media_forwarded_bytes_total",
                "hearing_server_media_received_packets_total",
            )
            return s if all(s[(k, ())] > first[(k, ())] for k in keys) else None

        second = await eventually(grown, timeout=20, what="the packet counters to grow")
        # a packet forwarded to the party was received from the judge first
        assert (
            second[("hearing_server_media_forwarded_packets_total", ())]
            <= second[("hearing_server_media_received_packets_total", ())]
        )
        assert all(c.state.frames > 0 for c in consumers)

        async def lag_reported() -> Samples | None:
            s = await _scrape(server)
            return s if ("hearing_server_event_loop_lag_seconds", (("stat", "p95"),)) in s else None

        lag = await eventually(lag_reported, timeout=10, what="the event loop's lag")
        assert 0 <= lag[("hearing_server_event_loop_lag_seconds", (("stat", "p95"),))] < 30

        await party.call("leave")

        async def party_gone() -> Samples | None:
            s = await _scrape(server)
            gone = s[("hearing_server_participants_connected", (("role", "party"),))] == 0
            return s if gone else None

        after = await eventually(party_gone, timeout=20, what="the party to leave the gauges")
        assert after[("hearing_server_participants_connected", (("role", "judge"),))] == 1
    finally:
        for c in consumers:
            await c.stop()
