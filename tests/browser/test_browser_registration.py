"""The clerk registers a party from the console in a real browser (issue 12): the registration
panel lists the people with their status; the form sends a wrong ID number (the server's
id_check_digit shown under the ID field), a bad phone (invalid_phone under the phone), then a
valid registration with a photo of two faces (multiple_faces under the photo, the
registration itself saved), then only a photo of the person (no ID or phone re-entered). The
row then shows registered, the ID's last four and a photo; the store agrees. The test photos
come from shared/testdata/faces (skipped where absent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from hearing_server.core.participant import Role
from hearing_server.keys import IDENTITY, STORE
from support.faces import face_bytes, side_by_side
from support.identity import ZHANG_ID, identity_hearing
from support.journey import SERVER_MS

pytestmark = pytest.mark.browser


async def test_the_clerk_registers_a_party_and_uploads_the_photo(
    server: TestServer, launch: Any, artifacts: Path
) -> None:
    photo = face_bytes("obama.jpg")  # skips here when the test faces are absent
    two_faces = side_by_side("obama.jpg", "biden.jpg")
    h = await identity_hearing(
        server.app, [(Role.JUDGE, "王法官"), (Role.CLERK, "赵书记员"), (Role.PARTY, "张三")]
    )
    zhang = h.people["张三"]
    base = f"http://127.0.0.1:{server.port}"
    clerk = await launch("clerk", "judge", width=1440, height=900)
    page = clerk.page
    await page.goto(f"{base}/join#token={h.people['赵书记员'].token}")
    panel = page.locator("[data-testid='registration-panel']")
    await expect(panel).to_be_visible(timeout=SERVER_MS)
    row = panel.locator(f".reg-row[data-participant-id='{zhang.id}']")
    await expect(row).to_have_attribute("data-registered", "false", timeout=SERVER_MS)
    await expect(row.locator("[data-badge='photo']")).to_have_text("无照片")

    await row.locator("[data-action='register-person']").click()
    form = panel.locator("[data-testid='registration-form']")
    await expect(form).to_be_visible()
    await form.locator("#reg-legal-name").fill("张三")
    wrong = ZHANG_ID[:-1] + ("0" if ZHANG_ID[-1] != "0" else "1")
    await form.locator("#reg-id-number").fill(wrong)
    await form.locator("#reg-phone").fill("13800138000")
    await form.locator("[data-action='save-registration']").click()
    id_error = form.locator("[data-error-for='id_number']")
    await expect(id_error).to_be_visible(timeout=SERVER_MS)
    await expect(id_error).to_have_attribute("data-i18n", "error.id_check_digit")
    await expect(form.locator("#reg-id-number")).to_have_attribute("aria-invalid", "true")

    await form.locator("#reg-id-number").fill(ZHANG_ID)
    await form.locator("#reg-phone").fill("call me")
    await form.locator("[data-action='save-registration']").click()
    phone_error = form.locator("[data-error-for='phone']")
    await expect(phone_error).to_have_attribute(
        "data-i18n", "error.invalid_phone", timeout=SERVER_MS
    )
    await expect(id_error).to_be_hidden()

    await form.locator("#reg-phone").fill("13800138000")
    await form.locator("#reg-photo").set_input_files(
        {"name": "two.jpg", "mimeType": "image/jpeg", "buffer": two_faces}
    )
    await form.locator("[data-action='save-registration']").click()
    photo_error = form.locator("[data-error-for='photo']")
    await expect(photo_error).to_have_attribute(
        "data-i18n", "error.multiple_faces", timeout=SERVER_MS
    )
    # The registration went through before the photo was refused.
    await expect(row).to_have_attribute("data-registered", "true", timeout=SERVER_MS)
    await expect(row.locator("[data-badge='id-last4']")).to_contain_text(ZHANG_ID[-4:])
    await page.screenshot(path=str(artifacts / "registration-1-photo-refused-1440x900.png"))

    # Only the photo now: the ID number and phone are not asked again.
    await form.locator("#reg-id-number").fill("")
    await form.locator("#reg-phone").fill("")
    await form.locator("#reg-photo").set_input_files(
        {"name": "zhang.jpg", "mimeType": "image/jpeg", "buffer": photo}
    )
    await form.locator("[data-action='save-registration']").click()
    await expect(form).to_be_hidden(timeout=SERVER_MS)
    await expect(row).to_have_attribute("data-photo", "true", timeout=SERVER_MS)
    await expect(row.locator("[data-badge='photo']")).to_have_text("有照片")
    await page.screenshot(path=str(artifacts / "registration-2-done-1440x900.png"))
    await page.locator(".lang-btn[lang='en']").first.click()
    await expect(row.locator("[data-badge='registered']")).to_have_text("Registered")
    await panel.screenshot(path=str(artifacts / "registration-3-panel-en.png"))

    reg = await server.app[STORE].get_registration(zhang.id)
    assert reg is not None and reg.id_last4 == ZHANG_ID[-4:] and reg.phone == "13800138000"
    assert reg.registered_by == h.people["赵书记员"].id
    assert (await server.app[IDENTITY].view(zhang.id))["reference_photo"] is True
    missing = await page.evaluate("[...window.hearingApp.missingKeys]")
    assert missing == [], f"missing i18n keys {missing}"
    assert not [line for line in clerk.logs if "[pageerror]" in line], clerk.logs
