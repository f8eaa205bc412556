"""Evidence in Chromium (issue 26): a party uploads a PDF through the page, the judge gives
them the floor to present from the console, the party presents it and turns the page, and the
other party's phone and the judge's console follow; then the party shares their screen and the
phone plays it. Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from hearing_server.core.participant import PartySide, Role
from hearing_server.keys import HEARINGS
from support import exhibits as files
from support.hearing import STAFF, Person, make_hearing
from support.journey import walk_in

pytestmark = pytest.mark.browser

SERVER_S = 30_000


async def test_a_party_presents_a_pdf_and_the_others_follow(
    server: TestServer, launch: Any, artifacts: Path, tmp_path: Path
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
    contract = tmp_path / "借款合同.pdf"
    contract.write_bytes(files.pdf(3))
    base = f"http://127.0.0.1:{server.port}"
    judge, zhang, lisi = await asyncio.gather(
        launch("judge", "judge", width=1440, height=900),
        # 张三 on a laptop (a phone's browser cannot share a screen), 李四 on a phone
        launch("zhang", "party", width=1280, height=800),
        launch("lisi", "party", width=390, height=844, mobile=True),
    )
    await judge.page.goto(f"{base}/join#token={people['王法官'].token}")
    await expect(judge.page.locator(".screen.console")).to_be_visible()
    await asyncio.gather(
        walk_in(zhang.page, base, people["张三"].token),
        walk_in(lisi.page, base, people["李四"].token),
    )

    # 张三 uploads the contract from the phone.
    z = zhang.page
    await z.click("[data-action='evidence']")
    await expect(z.locator("[data-testid='evidence-sheet']")).to_be_visible()
    await z.set_input_files("#exhibit-file", str(contract))
    await z.fill("#exhibit-title", "借款合同")
    await z.fill("#exhibit-purpose", "证明借款关系成立")
    await z.click("[data-action='upload-exhibit']")
    item = z.locator(".exhibit-item[data-label='原告证据1']")
    await expect(item).to_be_visible(timeout=SERVER_S)
    await z.screenshot(path=str(artifacts / "evidence-1-uploaded-1280x800.png"))
    # Not yet: the judge has not given the floor to present.
    await expect(item.locator("[data-action='present-exhibit']")).to_have_count(0)

    # The judge, on the console's evidence tab, sees it and lets 张三 present.
    j = judge.page
    await j.click("[data-tab='evidence']", timeout=SERVER_S)
    await expect(j.locator(".exhibit-item[data-label='原告证据1']")).to_be_visible(
        timeout=SERVER_S
    )
    await j.select_option("#present-grantee", label="张三")
    await j.click("[data-action='grant-presenting']")
    await expect(j.locator("[data-testid='presenting-grant']")).to_contain_text("张三")
    await item.locator("[data-action='present-exhibit']").click(timeout=SERVER_S)

    # Everyone in the hearing room sees page 1; 张三 turns to page 2 and they follow.
    viewers = {"李四": lisi.page, "王法官": j}
    for page in viewers.values():
        await expect(page.locator("[data-testid='exhibit-view']")).to_have_attribute(
            "data-page", "1", timeout=SERVER_S
        )
    await expect(z.locator("[data-testid='exhibit-view']")).to_be_visible()
    started = time.monotonic()
    await z.click("[data-action='exhibit-next']")
    await expect(lisi.page.locator("[data-testid='exhibit-view']")).to_have_attribute(
        "data-page", "2", timeout=SERVER_S
    )
    turned_s = time.monotonic() - started
    await expect(j.locator("[data-testid='exhibit-view']")).to_have_attribute(
        "data-page", "2", timeout=SERVER_S
    )
    await expect(lisi.page.locator(".exhibit-page-no")).to_contain_text("2 / 3")
    await lisi.page.screenshot(path=str(artifacts / "evidence-2-following-390x844.png"))
    await j.screenshot(path=str(artifacts / "evidence-3-console-1440x900.png"))
    # 李四 looks back at page 1 on their own, then returns to the presenter.
    await lisi.page.click("[data-action='exhibit-prev']")
    await expect(lisi.page.locator("[data-testid='exhibit-view']")).to_have_attribute(
        "data-page", "1"
    )
    await lisi.page.click("[data-action='exhibit-follow']")
    await expect(lisi.page.locator("[data-testid='exhibit-view']")).to_have_attribute(
        "data-page", "2"
    )
    # The judge ends it: the stage is back on every screen.
    await j.click("[data-testid='exhibit-view'] [data-action='exhibit-stop']")
    await expect(lisi.page.locator("[data-testid='exhibit-view']")).to_be_hidden(
        timeout=SERVER_S
    )

    # 张三 shares the screen (Chromium's fake capture): the other phone plays it in the
    # viewer, as received video, until the judge stops it.
    await z.click("[data-action='evidence']")
    await z.click("[data-action='share-screen']", timeout=SERVER_S)
    view = lisi.page.locator("[data-testid='exhibit-view']")
    await expect(view).to_have_attribute("data-screen", "receiving", timeout=SERVER_S)
    await lisi.page.wait_for_function(
        """() => { const v = document.querySelector("[data-testid='exhibit-screen']");
                   return v && v.videoWidth > 0 && v.currentTime > 0; }""",
        timeout=SERVER_S,
    )
    await lisi.page.screenshot(path=str(artifacts / "evidence-4-screen-390x844.png"))
    await j.click("[data-testid='exhibit-view'] [data-action='exhibit-stop']")
    await expect(view).to_be_hidden(timeout=SERVER_S)
    print(f"page turn seen by the other phone after {turned_s * 1000:.0f} ms")
    for person in (judge, zhang, lisi):
        missing = await person.page.evaluate("[...window.hearingApp.missingKeys]")
        assert missing == [], f"{person.name}: missing i18n keys {missing}"
        assert not [line for line in person.logs if "[pageerror]" in line], person.logs
