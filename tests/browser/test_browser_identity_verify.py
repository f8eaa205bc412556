"""The clerk's manual verification in a real browser: a party whose face check cannot pass
(here: no reference photo was registered, as for someone whose camera check keeps failing)
waits at the identity step, asks the clerk for help, and the clerk verifies them from the
console with a reason (required: an empty one is refused). The party goes on to the rules and
the waiting room on their own; the console shows 'verified' and the audit log has the reason."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from hearing_server.core.audit import AuditEvent
from hearing_server.core.participant import Role
from hearing_server.keys import STORE
from support.identity import ZHANG_ID, ZHANG_PHONE, identity_hearing
from support.journey import SERVER_MS, pass_self_test

pytestmark = pytest.mark.browser

POLICY = json.dumps({"party": ["face", "liveness"]})
REASON = "本人持身份证到庭核对，视频中与证件照片一致"  # noqa: RUF001


async def test_the_clerk_verifies_a_party_the_camera_check_cannot_pass(
    server: TestServer, launch: Any, artifacts: Path
) -> None:
    h = await identity_hearing(
        server.app,
        [(Role.CLERK, "赵书记员"), (Role.PARTY, "张三")],
        policy=POLICY,
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

    page = party.page
    await pass_self_test(page, base, zhang.token)
    # Held at the identity step: no photo to match, so only the clerk can clear the check.
    notice = page.locator(".identity-notice[data-kind='warn']")
    await expect(notice).to_contain_text("照片", timeout=SERVER_MS)
    await page.click("[data-action='ask-clerk']")
    await expect(row.locator(".id-badge[data-badge='help']")).to_be_visible(timeout=SERVER_MS)

    # The clerk verifies by hand: a reason is required.
    await row.locator("[data-action='verify-identity']").click()
    dialog = clerk.page.locator("[data-testid='identity-dialog']")
    await expect(dialog).to_be_visible()
    reason = dialog.locator("#identity-reason")
    await dialog.locator("[data-action='confirm-identity']").click()
    # Refused by the form itself (the reason is required): the dialog stays, nothing is sent.
    assert await reason.evaluate("el => el.validity.valueMissing")
    await expect(dialog).to_be_visible()
    await expect(row.locator("[data-action='verify-identity']")).to_be_visible()
    await reason.fill(REASON)
    await clerk.page.screenshot(path=str(artifacts / "identity-verify-1-dialog-1440x900.png"))
    await dialog.locator("[data-action='confirm-identity']").click()
    await expect(dialog).to_be_hidden(timeout=SERVER_MS)
    verified = row.locator(".id-badge[data-badge='verified']")
    await expect(verified).to_be_visible(timeout=SERVER_MS)
    assert await verified.get_attribute("title") == REASON
    await expect(row.locator("[data-action='verify-identity']")).to_have_count(0)

    # The party goes on by themselves: the rules, then the waiting room.
    await expect(page.locator(".screen.flow[data-step='rules']")).to_be_visible(timeout=SERVER_MS)
    await page.check("[data-action='declare']")
    await page.click("[data-action='enter-waiting']")
    await expect(page.locator("[data-testid='waiting-room']")).to_be_visible(timeout=SERVER_MS)
    await expect(row.locator(".pstate[data-state='waiting']")).to_be_visible(timeout=SERVER_MS)
    await page.screenshot(path=str(artifacts / "identity-verify-2-waiting-390x844.png"))

    entries = await server.app[STORE].list_audit(h.hearing_id)
    verified_entries = [e for e in entries if e.event == AuditEvent.IDENTITY_VERIFIED]
    assert len(verified_entries) == 1
    assert verified_entries[0].data.get("reason") == REASON
    assert verified_entries[0].data.get("participant_id") == zhang.id
    for person in (clerk, party):
        missing = await person.page.evaluate("[...window.hearingApp.missingKeys]")
        assert missing == [], f"{person.name}: missing i18n keys {missing}"
        assert not [line for line in person.logs if "[pageerror]" in line], person.logs
