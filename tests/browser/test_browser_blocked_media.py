"""A party whose browser refuses the camera and the microphone is never stuck: the self-test
shows what to do in this browser, the court's phone number and the ways forward; asking the
clerk for help reaches the clerk's console; the microphone alone, once allowed, takes them
through the waiting room into the hearing room by voice only. The blocked screen passes the
phone audit (test-artifacts/ui-audit/blocked-*)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import BrowserContext, Page, expect

from hearing_server.config import Settings
from hearing_server.core.participant import Role
from hearing_server.keys import LIVE
from support.hearing import STAFF, make_hearing
from support.journey import SERVER_MS
from support.ui_audit import Auditor

pytestmark = pytest.mark.browser

COURT_PHONE = "010-8765 4321"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, court_phone=COURT_PHONE)


async def set_permission(
    context: BrowserContext, page: Page, origin: str, name: str, setting: str
) -> None:
    """The browser's own per-site setting (what a person changes under the address bar's lock),
    through the DevTools protocol: a refused device is refused by Chromium itself."""
    cdp = await context.new_cdp_session(page)
    await cdp.send(
        "Browser.setPermission",
        {"permission": {"name": name}, "setting": setting, "origin": origin},
    )
    await cdp.detach()


async def test_refused_camera_and_microphone_lead_on_to_an_audio_only_hearing(
    server: TestServer, launch: Any, artifacts: Path
) -> None:
    base = f"http://127.0.0.1:{server.port}"
    hid, people = await make_hearing(
        server.app,
        [(Role.JUDGE, "王审判员"), (Role.CLERK, "李书记员"), (Role.PARTY, "张三")],
        state="open",
    )
    clerk = await launch("clerk", "judge", width=1024, height=700)
    await clerk.page.goto(f"{base}/join#token={people['李书记员'].token}")
    await expect(clerk.page.locator(".screen.console")).to_be_visible()
    party = people["张三"]
    person = await launch("party", "party", width=390, height=844, mobile=True, ask=True)
    page, context = person.page, person.context
    for device in ("camera", "microphone"):
        await set_permission(context, page, base, device, "denied")

    await page.goto(f"{base}/join#token={party.token}")
    card = page.locator("[data-testid='media-blocked']")
    await expect(card).to_be_visible(timeout=SERVER_MS)
    # Instructions for this browser (Chromium on "Linux": the generic ones), and the ways on.
    await expect(card.locator(".blocked-steps li")).to_have_count(2)
    await expect(page.locator("[data-action='continue']")).to_be_disabled()
    await expect(page.locator("[data-action='show-missing']")).to_contain_text("麦克风")
    out = artifacts / "ui-audit"
    out.mkdir(exist_ok=True)
    check = Auditor(page, person.logs, out)
    await check.screen("blocked-1")
    await page.locator(".lang-btn[lang='zh-CN']").tap()

    # The court's number, and the clerk told at once on their console.
    await expect(card.locator("[data-testid='court-phone']")).to_contain_text(COURT_PHONE)
    await card.locator("[data-action='ask-help']").tap()
    await expect(card.locator(".help-status")).to_contain_text("已通知书记员")
    help_alert = clerk.page.locator("[data-testid='help-alert']")
    await expect(help_alert).to_contain_text("张三", timeout=SERVER_MS)
    await expect(help_alert).to_contain_text("摄像头或麦克风")
    await clerk.page.screenshot(path=str(out / "blocked-help-on-clerk-console-1024x700.png"))

    # The microphone alone, still refused: then neither is offered as well.
    await page.locator("[data-action='audio-only']").tap()
    await expect(page.locator("[data-action='listen-only']")).to_be_visible()
    await expect(page.locator("[data-action='continue']")).to_be_disabled()

    # The person allows the microphone (as the instructions say) and asks again.
    await context.grant_permissions(["microphone"], origin=base)
    await page.locator("[data-action='audio-only']").tap()
    await expect(card.locator(".blocked-note")).to_contain_text("仅语音")
    await expect(page.locator(".check-status[data-result='fail']")).to_have_count(0)
    await page.locator("[data-action='play-tone']").tap()
    await page.locator("[data-action='heard']").tap()
    await check.screen("blocked-2-audio-only")
    person.logs.clear()  # the refusals were logged as warnings; errors are checked above
    await page.locator("[data-action='continue']").tap()
    await page.locator("[data-action='declare']").tap()
    await page.locator("[data-action='enter-waiting']").tap()
    await expect(page.locator("[data-testid='waiting-room']")).to_be_visible(timeout=SERVER_MS)
    # The server has them waiting (not only the page): then they can be admitted.
    waiting = page.locator(".waiting-status[data-i18n='waiting.admitSoon']")
    await expect(waiting).to_be_visible(timeout=SERVER_MS)

    await server.app[LIVE].admit(STAFF, hid, party.id)
    room = page.locator("[data-testid='hearing-room']")
    await expect(room).to_be_visible(timeout=SERVER_MS)
    # By voice: the microphone works, there is no camera to switch.
    await expect(page.locator("[data-action='mic']")).to_be_enabled()
    await expect(page.locator("[data-action='camera']")).to_be_disabled()
    await expect(page.locator("[data-action='camera']")).to_contain_text("Voice only")
    tracks = await page.evaluate(
        "() => { const s = window.hearingApp.session.localStream;"
        " return s ? s.getTracks().map((t) => t.kind) : []; }"
    )
    assert tracks == ["audio"], tracks
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path=str(out / "blocked-3-hearing-audio-only-390x844.png"))

    (out / "blocked-findings.json").write_text(
        json.dumps(check.findings, ensure_ascii=False, indent=1)
    )
    summary = "\n".join(json.dumps(f, ensure_ascii=False) for f in check.findings[:40])
    assert not check.findings, f"{len(check.findings)} findings:\n{summary}"
