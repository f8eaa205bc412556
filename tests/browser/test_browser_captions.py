"""Live captions on screen: the judge speaks into Chromium's fake microphone (flite)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from hearing_server.config import Settings
from hearing_server.core.participant import Role
from support.hearing import make_hearing

pytestmark = pytest.mark.browser


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The fake microphone speaks English (flite).
    return replace(settings, transcription_enabled=True, transcription_language="en")


async def test_captions_appear_on_console_and_display(
    server: TestServer, launch: Any, artifacts: Path
) -> None:
    _, people = await make_hearing(
        server.app,
        [(Role.JUDGE, "王审判员"), (Role.COURTROOM_DISPLAY, "第一法庭显示屏")],
        state="in_session",
    )
    base = f"http://127.0.0.1:{server.port}"
    # The judge's fake microphone says "The court is in session. Please be seated." (flite).
    judge = await launch("judge", "judge", width=1440, height=900)
    display = await launch("display", "display", width=1920, height=1080)
    await display.page.goto(f"{base}/join#token={people['第一法庭显示屏'].token}")
    await judge.page.goto(f"{base}/join#token={people['王审判员'].token}")
    # Captions reach the courtroom display (always on) and the judge's own console.
    final = display.page.locator(".captions .caption.final .caption-text")
    await expect(final.first).to_contain_text("session", ignore_case=True, timeout=60_000)
    speaker = display.page.locator(".captions .caption.final .caption-speaker").first
    await expect(speaker).to_contain_text("王审判员")
    judge_caption = judge.page.locator(".captions .caption .caption-text")
    await expect(judge_caption.first).to_be_visible(timeout=30_000)
    await display.page.screenshot(path=str(artifacts / "courtroom-display-captions-1920x1080.png"))
    # The toggle hides them on the console.
    await judge.page.click("[data-action='captions']")
    await expect(judge.page.locator(".captions")).to_be_hidden()
