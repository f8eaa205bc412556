"""The courtroom display page shows the server-composed view when the server sends it."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import aioice.ice
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from hearing_server.config import Settings
from hearing_server.core.participant import Role
from signaling.client import HearingClient
from support.hearing import make_hearing
from support.media import ColourVideoTrack, ToneAudioTrack

pytestmark = pytest.mark.browser


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The browsers run in Asia/Shanghai (conftest): the composite's clock must agree.
    return replace(settings, composite_enabled=True, court_timezone="Asia/Shanghai")


async def test_display_switches_to_composite(
    server: TestServer, launch: Any, artifacts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The publishers are Python clients in this process: they gather on loopback only.
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    _, people = await make_hearing(
        server.app,
        [
            (Role.JUDGE, "王审判员"),
            (Role.PARTY, "张三"),
            (Role.COURTROOM_DISPLAY, "第一法庭显示屏"),
        ],
        state="in_session",
    )
    base = f"http://127.0.0.1:{server.port}"
    clients = []
    try:
        for name, colour, tone in (
            ("王审判员", (220, 40, 40), 440.0),
            ("张三", (40, 200, 40), 700.0),
        ):
            c = HearingClient(base, people[name].token)
            clients.append(c)
            await c.connect()
            await c.join()
            await c.publish([ColourVideoTrack(colour), ToneAudioTrack(tone)])
        display = await launch("display", "display", width=1920, height=1080)
        await display.page.goto(f"{base}/join#token={people['第一法庭显示屏'].token}")
        video = display.page.locator("video.d-composite")
        await expect(video).to_be_visible(timeout=20_000)
        deadline = time.monotonic() + 20
        state: dict[str, float] = {}
        while time.monotonic() < deadline:
            state = await video.evaluate(
                "v => ({w: v.videoWidth, h: v.videoHeight, t: v.currentTime})"
            )
            if state["w"] == 1280 and state["t"] > 1.0:
                break
            await display.page.wait_for_timeout(250)
        assert state.get("w") == 1280 and state.get("h") == 720, state
        # No individual tiles while the composite shows.
        assert await display.page.locator(".stage .tile").count() == 0
        await display.page.wait_for_timeout(500)
        await display.page.screenshot(
            path=str(artifacts / "courtroom-display-composite-1920x1080.png")
        )
    finally:
        for c in clients:
            await c.close()
