"""The transcript in the staff's browsers: the clerk reads and corrects it, the judge marks it
final once the hearing is closed, both download it. Segments go in through the app's
TranscriptService (no speech), so the test is fast. Screenshots go to test-artifacts/."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import webvtt
from aiohttp.test_utils import TestServer
from playwright.async_api import Locator, Page, expect

from hearing_server.core.actors import Actor
from hearing_server.core.participant import Role
from hearing_server.keys import STORE, TRANSCRIPTS
from support.hearing import Person, make_hearing
from transcription.segments import SegmentStatus, TranscriptSegment

pytestmark = pytest.mark.browser

MISHEARD = "我请求被告返还接款五万元。"
CORRECTED = "我请求被告返还借款五万元。"
GAP_DETAIL = "4.5 s of audio dropped"
# What the zh-CN catalogue says (Chinese punctuation on purpose).
REASON_LINE = "更正理由：已核对庭审录音"  # noqa: RUF001
STILL_RECOGNISING = "仍在识别庭审语音，请稍后再试。"  # noqa: RUF001
NOW_FINAL = "笔录已定稿，不能再更正。"  # noqa: RUF001

# What the page's own fetch of the API answers (the token is in the tab's storage).
API_CALL = """
async ([method, path]) => {
  const token = sessionStorage.getItem('hearing.joinToken');
  const resp = await fetch(path, {method, headers: {Authorization: `Bearer ${token}`}});
  return {status: resp.status, body: await resp.json().catch(() => null)};
}
"""

# Every key of one catalogue is in the other.
CATALOGUES_MATCH = """
async () => {
  const {CATALOGUE} = await import('/static/i18n.js');
  const zh = Object.keys(CATALOGUE['zh-CN']);
  const en = Object.keys(CATALOGUE.en);
  return {onlyZh: zh.filter((k) => !en.includes(k)), onlyEn: en.filter((k) => !zh.includes(k))};
}
"""


def segment(
    hearing_id: str,
    who: Person,
    origin: datetime,
    start: float,
    end: float,
    text: str,
    *,
    status: SegmentStatus = SegmentStatus.OK,
    late: bool = False,
    detail: str = "",
) -> TranscriptSegment:
    return TranscriptSegment(
        hearing_id=hearing_id,
        participant_id=who.id,
        name=who.name,
        role=who.role.value,
        start=start,
        end=end,
        start_at=origin + timedelta(seconds=start),
        text=text,
        engine="test",
        language="zh",
        status=status,
        late=late,
        detail=detail,
    )


def row(page: Page, seq: int) -> Locator:
    return page.locator(f".tseg[data-seq='{seq}']")


async def assert_no_horizontal_scroll(page: Page, where: str) -> None:
    widths = await page.evaluate(
        "({page: document.documentElement.scrollWidth, viewport: window.innerWidth})"
    )
    assert widths["page"] <= widths["viewport"], (where, widths)


async def test_clerk_corrects_judge_finalises_staff_download(
    server: TestServer, launch: Any, artifacts: Path
) -> None:
    app = server.app
    hearing_id, people = await make_hearing(
        app,
        [(Role.JUDGE, "王审判员"), (Role.CLERK, "李书记员"), (Role.PARTY, "张三")],
        state="in_session",
    )
    judge_p, clerk_p, party_p = people["王审判员"], people["李书记员"], people["张三"]
    transcripts = app[TRANSCRIPTS]
    origin = (await app[STORE].get_hearing(hearing_id)).actual_start
    assert origin is not None

    async def record(*args: Any, **kw: Any) -> int:
        return await transcripts.record_segment(segment(hearing_id, *args, **kw))

    opening = await record(judge_p, origin, 2.0, 6.5, "现在开庭。请原告陈述诉讼请求。")
    claim = await record(party_p, origin, 8.0, 12.0, MISHEARD)
    failed = await record(
        party_p, origin, 13.0, 15.0, "", status=SegmentStatus.FAILED, detail="engine error"
    )
    gap = await record(party_p, origin, 15.5, 20.0, "", status=SegmentStatus.GAP, detail=GAP_DETAIL)
    answer = await record(judge_p, origin, 21.0, 23.0, "请被告答辩。", late=True)
    base = f"http://127.0.0.1:{server.port}"

    # -- the clerk reads the transcript in the console ---------------------------------------
    clerk = await launch("clerk", "party", width=1440, height=900)
    cp = clerk.page
    await cp.goto(f"{base}/join#token={clerk_p.token}")
    await expect(cp.locator(".screen.console")).to_be_visible()
    await cp.click("[data-tab='transcript']")
    await expect(cp.locator(".tseg")).to_have_count(5)
    first = row(cp, opening)
    await expect(first.locator(".tseg-text")).to_have_text("现在开庭。请原告陈述诉讼请求。")
    await expect(first.locator(".tseg-name")).to_have_text("王审判员")
    await expect(first.locator(".tseg-role")).to_have_text("审判员")
    await expect(first.locator(".tseg-clock")).to_have_text("00:00:02")
    wall = (origin + timedelta(seconds=2)).astimezone(ZoneInfo("Asia/Shanghai"))
    await expect(first.locator(".tseg-wall")).to_have_text(wall.strftime("%H:%M:%S"))
    await expect(row(cp, claim).locator(".tseg-role")).to_have_text("原告")
    # Lost speech is on the record as such.
    await expect(row(cp, failed)).to_have_attribute("data-status", "failed")
    await expect(row(cp, failed).locator(".tseg-note")).to_contain_text("未能识别")
    await expect(row(cp, gap).locator(".ttag[data-tag='gap']")).to_have_text("音频丢失")
    await expect(row(cp, gap).locator(".tseg-note")).to_contain_text(GAP_DETAIL)
    await expect(row(cp, answer).locator(".ttag[data-tag='late']")).to_be_visible()
    await expect(cp.locator(".tsummary")).to_contain_text("共 5 段")
    # Judicial controls are not the clerk's.
    await expect(cp.locator("[data-action='finalise']")).to_have_count(0)
    await expect(cp.locator(".tbadge[data-kind='pending']")).to_have_count(0)

    # It follows the hearing: new segments appear, and it says while recognition runs.
    transcripts.begin_recognition(hearing_id)
    later = await record(judge_p, origin, 30.0, 33.0, "原告请出示证据。")
    await expect(row(cp, later)).to_be_visible(timeout=10_000)
    await expect(cp.locator(".tbadge[data-kind='pending']")).to_be_visible()
    await expect(cp.locator(".tnotice[data-kind='pending']")).to_contain_text("识别仍在进行中")
    transcripts.end_recognition(hearing_id)
    await expect(cp.locator(".tbadge[data-kind='pending']")).to_have_count(0, timeout=10_000)

    # The clerk corrects the misheard claim, with a reason.
    claim_row = row(cp, claim)
    await claim_row.locator("[data-action='edit-segment']").click()
    form = claim_row.locator("form.tseg-edit")
    await form.locator("textarea").fill("  ")
    await form.locator("[data-action='save-correction']").click()
    await expect(form.locator(".form-error")).to_have_text("更正后的文字不能为空。")
    await form.locator("textarea").fill(CORRECTED)
    await form.locator("input[data-field='reason']").fill("已核对庭审录音")
    await cp.screenshot(path=str(artifacts / "clerk-transcript-correcting-1440x900.png"))
    await form.locator("[data-action='save-correction']").click()
    await expect(form).to_have_count(0)
    await expect(claim_row.locator(".tseg-text")).to_have_text(CORRECTED)
    await expect(claim_row.locator(".tseg-original del")).to_have_text(MISHEARD)
    await expect(claim_row.locator(".tseg-reason")).to_have_text(REASON_LINE)
    await expect(claim_row.locator(".tseg-by")).to_contain_text("李书记员")
    await expect(claim_row).to_have_attribute("data-corrected", "true")
    stored = await transcripts.get_transcript(Actor.system(), hearing_id)
    line = stored.line(claim)
    assert line is not None and line.text == CORRECTED and line.original_text == MISHEARD
    await cp.locator(".console-side").evaluate("el => { el.scrollTop = 0; }")
    await cp.mouse.move(5, 5)  # no hover effects in the picture
    await cp.screenshot(path=str(artifacts / "clerk-transcript-1440x900.png"))
    await cp.set_viewport_size({"width": 390, "height": 844})
    await assert_no_horizontal_scroll(cp, "console at phone width")
    await cp.screenshot(path=str(artifacts / "clerk-transcript-390x844.png"), full_page=True)
    await cp.set_viewport_size({"width": 1440, "height": 900})

    # -- the judge: no final mark while the hearing runs --------------------------------------
    judge = await launch("judge", "judge", width=1440, height=900)
    jp = judge.page
    await jp.goto(f"{base}/join#token={judge_p.token}")
    await jp.click("[data-tab='transcript']")
    await expect(jp.locator(".tseg")).to_have_count(6)
    finalise = jp.locator("[data-action='finalise']")
    await expect(finalise).to_be_disabled()
    await expect(jp.locator(".tfinalise-hint")).to_have_text("闭庭或宣布延期审理后才能定稿。")
    await expect(jp.locator("[data-action='edit-segment']")).to_have_count(0)
    await jp.screenshot(path=str(artifacts / "judge-transcript-live-1440x900.png"))
    refused = await jp.evaluate(API_CALL, ["POST", "/api/me/transcript/finalise"])
    assert refused["status"] == 409 and refused["body"]["code"] == "hearing_not_closed"

    # The judge closes the hearing (speech is still being recognised when it does): both
    # consoles become the record of the hearing.
    transcripts.begin_recognition(hearing_id)
    await jp.click("[data-tab='hearing']")
    await jp.click("[data-hearing-action='close']")
    await jp.click("[data-hearing-action='close']")
    await expect(jp.locator(".screen.record")).to_be_visible()
    await expect(cp.locator(".screen.record")).to_be_visible()
    await expect(cp.locator(".tseg")).to_have_count(6)
    # The clerk starts another correction...
    answer_row = row(cp, answer)
    await answer_row.locator("[data-action='edit-segment']").click()

    # ... while the judge marks it final: refused while speech is still being recognised.
    await expect(jp.locator(".tbadge[data-kind='pending']")).to_be_visible()
    await expect(jp.locator(".tfinalise-hint")).to_contain_text("识别仍在进行中")
    finalise = jp.locator("[data-action='finalise']")
    await expect(finalise).to_be_enabled()
    await finalise.click()
    await finalise.click()
    await expect(jp.locator(".tmsg")).to_have_text(STILL_RECOGNISING)
    transcripts.end_recognition(hearing_id)
    await expect(jp.locator(".tbadge[data-kind='pending']")).to_have_count(0, timeout=10_000)
    await finalise.click()
    await finalise.click()
    await expect(jp.locator(".tmsg")).to_have_text("笔录已定稿。")
    await expect(jp.locator(".transcript-panel")).to_have_attribute("data-final", "true")
    await expect(jp.locator(".tbadge[data-kind='final']")).to_have_text("已定稿")
    await expect(jp.locator(".tnotice[data-kind='final']")).to_contain_text("王审判员")
    await expect(finalise).to_be_hidden()
    stored = await transcripts.get_transcript(Actor.system(), hearing_id)
    assert stored.finalised is not None

    # The clerk's correction is refused, clearly; the view then shows the final transcript.
    form = answer_row.locator("form.tseg-edit")
    await form.locator("textarea").fill("请被告进行答辩。")
    await form.locator("[data-action='save-correction']").click()
    await expect(form.locator(".form-error")).to_have_text(NOW_FINAL)
    await expect(cp.locator(".tbadge[data-kind='final']")).to_be_visible()
    await form.locator("[data-action='cancel-correction']").click()
    await expect(cp.locator("[data-action='edit-segment']")).to_have_count(0)
    await expect(answer_row.locator(".tseg-text")).to_have_text("请被告答辩。")

    # -- downloads: the server's file, saved under the server's name --------------------------
    async with cp.expect_download() as pdf_info:
        await cp.click("[data-download='pdf']")
    pdf = await pdf_info.value
    assert pdf.suggested_filename == "transcript-_2026_京0105民初12345号.pdf"
    with open(await pdf.path(), "rb") as f:  # noqa: ASYNC230 (a local file of a few kB)
        assert f.read(5) == b"%PDF-"
    async with jp.expect_download() as vtt_info:
        await jp.click("[data-download='vtt']")
    vtt = await vtt_info.value
    assert vtt.suggested_filename.endswith(".vtt")
    captions = webvtt.read(str(await vtt.path()))
    texts = [c.text for c in captions]
    assert len(captions) == 6, texts
    assert any(CORRECTED in t for t in texts), texts
    assert any("audio lost" in t for t in texts), texts

    # -- the party opening their link sees the usual message, not the record ------------------
    party_page = await judge.context.new_page()
    await party_page.goto(f"{base}/join#token={party_p.token}")
    await expect(party_page.locator(".screen.message h1")).to_have_text("庭审已结束")
    await expect(party_page.locator(".transcript-panel")).to_have_count(0)
    await party_page.close()

    # -- the clerk opening the link again reaches the record; a phone width works too -------
    await cp.goto(f"{base}/join#token={clerk_p.token}")
    await expect(cp.locator(".screen.record .tseg")).to_have_count(6)
    await expect(cp.locator(".tbadge[data-kind='final']")).to_be_visible()
    await cp.set_viewport_size({"width": 390, "height": 844})
    await assert_no_horizontal_scroll(cp, "record at phone width")
    await cp.screenshot(path=str(artifacts / "clerk-record-390x844.png"), full_page=True)
    await cp.set_viewport_size({"width": 1440, "height": 900})
    await cp.screenshot(path=str(artifacts / "clerk-record-final-1440x900.png"), full_page=True)

    # English as well.
    await cp.locator(".lang-btn[lang='en']").click()
    await expect(cp.locator(".transcript-panel h2")).to_have_text("Transcript")
    await expect(row(cp, claim).locator(".ttag[data-tag='corrected']")).to_have_text("Corrected")
    await expect(row(cp, gap).locator(".tseg-note")).to_contain_text("Audio lost")
    await expect(cp.locator(".tbadge[data-kind='final']")).to_have_text("Final")
    await expect(cp.locator(".record-times dt")).to_have_text(["Started", "Ended"])
    await expect(cp.locator(".record-times dd").first).to_contain_text(str(wall.year))
    await cp.screenshot(path=str(artifacts / "clerk-record-en-1440x900.png"), full_page=True)

    assert await cp.evaluate(CATALOGUES_MATCH) == {"onlyZh": [], "onlyEn": []}
    for person in (clerk, judge):
        missing = await person.page.evaluate("[...window.hearingApp.missingKeys]")
        assert missing == [], f"{person.name}: missing i18n keys {missing}"
        errors = [line for line in person.logs if line.startswith("[pageerror]")]
        assert errors == [], f"{person.name}: {errors}"
