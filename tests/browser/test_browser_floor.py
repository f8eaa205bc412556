"""Raised hands in Chromium: two parties on phones raise their hands, the judge's console
lists them in the order they went up, the judge gives the first the floor (their microphone
opens, they are pinned on the courtroom display) and lowers the other's hand. Screenshots go to
test-artifacts/."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from hearing_server.core.participant import PartySide, Role
from hearing_server.keys import HEARINGS, STORE
from support.hearing import STAFF, Person, make_hearing
from support.journey import walk_in

pytestmark = pytest.mark.browser

SERVER_S = 30_000


async def test_the_judge_takes_raised_hands_in_order(
    server: TestServer, launch: Any, artifacts: Path
) -> None:
    hid, people = await make_hearing(
        server.app, [(Role.JUDGE, "王法官"), (Role.PARTY, "张三")], state="in_session"
    )
    service = server.app[HEARINGS]
    li = await service.add_participant(
        STAFF, hid, role=Role.PARTY, display_name="李四", side=PartySide.DEFENDANT
    )
    _, token, _ = await service.issue_link(STAFF, li.id)
    people["李四"] = Person(li.id, Role.PARTY, "李四", token)
    base = f"http://127.0.0.1:{server.port}"
    judge, zhang, lisi = await asyncio.gather(
        launch("judge", "judge", width=1440, height=900),
        launch("zhang", "party", width=390, height=844, mobile=True),
        launch("lisi", "party", width=390, height=844, mobile=True),
    )
    await judge.page.goto(f"{base}/join#token={people['王法官'].token}")
    await expect(judge.page.locator(".screen.console")).to_be_visible()
    await asyncio.gather(
        walk_in(zhang.page, base, people["张三"].token),
        walk_in(lisi.page, base, people["李四"].token),
    )

    # 李四 first, then 张三: the console's queue keeps that order.
    await lisi.page.click("[data-action='hand']")
    await expect(lisi.page.locator("[data-action='hand']")).to_have_attribute(
        "aria-pressed", "true", timeout=SERVER_S
    )
    await zhang.page.click("[data-action='hand']")
    queue = judge.page.locator("[data-testid='hand-queue'] .hand-item")
    await expect(queue).to_have_count(2, timeout=SERVER_S)
    await expect(queue.nth(0)).to_contain_text("李四")
    await expect(queue.nth(1)).to_contain_text("张三")
    await expect(judge.page.locator(".counts")).to_contain_text("举手 2 人")
    await judge.page.screenshot(path=str(artifacts / "floor-1-queue-1440x900.png"))

    # The floor to 李四: hand down, pinned, first in nobody's queue any more.
    await queue.nth(0).locator("[data-action='grant-floor']").click()
    await expect(queue).to_have_count(1, timeout=SERVER_S)
    await expect(queue.nth(0)).to_contain_text("张三")
    row = judge.page.locator(f".prow[data-participant-id='{li.id}']")
    await expect(row.locator(".flag[data-flag='pinned']")).to_be_visible(timeout=SERVER_S)
    await expect(lisi.page.locator("[data-action='hand']")).to_have_attribute(
        "aria-pressed", "false", timeout=SERVER_S
    )
    await judge.page.screenshot(path=str(artifacts / "floor-2-granted-1440x900.png"))
    hearing = await server.app[STORE].get_hearing(hid)
    assert hearing.extra.get("spotlight") == li.id

    # 张三's hand is lowered without the floor; the queue disappears.
    await queue.nth(0).locator("[data-action='lower-hand']").click()
    await expect(judge.page.locator("[data-testid='hand-queue']")).to_be_hidden(timeout=SERVER_S)
    await expect(zhang.page.locator("[data-action='hand']")).to_have_attribute(
        "aria-pressed", "false", timeout=SERVER_S
    )
    # Unpin from the row; English labels.
    await row.locator("[data-action='unpin']").click()
    await expect(row.locator(".flag[data-flag='pinned']")).to_have_count(0, timeout=SERVER_S)
    await judge.page.click(".lang-btn[lang='en']")
    await expect(row.locator("[data-action='pin']")).to_have_text("Pin on display")
    for person in (judge, zhang, lisi):
        missing = await person.page.evaluate("[...window.hearingApp.missingKeys]")
        assert missing == [], f"{person.name}: missing i18n keys {missing}"
        assert not [line for line in person.logs if "[pageerror]" in line], person.logs
