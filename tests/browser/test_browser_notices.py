"""A notice reaches the waiting room in Chromium: the judge sends "the hearing starts in 10
minutes" from the console, the party waiting on a phone sees it at once (in Chinese, and in
English after switching), acknowledges it, and the console shows it delivered, then read.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from hearing_server.core.participant import Role
from support.hearing import make_hearing
from support.journey import walk_in

pytestmark = pytest.mark.browser

SERVER_S = 30_000


async def test_a_notice_reaches_the_waiting_room_and_is_read(
    server: TestServer, launch: Any, artifacts: Path
) -> None:
    _, people = await make_hearing(
        server.app, [(Role.JUDGE, "王法官"), (Role.PARTY, "张三")], state="open"
    )
    zhang_id = people["张三"].id
    base = f"http://127.0.0.1:{server.port}"
    judge, party = await asyncio.gather(
        launch("judge", "judge", width=1440, height=900),
        launch("party", "party", width=390, height=844, mobile=True),
    )
    await judge.page.goto(f"{base}/join#token={people['王法官'].token}")
    await expect(judge.page.locator(".screen.console")).to_be_visible()
    page = party.page
    await walk_in(page, base, people["张三"].token, room="waiting-room")
    row = judge.page.locator(f".prow[data-participant-id='{zhang_id}']")
    await expect(row.locator(".pstate[data-state='waiting']")).to_be_visible(timeout=SERVER_S)

    panel = judge.page.locator("[data-testid='notice-panel']")
    await panel.scroll_into_view_if_needed()
    await panel.locator("[data-field='audience']").select_option("waiting_room")
    await panel.locator("[data-field='template']").select_option("starting_soon")
    await panel.locator("[data-action='send-notice']").click()

    card = page.locator("[data-testid='notice']")
    await expect(card).to_be_visible(timeout=SERVER_S)
    await expect(card).to_contain_text("庭审将于10分钟后开始")
    await page.screenshot(path=str(artifacts / "notice-1-waiting-390x844.png"))
    item = panel.locator(".notice-item").first
    receipt = item.locator(f".receipt[data-participant-id='{zhang_id}']")
    await expect(receipt).to_have_attribute("data-status", "delivered", timeout=SERVER_S)
    await page.click(".lang-btn[lang='en']")
    await expect(card).to_contain_text("The hearing starts in 10 minutes")
    await page.click("[data-action='notice-ok']")
    await expect(card).to_be_hidden(timeout=SERVER_S)
    await expect(receipt).to_have_attribute("data-status", "read", timeout=SERVER_S)
    await expect(item.locator(".notice-count")).to_have_attribute("data-read", "1")
    await expect(item.locator(".notice-count")).to_contain_text("已读 1/1")
    await item.scroll_into_view_if_needed()
    await judge.page.screenshot(path=str(artifacts / "notice-2-console-read-1440x900.png"))
    # Own words to one person: the form takes a free text.
    await panel.locator("[data-field='audience']").select_option("participant")
    await panel.locator("[data-field='person']").select_option(zhang_id)
    await panel.locator("[data-field='template']").select_option("")
    await panel.locator("[data-field='text']").fill("请检查您的麦克风。")
    await panel.locator("[data-action='send-notice']").click()
    await expect(card).to_contain_text("请检查您的麦克风", timeout=SERVER_S)
    await judge.page.click(".lang-btn[lang='en']")
    await expect(panel.locator(".notice-item").nth(1).locator(".notice-count")).to_contain_text(
        "1/1 read"
    )
    for person in (judge, party):
        missing = await person.page.evaluate("[...window.hearingApp.missingKeys]")
        assert missing == [], f"{person.name}: missing i18n keys {missing}"
        assert not [line for line in person.logs if "[pageerror]" in line], person.logs
