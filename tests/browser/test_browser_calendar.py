"""The clerk's calendar in Chromium: tomorrow's bookings by day, the two that double-book the
judge highlighted with what they clash with, a cancelled one struck through, a booking's
service status per recipient and channel; the week view has seven days. Screenshots go to
test-artifacts/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from hearing_server import keys
from hearing_server.config import Settings
from support.api import HEARING_BODY
from support.serving import SmsGateway, serving_settings, start_gateway, summons_pdf

pytestmark = pytest.mark.browser

SERVER_MS = 30_000
BEIJING = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[SmsGateway, str]]:
    gw = SmsGateway()
    runner, url = await start_gateway(gw)
    yield gw, url
    await runner.cleanup()


@pytest.fixture
def settings(settings: Settings, gateway: tuple[SmsGateway, str]) -> Settings:
    s = serving_settings(settings, gateway_url=gateway[1], smtp_port=1)
    return replace(s, courtrooms=["第一法庭", "第二法庭"])


def tomorrow(hour: int) -> datetime:
    day = datetime.now(BEIJING).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, tzinfo=BEIJING)


async def test_the_calendar_shows_clashes_and_service(
    server: TestServer, launch: Any, artifacts: Path, admin_headers: dict[str, str]
) -> None:
    base = f"http://127.0.0.1:{server.port}"
    ids: dict[str, str] = {}
    async with aiohttp.ClientSession(base, headers=admin_headers) as http:

        async def book(name: str, hour: int, room: str, judge: str, **extra: Any) -> None:
            body = {**HEARING_BODY, "case_number": f"(2026)京0105民初{hour}00号"}
            async with http.post("/api/hearings", json=body) as resp:
                ids[name] = (await resp.json())["id"]
            async with http.post(
                f"/api/hearings/{ids[name]}/schedule",
                json={"start": tomorrow(hour).isoformat(), "duration_minutes": 120,
                      "courtroom": room, "people": [{"role": "judge", "name": judge}], **extra},
            ) as resp:  # fmt: skip
                assert resp.status == 201, await resp.text()

        await book("first", 9, "第一法庭", "王法官")
        await book("clash", 10, "第二法庭", "王法官", override_reason="关联案件")
        await book("later", 14, "第一法庭", "李法官")
        await book("off", 16, "第二法庭", "李法官")
        async with http.post(
            f"/api/hearings/{ids['off']}/schedule/cancel", json={"reason": "撤诉"}
        ) as resp:
            assert resp.status == 200
        async with http.post(
            f"/api/hearings/{ids['first']}/documents?kind=summons&title=传票",
            data=summons_pdf(),
            headers={"Content-Type": "application/pdf"},
        ) as resp:
            doc = await resp.json()
        async with http.post(
            f"/api/hearings/{ids['first']}/documents/{doc['id']}/service",
            json={"recipients": [{"name": "张三", "phone": "13800138000"}]},
        ) as resp:
            assert resp.status == 201
        assert await server.app[keys.JOBS].drain(30.0, horizon_s=60)
        async with http.post("/api/staff-tokens", json={"name": "赵书记员"}) as resp:
            staff = (await resp.json())["token"]

    clerk = await launch("clerk", "judge", width=1440, height=900)
    page = clerk.page
    day = f"{tomorrow(0):%Y-%m-%d}"
    await page.goto(f"{base}/calendar?day={day}#token={staff}")
    cards = page.locator(".cal-booking")
    await expect(cards).to_have_count(4, timeout=SERVER_MS)
    card = {
        name: page.locator(f".cal-booking[data-hearing-id='{hid}']") for name, hid in ids.items()
    }
    for name, clash in (("first", "true"), ("clash", "true"), ("later", "false")):
        await expect(card[name]).to_have_attribute("data-clash", clash)
    await expect(card["first"].locator("[data-testid='clash']")).to_contain_text("审判员王法官")
    await expect(card["first"].locator("[data-testid='clash']")).to_contain_text(
        "(2026)京0105民初1000号"
    )
    await expect(card["off"]).to_have_attribute("data-status", "cancelled")
    await expect(card["off"]).to_contain_text("已取消")
    await expect(card["later"].locator(".cal-time")).to_have_text("14:00\u201316:00")
    await page.screenshot(path=str(artifacts / "calendar-day.png"), full_page=True)

    await card["first"].click()
    row = page.locator("[data-testid='cal-service'] tbody tr")
    await expect(row).to_have_count(1, timeout=SERVER_MS)
    await expect(row).to_contain_text("张三")
    await expect(row).to_contain_text("短信")
    await expect(row).to_contain_text("已发送")
    await page.screenshot(path=str(artifacts / "calendar-service.png"), full_page=True)

    await page.locator("[data-view='week']").click()
    await expect(page.locator(".cal-day")).to_have_count(7, timeout=SERVER_MS)
    await expect(page.locator(f".cal-day[data-day='{day}'] .cal-booking")).to_have_count(4)
    await page.locator(".lang button", has_text="EN").click()
    await expect(card["off"]).to_contain_text("Cancelled")
    await page.screenshot(path=str(artifacts / "calendar-week.png"), full_page=True)
