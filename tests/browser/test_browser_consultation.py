"""A party consults counsel in private, in Chromium: 张三 (phone) asks 王律师 (phone), who
accepts; both see that they are in a consultation room and that the court cannot hear them;
the judge's console shows who is consulting (never what) and calls them back. Screenshots go to
test-artifacts/."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from hearing_server.core.participant import Role
from hearing_server.keys import HEARINGS
from support.hearing import STAFF, Person, make_hearing
from support.journey import walk_in

pytestmark = pytest.mark.browser

SERVER_S = 30_000


async def test_a_party_consults_counsel_and_the_judge_calls_them_back(
    server: TestServer, launch: Any, artifacts: Path
) -> None:
    hid, people = await make_hearing(
        server.app, [(Role.JUDGE, "王法官"), (Role.PARTY, "张三")], state="in_session"
    )
    service = server.app[HEARINGS]
    counsel = await service.add_participant(
        STAFF, hid, role=Role.COUNSEL, display_name="王律师", represents=people["张三"].id
    )
    _, token, _ = await service.issue_link(STAFF, counsel.id)
    people["王律师"] = Person(counsel.id, Role.COUNSEL, "王律师", token)
    base = f"http://127.0.0.1:{server.port}"
    judge, zhang, lawyer = await asyncio.gather(
        launch("judge", "judge", width=1440, height=900),
        launch("zhang", "party", width=390, height=844, mobile=True),
        launch("lawyer", "party", width=390, height=844, mobile=True),
    )
    await judge.page.goto(f"{base}/join#token={people['王法官'].token}")
    await expect(judge.page.locator(".screen.console")).to_be_visible()
    await asyncio.gather(
        walk_in(zhang.page, base, people["张三"].token),
        walk_in(lawyer.page, base, people["王律师"].token),
    )

    # 张三 asks his counsel.
    await zhang.page.click("[data-action='consult']")
    picker = zhang.page.locator("[data-testid='consult-picker']")
    await expect(picker).to_be_visible()
    # the sheet follows the participants while it is open: counsel is offered once known
    await expect(picker).to_contain_text("王律师", timeout=SERVER_S)
    await zhang.page.click(f"[data-action='consult-with'][data-participant-id='{counsel.id}']")
    prompt = lawyer.page.locator("[data-testid='consult-prompt']")
    await expect(prompt).to_be_visible(timeout=SERVER_S)
    await expect(prompt).to_contain_text("张三")
    await lawyer.page.screenshot(path=str(artifacts / "consult-1-asked-390x844.png"))
    await lawyer.page.click("[data-action='consult-accept']")

    # Both in the consultation room; the judge sees who, and for how long.
    for page in (zhang.page, lawyer.page):
        await expect(page.locator("[data-testid='consult-bar']")).to_be_visible(timeout=SERVER_S)
    await expect(zhang.page.locator("[data-testid='consult-bar']")).to_contain_text("王律师")
    await zhang.page.click("[data-action='consult-lock']")
    await expect(zhang.page.locator("[data-action='consult-lock']")).to_have_attribute(
        "aria-pressed", "true", timeout=SERVER_S
    )
    await zhang.page.screenshot(path=str(artifacts / "consult-2-in-room-390x844.png"))
    listing = judge.page.locator("[data-testid='consult-list']")
    await expect(listing).to_contain_text("张三", timeout=SERVER_S)
    await judge.page.screenshot(path=str(artifacts / "consult-3-console-1440x900.png"))

    # The judge calls them back into the hearing room.
    await listing.locator("[data-action='end-consultation']").click()
    for page in (zhang.page, lawyer.page):
        await expect(page.locator("[data-testid='consult-bar']")).to_be_hidden(timeout=SERVER_S)
    await expect(listing).to_be_hidden(timeout=SERVER_S)

    for person in (judge, zhang, lawyer):
        missing = await person.page.evaluate("[...window.hearingApp.missingKeys]")
        assert missing == [], f"{person.name}: missing i18n keys {missing}"
        assert not [line for line in person.logs if "[pageerror]" in line], person.logs
