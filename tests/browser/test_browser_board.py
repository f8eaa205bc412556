"""The clerk's board in Chromium: today's hearings with their people; a party whose speaker
check fails on a phone raises an alert the clerk sees at once and acknowledges; the clerk
jumps from the board into that hearing's console. Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from hearing_server.core.participant import Role
from support.hearing import make_hearing

pytestmark = pytest.mark.browser

SERVER_S = 30_000


async def test_the_clerk_sees_an_alert_acknowledges_it_and_opens_a_console(
    server: TestServer, launch: Any, artifacts: Path, admin_headers: dict[str, str]
) -> None:
    base = f"http://127.0.0.1:{server.port}"
    hid, people = await make_hearing(
        server.app,
        [(Role.JUDGE, "王法官"), (Role.CLERK, "赵书记员"), (Role.PARTY, "张三")],
        state="open",
    )
    other, _ = await make_hearing(server.app, [(Role.JUDGE, "周法官")], state="in_session")
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{base}/api/staff-tokens", json={"name": "赵书记员"}, headers=admin_headers
        ) as resp,
    ):
        assert resp.status == 201, await resp.text()
        staff = (await resp.json())["token"]

    clerk, party = await asyncio.gather(
        launch("clerk", "judge", width=1440, height=900),
        launch("party", "party", width=390, height=844, mobile=True),
    )
    board = clerk.page
    await board.goto(f"{base}/board#token={staff}")
    hearing = board.locator(f".board-hearing[data-hearing-id='{hid}']")
    await expect(hearing).to_be_visible(timeout=SERVER_S)
    await expect(board.locator(f".board-hearing[data-hearing-id='{other}']")).to_be_visible()
    zhang = hearing.locator(f".board-person[data-participant-id='{people['张三'].id}']")
    await expect(zhang).to_have_attribute("data-missing", "true")
    await expect(board.locator("[data-testid='board-alerts'] .board-alert")).to_have_count(0)

    # The party's speaker check fails: the board alerts the clerk.
    page = party.page
    await page.goto(f"{base}/join#token={people['张三'].token}")
    await expect(page.locator(".screen.flow[data-step='selftest']")).to_be_visible()
    await page.click("[data-action='play-tone']")
    await page.click("[data-action='not-heard']")
    alert = board.locator("[data-testid='board-alerts'] .board-alert[data-kind='unable_to_join']")
    await expect(alert).to_be_visible(timeout=SERVER_S)
    await expect(alert).to_contain_text("张三")
    await expect(alert).to_contain_text("speaker")
    await board.screenshot(path=str(artifacts / "board-1-alert-1440x900.png"))
    await alert.locator("[data-action='ack']").click()
    await expect(alert).to_have_count(0, timeout=SERVER_S)

    # From the board into the hearing's console, as its clerk, in a new tab.
    async with clerk.context.expect_page() as popup:
        await hearing.locator("[data-action='open-console']").click()
    console = await popup.value
    await expect(console.locator(".screen.console")).to_be_visible(timeout=SERVER_S)
    await expect(console.locator(".console-bar")).to_contain_text("(2026)京0105民初12345号")
    await board.click(".lang-btn[lang='en']")
    await expect(board.locator(".board-bar")).to_contain_text("Clerk's board")
    missing = await board.evaluate("[...window.hearingApp.missingKeys]")
    assert missing == [], f"missing i18n keys {missing}"
    assert not [line for line in clerk.logs if "[pageerror]" in line], clerk.logs
