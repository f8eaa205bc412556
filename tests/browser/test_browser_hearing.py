"""A judge and a party in real browsers: waiting room, admission, media both ways, mute with
lock, return to the waiting room; plus the courtroom display. Screenshots go to
test-artifacts/ (party 390x844, judge console 1440x900, courtroom display 1920x1080)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, expect

from hearing_server.core.participant import Role
from support.hearing import make_hearing
from support.waiting import eventually

pytestmark = pytest.mark.browser

# Frames of a tile's <video>: size, and how many new frames are presented within ~2 s.
VIDEO_PLAYING = """
async (pid) => {
  const v = document.querySelector(`.tile[data-participant-id="${pid}"] video`);
  if (!v) return {found: false};
  const t0 = v.currentTime;
  let frames = 0;
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, 2000);
    const step = () => {
      frames += 1;
      if (frames >= 8) { clearTimeout(timer); resolve(); } else v.requestVideoFrameCallback(step);
    };
    v.requestVideoFrameCallback(step);
  });
  return {found: true, width: v.videoWidth, height: v.videoHeight, frames,
          advanced: v.currentTime - t0, paused: v.paused};
}
"""

# Inbound RTP counters per publisher, from the page's subscribe connection (getStats).
INBOUND = """
async () => {
  const s = window.hearingApp.session;
  if (!s || !s.subscriber) return {};
  const stats = await s.subscriber.stats();
  const out = {};
  for (const [pid, e] of stats) out[pid] = {
    audio: e.audio ? e.audio.packetsReceived : null,
    video: e.video ? e.video.packetsReceived : null,
    level: e.audio ? e.audio.audioLevel : null,
  };
  return out;
}
"""


async def assert_video_playing(page: Page, pid: str, who: str) -> None:
    async def playing() -> Any:
        r = await page.evaluate(VIDEO_PLAYING, pid)
        ok = r.get("found") and r["width"] > 0 and r["frames"] >= 5 and r["advanced"] > 0.1
        return r if ok else None

    await eventually(playing, timeout=20, what=f"{who} to see {pid}'s video playing", interval=0.5)


async def assert_no_horizontal_scroll(page: Page, where: str) -> None:
    widths = await page.evaluate(
        "({page: document.documentElement.scrollWidth, body: document.body.scrollWidth,"
        " viewport: window.innerWidth})"
    )
    assert max(widths["page"], widths["body"]) <= widths["viewport"], (where, widths)


async def inbound(page: Page, pid: str, kind: str) -> int | None:
    stats = await page.evaluate(INBOUND)
    entry = stats.get(pid)
    return entry.get(kind) if entry else None


async def go_through_join_flow(party: Any, base: str, token: str, artifacts: Path) -> None:
    page = party.page
    await page.goto(f"{base}/join#token={token}")
    await expect(page.locator(".screen.flow[data-step='selftest']")).to_be_visible()
    # The token left the address bar.
    assert "token" not in page.url
    await expect(page.locator(".check-status[data-result='ok']").first).to_be_visible()
    await page.click("[data-action='play-tone']")
    await page.click("[data-action='heard']")
    await expect(page.locator(".check-status[data-result='ok']")).to_have_count(4, timeout=20_000)
    await assert_no_horizontal_scroll(page, "self-test")
    await page.screenshot(path=str(artifacts / "party-1-selftest-390x844.png"), full_page=True)
    await page.click("[data-action='continue']")
    await expect(page.locator(".screen.flow[data-step='rules']")).to_be_visible()
    enter = page.locator("[data-action='enter-waiting']")
    await expect(enter).to_be_disabled()
    await assert_no_horizontal_scroll(page, "rules")
    await page.check("[data-action='declare']")
    await enter.click()
    await expect(page.locator("[data-testid='waiting-room']")).to_be_visible()
    await assert_no_horizontal_scroll(page, "waiting room")


async def test_judge_admits_party_mutes_and_returns_them(
    server: TestServer, launch: Any, artifacts: Path
) -> None:
    hearing_id, people = await make_hearing(
        server.app,
        [
            (Role.JUDGE, "王审判员"),
            (Role.PARTY, "张三"),
            (Role.COURTROOM_DISPLAY, "第一法庭显示屏"),
            (Role.CLERK, "李书记员"),
        ],
        state="open",
    )
    started = time.monotonic()

    def phase(name: str) -> None:
        # Printed with the failure report: where the time went.
        print(f"{time.monotonic() - started:6.1f}s  {name}")

    judge_p, party_p = people["王审判员"], people["张三"]
    display_p, clerk_p = people["第一法庭显示屏"], people["李书记员"]
    base = f"http://127.0.0.1:{server.port}"

    judge, party, display = await asyncio.gather(
        launch("judge", "judge", width=1440, height=900),
        launch("party", "party", width=390, height=844, mobile=True),
        launch("display", "display", width=1920, height=1080),
    )

    phase("pages open; the party goes through the join flow")
    # The judge opens the console; the display its page; the party goes through the flow.
    await judge.page.goto(f"{base}/join#token={judge_p.token}")
    await display.page.goto(f"{base}/join#token={display_p.token}")
    await expect(judge.page.locator(".screen.console")).to_be_visible()
    await expect(display.page.locator(".screen.display")).to_be_visible()
    await go_through_join_flow(party, base, party_p.token, artifacts)

    party_row = judge.page.locator(f".prow[data-participant-id='{party_p.id}']")
    await expect(party_row).to_have_attribute("data-state", "waiting")
    phase("The waiting party receives nothing.")
    assert await party.page.evaluate("window.hearingApp.session.streams.size") == 0

    phase("Start the hearing, then admit the party.")
    await judge.page.click("[data-hearing-action='start']")
    await expect(judge.page.locator(".console-bar .badge")).to_have_attribute(
        "data-state", "in_session"
    )
    await party_row.locator("[data-action='admit']").click()
    await expect(party_row).to_have_attribute("data-state", "in_hearing")
    await expect(party.page.locator("[data-testid='hearing-room']")).to_be_visible()

    phase("video both ways and on the courtroom display")
    # Both see each other's video, and the courtroom display sees both.
    await assert_video_playing(judge.page, party_p.id, "the judge")
    await assert_video_playing(party.page, judge_p.id, "the party")
    await assert_video_playing(display.page, party_p.id, "the display")
    await assert_video_playing(display.page, judge_p.id, "the display")

    phase("The party's audio reaches the judge.")
    first = await eventually(
        lambda: inbound(judge.page, party_p.id, "audio"), timeout=10, what="party audio at judge"
    )
    await eventually(
        lambda: _rose(judge.page, party_p.id, "audio", first),
        timeout=10,
        what="party audio packets rising at the judge",
    )

    await asyncio.sleep(1.5)  # let tiles settle (speaker highlight, quality bars)
    await assert_no_horizontal_scroll(party.page, "hearing room")
    await party.page.screenshot(path=str(artifacts / "party-2-hearing-390x844.png"))
    await judge.page.screenshot(path=str(artifacts / "judge-console-1440x900.png"))
    await display.page.screenshot(path=str(artifacts / "courtroom-display-1920x1080.png"))

    phase("the party's connection drops and comes back")
    # The party's connection drops: a banner says so, the page reconnects by itself, joins
    # again and publishes again, and the judge sees the party again.
    await party.page.evaluate("window.hearingApp.session.socket.io.engine.close()")
    banner = party.page.locator(".banner")
    await expect(banner).to_be_visible()
    await expect(banner).to_have_attribute("data-kind", "ok")
    await expect(party_row).to_have_attribute("data-state", "in_hearing")
    await assert_video_playing(judge.page, party_p.id, "the judge (after the party reconnected)")
    await assert_video_playing(party.page, judge_p.id, "the party (after reconnecting)")

    phase("The judge mutes the party with a lock.")
    await party_row.locator("[data-action='mute-lock']").click()
    await expect(party_row.locator("[data-flag='locked']")).to_be_visible()
    mic = party.page.locator(".room [data-action='mic']")
    await expect(mic).to_be_disabled()
    await expect(party.page.locator(".lock-note")).to_be_visible()
    refused = await party.page.evaluate(
        """async (pid) => {
            try {
                await window.hearingApp.session.call('mute', {participant_id: pid, muted: false});
                return 'accepted';
            } catch (e) { return e.code; }
        }""",
        party_p.id,
    )
    assert refused == "mute_locked"
    phase("the party's audio stops reaching the judge")
    # Packets stop reaching the judge (allow what was in flight when the mute landed).
    await asyncio.sleep(1.0)
    before = await inbound(judge.page, party_p.id, "audio")
    await asyncio.sleep(2.0)
    after = await inbound(judge.page, party_p.id, "audio")
    assert before is not None and after is not None
    assert after - before <= 2, f"party audio still reaching the judge: {before} -> {after}"
    phase("... while the party's video still flows.")
    await assert_video_playing(judge.page, party_p.id, "the judge (after mute)")
    await party.page.screenshot(path=str(artifacts / "party-3-muted-390x844.png"))

    phase("the judge returns the party to the waiting room")
    # The judge returns the party to the waiting room: their media stops both ways.
    await party_row.locator("[data-action='return']").click()
    await expect(party_row).to_have_attribute("data-state", "waiting")
    await expect(party.page.locator("[data-testid='waiting-room']")).to_be_visible()
    await expect(judge.page.locator(f".tile[data-participant-id='{party_p.id}']")).to_have_count(0)
    await eventually(
        lambda: party.page.evaluate("window.hearingApp.session.streams.size === 0"),
        timeout=10,
        what="the party to stop receiving media",
    )
    await expect(display.page.locator(f".tile[data-participant-id='{party_p.id}']")).to_have_count(
        0
    )
    await party.page.screenshot(path=str(artifacts / "party-4-waiting-390x844.png"))

    phase("the party is admitted again")
    # Admitted again, the party is seen and heard again (the server reuses the media
    # section it retired, so Chromium never sees a duplicate msid).
    await party_row.locator("[data-action='admit']").click()
    await expect(party.page.locator("[data-testid='hearing-room']")).to_be_visible()
    await assert_video_playing(judge.page, party_p.id, "the judge (party readmitted)")
    await assert_video_playing(party.page, judge_p.id, "the party (readmitted)")

    phase("The language switch re-translates the page in place.")
    await party.page.locator(".room .lang-btn[lang='en']").click()
    await expect(party.page.locator(".room .where")).to_have_text("Hearing room")
    await expect(party.page.locator(".room [data-action='hand'] .ctl-label")).to_have_text(
        "Raise hand"
    )
    assert await party.page.evaluate("document.documentElement.lang") == "en"
    await party.page.screenshot(path=str(artifacts / "party-5-hearing-en-390x844.png"))

    phase("the clerk's console")
    # The clerk's console: the same list and states, no judicial actions.
    clerk = await judge.context.new_page()
    await clerk.goto(f"{base}/join#token={clerk_p.token}")
    clerk_row = clerk.locator(f".prow[data-participant-id='{party_p.id}']")
    await expect(clerk_row).to_have_attribute("data-state", "in_hearing")
    await expect(clerk.locator(".me-role")).to_have_text("书记员控制台")
    await expect(clerk_row.locator("button")).to_have_count(0)
    await expect(clerk.locator("[data-hearing-action='suspend']")).to_be_visible()
    await expect(clerk.locator("[data-hearing-action='close']")).to_have_count(0)
    await expect(clerk.locator("input[data-layout='grid']")).to_be_disabled()
    await clerk.close()

    phase("Every string the pages asked for is in the catalogue.")
    for person in (judge, party, display):
        missing = await person.page.evaluate("[...window.hearingApp.missingKeys]")
        assert missing == [], f"{person.name}: missing i18n keys {missing}"
        errors = [line for line in person.logs if line.startswith("[pageerror]")]
        assert errors == [], f"{person.name}: {errors}"
    assert hearing_id


async def _rose(page: Page, pid: str, kind: str, since: int) -> bool:
    now = await inbound(page, pid, kind)
    return now is not None and now > since
