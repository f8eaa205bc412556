"""A party's identity check in a real browser at a phone viewport: link -> self-test -> ID
number (a typo caught as they type) -> one-time code read from the outbox -> rules -> waiting
room; the clerk's console shows their identity badges live and lists the outbox. Screenshots
of the ID and code steps go to test-artifacts/."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from hearing_server.core.participant import Role
from support.identity import ZHANG_ID, ZHANG_PHONE, identity_hearing, outbox_code

pytestmark = pytest.mark.browser


async def no_horizontal_scroll(page: Any, where: str) -> None:
    widths = await page.evaluate(
        "({page: document.documentElement.scrollWidth, viewport: window.innerWidth})"
    )
    assert widths["page"] <= widths["viewport"], (where, widths)


async def test_party_passes_id_and_code_into_the_waiting_room(
    server: TestServer, launch: Any, artifacts: Path
) -> None:
    h = await identity_hearing(
        server.app,
        [(Role.CLERK, "赵书记员"), (Role.PARTY, "张三")],
        register={"张三": (ZHANG_ID, ZHANG_PHONE)},
    )
    zhang = h.people["张三"]
    base = f"http://127.0.0.1:{server.port}"
    clerk, party = await asyncio.gather(
        launch("clerk", "judge", width=1440, height=900),
        launch("party", "party", width=390, height=844, mobile=True),
    )
    await clerk.page.goto(f"{base}/join#token={h.people['赵书记员'].token}")
    await expect(clerk.page.locator(".screen.console")).to_be_visible()
    row = clerk.page.locator(f".prow[data-participant-id='{zhang.id}']")
    badge = ".id-badge[data-badge='{}'][data-passed='{}']"
    await expect(row.locator(badge.format("id_number", "false"))).to_be_visible()
    await expect(row.locator("[data-action='verify-identity']")).to_be_visible()

    page = party.page
    await page.goto(f"{base}/join#token={zhang.token}")
    await expect(page.locator(".screen.flow[data-step='selftest']")).to_be_visible()
    # The step indicator shows the identity step: the server says it is pending.
    await expect(page.locator(".steps li")).to_have_count(4)
    await page.click("[data-action='play-tone']")
    await page.click("[data-action='heard']")
    await expect(page.locator(".check-status[data-result='ok']")).to_have_count(4, timeout=20_000)
    await page.click("[data-action='continue']")

    # -- the ID step --
    await expect(page.locator(".screen.flow[data-step='identity']")).to_be_visible()
    await expect(page.locator("[data-testid='identity-id']")).to_be_visible()
    await page.fill("[data-field='legal-name']", "张三")
    wrong_last = "0" if ZHANG_ID[-1] != "0" else "1"
    await page.locator("[data-field='id-number']").press_sequentially(ZHANG_ID[:-1] + wrong_last)
    hint = page.locator("#id-number-hint")
    await expect(hint).to_have_attribute("data-hint", "check_digit")
    await page.click("[data-action='check-id']")
    # Refused on the spot, the hint under the field saying why; the field keeps the focus.
    await expect(hint).to_have_class("field-hint attention")
    await expect(page.locator("[data-field='id-number']")).to_be_focused()
    await no_horizontal_scroll(page, "ID step")
    await page.screenshot(path=str(artifacts / "identity-1-id-typo-390x844.png"), full_page=True)
    # The typo cost no attempt: the server never saw it.
    ident = await page.evaluate(
        "async (t) => (await fetch('/api/me/identity', {headers: {Authorization: `Bearer ${t}`}}))"
        ".json()",
        zhang.token,
    )
    assert ident["tries_left"]["id_number"] == 5
    await page.fill("[data-field='id-number']", ZHANG_ID[:-1] + ZHANG_ID[-1].lower())
    await expect(hint).to_have_attribute("data-hint", "ok")
    await page.screenshot(path=str(artifacts / "identity-2-id-ok-390x844.png"), full_page=True)
    await page.click("[data-action='check-id']")

    # -- the code step --
    form = page.locator("[data-testid='identity-code']")
    await expect(form).to_be_visible()
    passed_id = ".identity-steps li[data-step='id_number'][data-passed='true']"
    await expect(page.locator(passed_id)).to_be_visible()
    await expect(row.locator(badge.format("id_number", "true"))).to_be_visible()
    await page.click("[data-action='send-code']")
    send = page.locator("[data-action='send-code']")
    await expect(send).to_be_disabled()
    await expect(send).to_contain_text("60")
    await expect(page.locator("[data-field='code']")).to_be_visible()
    code = outbox_code(server.app, ZHANG_PHONE)
    await page.fill("[data-field='code']", code)
    await no_horizontal_scroll(page, "code step")
    await page.screenshot(path=str(artifacts / "identity-3-code-390x844.png"), full_page=True)
    # The same step in English; the countdowns go on in the new language.
    await page.click(".lang-btn[lang='en']")
    await expect(page.locator("[data-action='check-code']")).to_have_text("Submit code")
    await expect(send).to_contain_text("Send again in")
    await page.screenshot(path=str(artifacts / "identity-3-code-en-390x844.png"), full_page=True)
    # The clerk's console lists the message the outbox holds.
    outbox = clerk.page.locator("[data-testid='outbox']")
    await expect(outbox).to_be_visible()
    await outbox.locator("summary").click()
    await expect(outbox).to_contain_text(code)
    await page.click("[data-action='check-code']")

    # -- on to the rules and the waiting room --
    await expect(page.locator(".screen.flow[data-step='rules']")).to_be_visible()
    await expect(page.locator(".steps li.done")).to_have_count(2)
    await page.check("[data-action='declare']")
    await page.click("[data-action='enter-waiting']")
    await expect(page.locator("[data-testid='waiting-room']")).to_be_visible()
    await expect(row.locator(".pstate[data-state='waiting']")).to_be_visible(timeout=15_000)
    await expect(row.locator(badge.format("code", "true"))).to_be_visible()
    await expect(row.locator("[data-action='verify-identity']")).to_have_count(0)
    await clerk.page.screenshot(path=str(artifacts / "identity-4-console-1440x900.png"))
    for person in (clerk, party):
        missing = await person.page.evaluate("[...window.hearingApp.missingKeys]")
        assert missing == [], f"{person.name}: missing i18n keys {missing}"
        assert not [line for line in person.logs if "[pageerror]" in line], person.logs
