"""The judge starts the livestream from the console; a viewer watches it in Chromium with
hls.js: the list shows it, the watch page plays it (time advances, frames decode), and the
judge's cut shows the paused badge while the slate keeps the player going."""

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
# The text of every cue the page's text tracks hold (hls.js renders WebVTT into one).
CUES = """v => [...v.textTracks].flatMap(
    t => t.mode !== 'disabled' && t.cues ? [...t.cues].map(c => c.text) : [])"""
# Long enough for the recogniser (on a loaded machine) to finish before the segment is due,
# as with the default 30 s.
DELAY = 15


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(
        settings,
        composite_enabled=True,
        court_timezone="Asia/Shanghai",
        recording_auto_start=False,
        livestream_segment_seconds=2.0,
        livestream_delay_seconds=float(DELAY),
        # The judge's fake microphone says "The court is in session..." (flite, English): real
        # captions from the real recogniser, delayed with the stream.
        transcription_enabled=True,
        transcription_language="en",
    )


async def test_viewer_plays_the_livestream(
    server: TestServer,
    launch: Any,
    artifacts: Path,
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    hid, people = await make_hearing(
        server.app, [(Role.JUDGE, "王审判员"), (Role.PARTY, "张三")], state="in_session"
    )
    base = f"http://127.0.0.1:{server.port}"
    clients: list[HearingClient] = []
    try:
        for name, colour, tone in (("张三", (40, 200, 40), 700.0),):
            c = HearingClient(base, people[name].token)
            clients.append(c)
            await c.connect()
            await c.join()
            await c.publish([ColourVideoTrack(colour), ToneAudioTrack(tone)])
        # The judge starts the stream from the console (default delay from the settings).
        judge = await launch("judge", "judge", width=1280, height=800)
        await judge.page.goto(f"{base}/join#token={people['王审判员'].token}")
        start = judge.page.locator('[data-action="livestream-start"]')
        await expect(start).to_be_visible(timeout=30_000)
        state_line = judge.page.locator('[data-testid="livestream-state"]')
        deadline = time.monotonic() + 30
        while True:  # the composite starts a moment after the session
            await start.click()
            try:
                await expect(state_line).to_have_attribute("data-state", "live", timeout=2_000)
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                await expect(start).to_be_enabled(timeout=10_000)

        await judge.page.screenshot(path=str(artifacts / "livestream-console-1280x800.png"))
        viewer = await launch("viewer", "display", width=390, height=844, mobile=True)
        page = viewer.page
        await page.goto(f"{base}/watch")
        entry = page.locator(f'#hearings a[href="/watch/{hid}"]')
        await expect(entry).to_be_visible(timeout=30_000)
        await expect(entry.locator(".badge")).to_have_attribute("data-state", "live")
        await entry.click()
        await expect(page.locator("#title")).to_have_text("测试庭审", timeout=30_000)

        video = page.locator("#player")
        state: dict[str, Any] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = await video.evaluate(
                """v => ({t: v.currentTime, w: v.videoWidth, h: v.videoHeight,
                          frames: v.getVideoPlaybackQuality().totalVideoFrames,
                          hls: !!(window.watchPage && window.watchPage.player),
                          err: v.error && v.error.message})"""
            )
            if state["t"] > 3 and state["frames"] > 30:
                break
            await page.wait_for_timeout(500)
        assert state.get("hls"), state
        assert state["t"] > 3 and state["frames"] > 30, state
        assert (state["w"], state["h"]) == (1280, 720), state
        t_before = state["t"]
        await page.wait_for_timeout(2000)
        assert await video.evaluate("v => v.currentTime") > t_before  # still advancing
        await expect(page.locator("#viewers")).to_contain_text("1", timeout=30_000)
        # Captions are off until the viewer switches them on; then the live transcript shows.
        assert await video.evaluate(CUES) == []
        await page.click("#captions")
        await expect(page.locator("#captions")).to_have_attribute("aria-pressed", "true")
        deadline = time.monotonic() + 90
        cues: list[str] = []
        while time.monotonic() < deadline:
            cues = await video.evaluate(CUES)
            if any("session" in c.lower() for c in cues):
                break
            await page.wait_for_timeout(500)
        published = "".join(
            p.read_text() for p in (settings.effective_livestream_dir / hid).glob("public/*.vtt")
        )
        assert any("session" in c.lower() for c in cues), (cues, published)
        await page.screenshot(path=str(artifacts / "livestream-watch-390x844.png"))

        await judge.page.locator('[data-action="livestream-cut"]').click()
        await expect(state_line).to_have_attribute("data-state", "cut", timeout=30_000)
        await expect(page.locator(".watch-status .badge")).to_have_attribute(
            "data-state", "paused", timeout=30_000
        )
        # The slate keeps the player going.
        t_cut = await video.evaluate("v => v.currentTime")
        await page.wait_for_timeout(DELAY * 1000 + 4000)
        state = await video.evaluate("v => ({t: v.currentTime, err: v.error && v.error.message})")
        assert state["t"] > t_cut + 2 and not state["err"], state
        await page.screenshot(path=str(artifacts / "livestream-paused-390x844.png"))
        await page.click("text=EN")
        await expect(page.locator(".watch-status .badge")).to_have_text("Paused")
        missing = await page.evaluate("import('/static/i18n.js').then(m => [...m.missingKeys])")
        assert missing == [], missing
        # The judge allows a replay and stops; the viewer can watch what was published.
        await judge.page.locator('[data-action="livestream-allow_replay"]').click()
        await expect(
            judge.page.locator('[data-action="livestream-withdraw_replay"]')
        ).to_be_visible()
        await judge.page.locator('[data-action="livestream-stop"]').click()
        await expect(state_line).to_have_attribute("data-state", "not_live", timeout=30_000)
        await page.reload()
        await expect(page.locator(".watch-status .badge")).to_have_attribute(
            "data-state", "replay", timeout=30_000
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if await video.evaluate("v => v.currentTime") > 2:
                break
            await page.wait_for_timeout(500)
        assert await video.evaluate("v => v.currentTime") > 2
        judge_missing = await judge.page.evaluate("[...window.hearingApp.missingKeys]")
        assert judge_missing == [], judge_missing
    finally:
        for c in clients:
            await c.close()
