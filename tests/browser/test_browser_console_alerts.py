"""The judge's console says whether the hearing is recorded and when the server sheds load."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from hearing_server.config import Settings
from hearing_server.core.participant import Role
from hearing_server.keys import OVERLOAD
from hearing_server.media.load import LoadLevel, LoadReading
from support.hearing import make_hearing

pytestmark = pytest.mark.browser



@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The policy on, its monitor unable to trigger: the test hands it its readings.
    return replace(settings, overload_shedding=True, overload_lag_ms=1e9, overload_drops=10**9)


async def test_console_shows_recording_and_load_shedding(
    server: TestServer, launch: Any, artifacts: Path
) -> None:
    _, people = await make_hearing(server.app, [(Role.JUDGE, "王审判员")], state="open")
    judge = await launch("judge", "judge", width=1440, height=900)
    await judge.page.goto(f"http://127.0.0.1:{server.port}/join#token={people['王审判员'].token}")
    page = judge.page
    await expect(page.locator(".screen.console")).to_be_visible()
    rec = page.locator(".rec-state")
    await expect(rec).to_have_attribute("data-state", "not_recording")

    await page.click("[data-hearing-action='start']")
    await expect(rec).to_have_attribute("data-state", "recording", timeout=15_000)
    await expect(rec).to_have_text("● 正在录制")

    policy = server.app[OVERLOAD]
    await policy.on_load(LoadReading(LoadLevel.SHED_VIDEO, 150.0, 300.0, 0, "test load"))
    load = page.locator(".load-alert")
    await expect(load).to_be_visible()
    await expect(load).to_contain_text("服务器繁忙")
    await page.screenshot(path=str(artifacts / "console-server-load.png"))

    await policy.on_load(LoadReading(LoadLevel.NORMAL, 5.0, 10.0, 0, "load fell"))
    await expect(load).to_be_hidden()
