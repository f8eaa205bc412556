"""The camera step of the identity check in a real browser at a phone viewport: the party's
fake camera is a still photo of the registered person (a y4m made from the test photos), so
the server shows the challenge prompts and the progress ring, matches the face and then fails
liveness at the 20 s limit; the page says why and offers another try, and the clerk's console
shows the face distance and the liveness failure. Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from hearing_server.core.actors import Actor
from hearing_server.core.participant import Role
from hearing_server.keys import IDENTITY
from support.faces import camera_of, face_bytes, write_video
from support.identity import identity_hearing
from support.journey import pass_self_test

pytestmark = pytest.mark.browser

POLICY = '{"party": ["face", "liveness"]}'


async def test_a_still_photo_at_the_camera_step(
    server: TestServer, launch: Any, artifacts: Path, fake_media: dict[str, Any], tmp_path: Path
) -> None:
    still, _ = camera_of("obama3.jpg")
    video = write_video(tmp_path / "still-photo.y4m", [still] * 10, fps=10)
    fake_media["still-photo"] = type(fake_media["party"])(video, fake_media["party"].audio)
    h = await identity_hearing(
        server.app, [(Role.CLERK, "赵书记员"), (Role.PARTY, "张三")], policy=POLICY
    )
    zhang = h.people["张三"]
    await server.app[IDENTITY].set_reference_photo(
        Actor.staff("clerk"), zhang.id, face_bytes("obama.jpg")
    )
    base = f"http://127.0.0.1:{server.port}"
    clerk, party = await asyncio.gather(
        launch("clerk", "judge", width=1440, height=900),
        launch("party", "still-photo", width=390, height=844, mobile=True),
    )
    await clerk.page.goto(f"{base}/join#token={h.people['赵书记员'].token}")
    await expect(clerk.page.locator(".screen.console")).to_be_visible()
    row = clerk.page.locator(f".prow[data-participant-id='{zhang.id}']")

    page = party.page
    await pass_self_test(page, base, zhang.token)

    card = page.locator("[data-testid='identity-face']")
    await expect(card).to_be_visible()
    await page.click("[data-action='start-face']")
    prompt = page.locator("[data-testid='face-prompt']")
    await expect(prompt).to_have_attribute(
        "data-challenge", __import__("re").compile("blink|turn_left|turn_right"), timeout=20_000
    )
    assert await prompt.inner_text() in ("请眨眼", "请向左转头", "请向右转头")
    await page.screenshot(path=str(artifacts / "identity-face-1-prompt-390x844.png"))
    # The photo never blinks or turns: liveness fails at the limit, the face matched.
    failed = page.locator("[data-testid='face-failed']")
    await expect(failed).to_be_visible(timeout=40_000)
    await expect(failed).to_contain_text("未在时限内完成动作")
    await expect(page.locator("[data-action='start-face']")).to_be_enabled()
    await page.screenshot(path=str(artifacts / "identity-face-2-failed-390x844.png"))
    distance = row.locator(".id-badge[data-badge='face-distance'][data-decision='same']")
    await expect(distance).to_be_visible()
    await expect(row.locator(".id-badge[data-badge='liveness-failed']")).to_be_visible()
    await clerk.page.screenshot(path=str(artifacts / "identity-face-3-console-1440x900.png"))
    await page.click(".lang-btn[lang='en']")
    await expect(failed).to_contain_text("not done in time")
    for person in (clerk, party):
        missing = await person.page.evaluate("[...window.hearingApp.missingKeys]")
        assert missing == [], f"{person.name}: missing i18n keys {missing}"
        assert not [line for line in person.logs if "[pageerror]" in line], person.logs
