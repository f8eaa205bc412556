"""The interpreter channel in Chromium: an English-speaking party on a phone, their English
interpreter and the judge in session. The party picks the English interpreter: the
interpreter's sound plays at full volume and the floor quieter, or the interpreter alone; the
interpreter's audio arrives as real RTP all along. Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, expect

from hearing_server.core.participant import PartySide, Role
from hearing_server.keys import HEARINGS
from support.hearing import STAFF, Person, make_hearing
from support.journey import walk_in
from support.waiting import eventually

pytestmark = pytest.mark.browser

SERVER_S = 30_000

INBOUND_AUDIO = """
async (pid) => {
  const s = window.hearingApp.session;
  if (!s || !s.subscriber) return null;
  const stats = await s.subscriber.stats();
  const e = stats.get(pid);
  return e && e.audio ? e.audio.packetsReceived : null;
}
"""


async def test_a_party_listens_to_their_interpreter(
    server: TestServer, launch: Any, artifacts: Path
) -> None:
    hid, people = await make_hearing(server.app, [(Role.JUDGE, "王法官")], state="in_session")
    service = server.app[HEARINGS]
    party = await service.add_participant(
        STAFF, hid, role=Role.PARTY, display_name="John Smith", side=PartySide.PLAINTIFF,
        language="en",
    )  # fmt: skip
    interpreter = await service.add_participant(
        STAFF, hid, role=Role.INTERPRETER, display_name="周翻译", interprets_for=party.id,
        language="en",
    )  # fmt: skip
    for p in (party, interpreter):
        _, token, _ = await service.issue_link(STAFF, p.id)
        people[p.display_name] = Person(p.id, p.role, p.display_name, token)
    base = f"http://127.0.0.1:{server.port}"
    judge, smith, zhou = await asyncio.gather(
        launch("judge", "judge", width=1440, height=900),
        launch("smith", "party", width=390, height=844, mobile=True),
        launch("zhou", "party", width=390, height=844, mobile=True),
    )
    await judge.page.goto(f"{base}/join#token={people['王法官'].token}")
    await expect(judge.page.locator(".screen.console")).to_be_visible()
    await asyncio.gather(
        walk_in(smith.page, base, people["John Smith"].token),
        walk_in(zhou.page, base, people["周翻译"].token),
    )
    page = smith.page
    await page.locator(".room .lang-btn[lang='en']").click()
    judge_tile = page.locator(f".tile[data-participant-id='{people['王法官'].id}']")
    zhou_tile = page.locator(f".tile[data-participant-id='{interpreter.id}']")
    await expect(zhou_tile).to_be_visible(timeout=SERVER_S)
    await expect(judge_tile).to_be_visible(timeout=SERVER_S)

    listen = page.locator("[data-action='listen']")
    await expect(listen).to_be_visible()
    await expect(listen.locator("option[value='en|louder']")).to_have_text(
        "English interpreter (floor quieter)"
    )
    await expect(judge_tile).to_have_attribute("data-volume", "1.00")
    await listen.select_option("en|louder")
    await expect(zhou_tile).to_have_attribute("data-volume", "1.00")
    await expect(judge_tile).to_have_attribute("data-volume", "0.20")
    await listen.select_option("en|alone")
    await expect(judge_tile).to_have_attribute("data-volume", "0.00")
    await expect(zhou_tile).to_have_attribute("data-volume", "1.00")
    # The interpreter's voice reaches the party as RTP.
    first = await eventually(
        lambda: page.evaluate(INBOUND_AUDIO, interpreter.id),
        timeout=30,
        what="audio packets from the interpreter",
    )
    await eventually(
        lambda: _more(page, interpreter.id, first),
        timeout=30,
        what="more audio packets from the interpreter",
    )
    await page.screenshot(path=str(artifacts / "interpreter-1-listening-390x844.png"))
    # The choice stays with this browser across a reload.
    await page.reload()
    await expect(page.locator("[data-testid='hearing-room']")).to_be_visible(timeout=SERVER_S)
    await expect(page.locator("[data-action='listen']")).to_have_value("en|alone", timeout=SERVER_S)
    # The interpreter has no interpreter channel of their own to choose.
    await expect(zhou.page.locator("[data-action='listen']")).to_be_hidden()
    for person in (judge, smith, zhou):
        missing = await person.page.evaluate("[...window.hearingApp.missingKeys]")
        assert missing == [], f"{person.name}: missing i18n keys {missing}"
        assert not [line for line in person.logs if "[pageerror]" in line], person.logs


async def _more(page: Page, pid: str, than: int) -> bool:
    now = await page.evaluate(INBOUND_AUDIO, pid)
    return bool(now and now > than)
