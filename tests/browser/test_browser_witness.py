"""A witness in Chromium: waits outside while the hearing is in session, is called in by the
judge, reads and confirms the undertaking (证人保证书) on the phone, and is released at the end
of the testimony; the judge's console shows each step. zh-CN for the witness, the console in
English at the end. Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from hearing_server.core.actors import Actor
from hearing_server.core.participant import Role
from hearing_server.keys import HEARINGS
from support.hearing import make_hearing
from support.journey import walk_in

pytestmark = pytest.mark.browser

SERVER_S = 30_000


async def test_the_judge_calls_swears_and_releases_a_witness(
    server: TestServer, launch: Any, artifacts: Path
) -> None:
    hid, people = await make_hearing(
        server.app, [(Role.JUDGE, "王法官"), (Role.WITNESS, "陈证人")], state="in_session"
    )
    witness_id = people["陈证人"].id
    base = f"http://127.0.0.1:{server.port}"
    judge, witness = await asyncio.gather(
        launch("judge", "judge", width=1440, height=900),
        launch("witness", "party", width=390, height=844, mobile=True),
    )
    await judge.page.goto(f"{base}/join#token={people['王法官'].token}")
    await expect(judge.page.locator(".screen.console")).to_be_visible()
    page = witness.page
    # In session, yet the witness waits to be called.
    await walk_in(page, base, people["陈证人"].token, room="waiting-room")

    row = judge.page.locator(f".prow[data-participant-id='{witness_id}']")
    await expect(row.locator(".pstate[data-state='waiting']")).to_be_visible(timeout=SERVER_S)
    await row.locator("[data-action='admit']").click()
    oath = page.locator("[data-testid='oath']")
    await expect(oath).to_be_visible(timeout=SERVER_S)
    await expect(oath).to_contain_text("证人保证书")
    await expect(oath).to_contain_text("如实提供证言")
    await expect(row.locator(".flag[data-flag='unsworn']")).to_be_visible(timeout=SERVER_S)
    await page.screenshot(path=str(artifacts / "witness-1-undertaking-390x844.png"))
    await page.click("[data-action='take-oath']")
    await expect(oath).to_be_hidden(timeout=SERVER_S)
    await expect(page.locator("[data-testid='hearing-room']")).to_be_visible()
    await expect(row.locator(".flag[data-flag='sworn']")).to_be_visible(timeout=SERVER_S)
    await page.screenshot(path=str(artifacts / "witness-2-in-room-390x844.png"))
    await judge.page.screenshot(path=str(artifacts / "witness-3-console-1440x900.png"))

    # The testimony is over: released; the link would bring them back to the waiting room.
    await row.locator("[data-action='dismiss-out']").click()
    await expect(page.locator(".screen")).to_contain_text("您的作证已结束", timeout=SERVER_S)
    await page.screenshot(path=str(artifacts / "witness-4-released-390x844.png"))
    await expect(row.locator(".pstate[data-state='left']")).to_be_visible(timeout=SERVER_S)
    await judge.page.click(".lang-btn[lang='en']")
    await expect(row.locator(".flag[data-flag='sworn']")).to_have_text("Undertaking given")
    log = await server.app[HEARINGS].audit_log(Actor.staff("t"), hid)
    assert [e.event for e in log if e.data.get("participant_id") == witness_id][-3:] == [
        "witness_called",
        "witness_sworn",
        "witness_dismissed",
    ]
    for person in (judge, witness):
        missing = await person.page.evaluate("[...window.hearingApp.missingKeys]")
        assert missing == [], f"{person.name}: missing i18n keys {missing}"
        assert not [line for line in person.logs if "[pageerror]" in line], person.logs
