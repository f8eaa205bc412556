"""A party picks the time of their mediation on a phone in Chromium: the link's page lists the
mediator's free evening slots by day (the one the mediator is already booked in is not there),
in the court's zone with the party's own (Berlin) in small print; a tap selects, "确认预约"
books it and the page shows the booking; the notice of mediation goes out by SMS. In English
too; a forged link says so. Screenshots go to test-artifacts/."""

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
from support.serving import SmsGateway, serving_settings, start_gateway

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
    return replace(s, courtrooms=["第一法庭", "调解室"])


def evening(days: int, hour: int) -> datetime:
    day = datetime.now(BEIJING).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, tzinfo=BEIJING)


async def test_a_party_picks_the_mediation_time_on_a_phone(
    server: TestServer,
    launch: Any,
    artifacts: Path,
    admin_headers: dict[str, str],
    gateway: tuple[SmsGateway, str],
) -> None:
    base = f"http://127.0.0.1:{server.port}"
    async with aiohttp.ClientSession(base, headers=admin_headers) as http:
        windows = [
            {"start": evening(d, 19).isoformat(), "end": evening(d, 22).isoformat()} for d in (1, 2)
        ]
        async with http.post(
            "/api/schedule/windows", json={"mediator": {"name": "孙调解员"}, "windows": windows}
        ) as resp:
            assert resp.status == 201, await resp.text()
        async with http.post(
            "/api/hearings",
            json={**HEARING_BODY, "kind": "mediation", "case_number": "(2026)京0105民调9号"},
        ) as resp:
            other = (await resp.json())["id"]
        async with http.post(
            f"/api/hearings/{other}/schedule",
            json={"start": evening(1, 20).isoformat(), "duration_minutes": 60,
                  "people": [{"role": "mediator", "name": "孙调解员"}]},
        ) as resp:  # fmt: skip
            assert resp.status == 201, await resp.text()
        async with http.post("/api/hearings", json={**HEARING_BODY, "kind": "mediation"}) as resp:
            hid = (await resp.json())["id"]
        async with http.post(
            f"/api/hearings/{hid}/slot-links",
            json={"mediator": {"name": "孙调解员"}, "minutes": 60, "courtroom": "调解室",
                  "party": {"name": "张三", "phone": "13800138000",
                            "time_zone": "Europe/Berlin"}},
        ) as resp:  # fmt: skip
            assert resp.status == 201, await resp.text()
            url = (await resp.json())["url"]

        phone = await launch("party", "party", width=390, height=844, mobile=True)
        page = phone.page
        await page.goto(url)
        slots = page.locator(".pick-slot")
        await expect(slots).to_have_count(5, timeout=SERVER_MS)  # 19, 21 and 19, 20, 21
        await expect(page.locator(".pick-day h2")).to_have_count(2)
        await expect(page.locator("#pick-zone")).to_contain_text("Asia/Shanghai")
        await expect(page.locator("#pick-zone")).to_contain_text("Europe/Berlin")
        first_day = page.locator(".pick-day").first
        await expect(first_day.locator(".pick-slot")).to_have_count(2)
        await expect(first_day.locator(".pick-slot").first).to_contain_text("19:00")
        await expect(first_day.locator(".pick-slot").nth(1)).to_contain_text("21:00")
        await expect(first_day.locator(".pick-slot").first).to_contain_text("Europe/Berlin")
        # Nothing wider than the phone.
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390
        await page.screenshot(path=str(artifacts / "pick-slots-phone.png"), full_page=True)

        chosen = first_day.locator(".pick-slot").nth(1)
        await chosen.click()
        await expect(chosen).to_have_attribute("aria-pressed", "true")
        await expect(page.locator("#pick-chosen")).to_contain_text("21:00")
        await page.screenshot(path=str(artifacts / "pick-chosen-phone.png"))
        await page.locator("#pick-confirm").click()
        await expect(page.locator("#pick-booked")).to_be_visible(timeout=SERVER_MS)
        await expect(page.locator("#pick-booked")).to_contain_text("已预约调解时间")
        await expect(page.locator("#pick-booked")).to_contain_text("21:00")
        await page.screenshot(path=str(artifacts / "pick-booked-phone.png"))

        async with http.get(f"/api/hearings/{hid}/schedule") as resp:
            booking = await resp.json()
        assert datetime.fromisoformat(booking["start"]) == evening(1, 21)
        assert await server.app[keys.JOBS].drain(30.0, horizon_s=60)
        assert "调解通知书" in gateway[0].text_to("13800138000")

        # English, after a reload: the booking stays.
        await page.locator(".lang button", has_text="EN").click()
        await expect(page.locator("#pick-booked")).to_contain_text("Your mediation is booked")
        await page.reload()
        await expect(page.locator("#pick-booked")).to_be_visible(timeout=SERVER_MS)
        await expect(page.locator("#pick-booked")).to_contain_text("Your mediation is booked")
        await page.screenshot(path=str(artifacts / "pick-booked-phone-en.png"))

        # A forged link.
        await page.goto(f"{base}/pick#token=" + "A" * 43)
        await expect(page.locator("#pick-error")).to_be_visible(timeout=SERVER_MS)
        await expect(page.locator("#pick-error")).to_contain_text("not valid")
        await page.screenshot(path=str(artifacts / "pick-invalid-phone.png"))
