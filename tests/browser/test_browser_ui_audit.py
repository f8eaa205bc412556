"""The party's screens audited on phones: every step and state of the journey (including after
taps), on 320x568, 360x640, 390x844 and landscape 640x360 and 844x390, in Chinese and
English. On each: nothing covers the header controls, no text is cut or runs off the screen,
every control is at least 44x44 CSS px, visible text has 4.5:1 contrast and is at least 14 px,
no :hover rule outside @media (hover: hover), the page logs no errors, and in the hearing room
the judge's picture is the largest and the self-view covers at most 5 % of it. One browser is
reused for every viewport; a screenshot of each screen goes to test-artifacts/ui-audit/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, expect

from hearing_server.core.participant import Role
from hearing_server.keys import LIVE
from support.hearing import STAFF, make_hearing
from support.journey import SERVER_MS
from support.ui_audit import LANGUAGES, VIEWPORTS, Auditor

pytestmark = pytest.mark.browser


async def large_text(page: Page, *, on: bool) -> None:
    """Switch the large-text mode with a tap and check the page grew (or shrank back)."""
    button = page.locator("[data-action='large-text']:visible").first
    before = await button.bounding_box()
    await button.tap()
    html = expect(page.locator("html"))
    if on:
        await html.to_have_attribute("data-large", "on")
    else:
        await html.not_to_have_attribute("data-large", "on")
    after = await button.bounding_box()
    assert before and after
    grew = after["height"] / before["height"]
    assert (grew > 1.2) if on else (grew < 1 / 1.2), (before, after)


async def test_every_party_screen_passes_the_audit_on_phones(
    server: TestServer, launch: Any, artifacts: Path
) -> None:
    hid, people = await make_hearing(
        server.app, [(Role.JUDGE, "王审判员"), (Role.PARTY, "张三")], state="open"
    )
    party = people["张三"]
    base = f"http://127.0.0.1:{server.port}"
    out = artifacts / "ui-audit"
    out.mkdir(exist_ok=True)
    person = await launch("party", "party", width=390, height=844, mobile=True)
    # The judge on a console, so that the party's room has the judge's picture in it.
    judge = await launch("judge", "judge", width=1024, height=700)
    await judge.page.goto(f"{base}/join#token={people['王审判员'].token}")
    await expect(judge.page.locator(".screen.console")).to_be_visible()
    page = person.page
    check = Auditor(page, person.logs, out)

    try:
        await page.goto(f"{base}/join#token={party.token}")
        await expect(page.locator(".screen.flow[data-step='selftest']")).to_be_visible()
        await expect(page.locator(".check[data-grade='good']")).to_be_visible(timeout=SERVER_MS)
        await check.screen("1-selftest")
        # The grey button's hint names what is left (the speaker) and takes the party there.
        hint = page.locator("[data-action='show-missing']")
        await expect(hint).to_contain_text("Speaker")
        speaker = page.locator(".card.check", has=page.locator("[data-action='play-tone']"))
        await expect(speaker).not_to_be_in_viewport()
        await hint.tap()
        await expect(speaker).to_be_in_viewport()
        await page.locator("[data-action='play-tone']").tap()
        await page.locator("[data-action='heard']").tap()
        await expect(page.locator(".check-status[data-result='ok']")).to_have_count(
            4, timeout=20_000
        )
        await check.screen("2-selftest-done")
        # Large text (适老模式): everything larger, and the same audit holds.
        await large_text(page, on=True)
        await check.screen("2b-selftest-large")
        await large_text(page, on=False)
        await page.locator("[data-action='continue']").tap()
        await expect(page.locator(".screen.flow[data-step='rules']")).to_be_visible()
        await check.screen("3-rules")
        await expect(page.locator("[data-action='show-missing']")).to_contain_text("declaration")
        await page.locator("[data-action='declare']").tap()
        await check.screen("4-rules-declared")
        await page.locator("[data-action='enter-waiting']").tap()
        await expect(page.locator("[data-testid='waiting-room']")).to_be_visible(timeout=SERVER_MS)
        # The server has them waiting (not only the page): then they can be admitted.
        waiting = page.locator(".waiting-status[data-i18n='waiting.admitSoon']")
        await expect(waiting).to_be_visible(timeout=SERVER_MS)
        await check.screen("5-waiting")

        live = server.app[LIVE]
        await live.admit(STAFF, hid, party.id)
        await expect(page.locator("[data-testid='hearing-room']")).to_be_visible(timeout=SERVER_MS)
        await expect(page.locator(".room .tile[data-role='judge'].has-video")).to_be_visible(
            timeout=SERVER_MS
        )
        await check.screen("6-hearing", stage=True)
        await large_text(page, on=True)
        await check.screen("6c-hearing-large", stage=True)
        await large_text(page, on=False)
        # The self-view: dragged to the top left it settles there; hidden, and brought back.
        self_view = page.locator(".tile-local")
        box = await self_view.bounding_box()
        assert box is not None
        await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        await page.mouse.down()
        await page.mouse.move(40, 80, steps=5)
        await page.mouse.up()
        await expect(self_view).to_have_attribute("data-corner", "tl")
        await page.locator("[data-action='hide-self']").tap()
        await expect(self_view).to_be_hidden()
        await page.locator("[data-action='show-self']").tap()
        await expect(self_view).to_be_visible()
        await expect(self_view).to_have_attribute("data-corner", "tl")
        await page.screenshot(path=str(out / "6b-hearing-self-view-moved-844x390.png"))
        # And back to the bottom right, where it leaves the judge's picture alone.
        box = await self_view.bounding_box()
        assert box is not None
        await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        await page.mouse.down()
        await page.mouse.move(800, 300, steps=5)
        await page.mouse.up()
        await expect(self_view).to_have_attribute("data-corner", "br")
        await page.locator("[data-action='hand']").tap()
        await expect(page.locator("[data-action='hand']")).to_have_attribute(
            "aria-pressed", "true", timeout=SERVER_MS
        )
        await page.locator("[data-action='mic']").tap()
        await expect(page.locator("[data-action='mic']")).to_have_attribute(
            "aria-pressed", "true", timeout=SERVER_MS
        )
        await page.locator("[data-action='camera']").tap()
        await expect(page.locator("[data-action='camera']")).to_have_attribute(
            "aria-pressed", "true"
        )
        await check.screen("7-hearing-hand-muted-camera-off", stage=True)
        await live.set_mute(STAFF, hid, party.id, muted=True, lock=True)
        await expect(page.locator("[data-action='mic']")).to_have_class(
            "ctl off locked", timeout=SERVER_MS
        )
        await check.screen("8-hearing-locked", stage=True)
        await page.locator("[data-action='leave']:visible").tap()
        await page.locator("[data-action='leave']:visible").tap()
        await expect(page.locator(".screen.message")).to_be_visible(timeout=SERVER_MS)
        await check.screen("9-left")
    finally:
        (out / "findings.json").write_text(json.dumps(check.findings, ensure_ascii=False, indent=1))
    assert check.screens == 11 * len(VIEWPORTS) * len(LANGUAGES)
    summary = "\n".join(json.dumps(f, ensure_ascii=False) for f in check.findings[:60])
    assert not check.findings, f"{len(check.findings)} findings:\n{summary}"
