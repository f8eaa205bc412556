"""A summons served by SMS is opened and confirmed in Chromium on a phone: the link from the
message (sent through an HTTP SMS gateway the test runs) shows the document in Chinese, the
recipient presses "我确认已收到", and the clerk's status shows the delivery opened and then
confirmed. Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from hearing_server import keys
from hearing_server.config import Settings
from support.api import HEARING_BODY
from support.serving import (
    Mailbox,
    SmsGateway,
    link_in,
    serving_settings,
    smtp_server,
    start_gateway,
    summons_pdf,
)

pytestmark = pytest.mark.browser

SERVER_MS = 30_000


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    yield from smtp_server()


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[SmsGateway, str]]:
    gw = SmsGateway()
    runner, url = await start_gateway(gw)
    yield gw, url
    await runner.cleanup()


@pytest.fixture
def settings(
    settings: Settings, mailbox: tuple[Mailbox, int], gateway: tuple[SmsGateway, str]
) -> Settings:
    return serving_settings(settings, gateway_url=gateway[1], smtp_port=mailbox[1])


async def test_a_served_summons_is_opened_and_confirmed_on_a_phone(
    server: TestServer,
    launch: Any,
    artifacts: Path,
    admin_headers: dict[str, str],
    gateway: tuple[SmsGateway, str],
) -> None:
    base = f"http://127.0.0.1:{server.port}"
    async with aiohttp.ClientSession(base, headers=admin_headers) as http:
        async with http.post("/api/hearings", json=HEARING_BODY) as resp:
            hid = (await resp.json())["id"]
        async with http.post(
            f"/api/hearings/{hid}/documents?kind=summons&title=传票",
            data=summons_pdf(),
            headers={"Content-Type": "application/pdf"},
        ) as resp:
            doc = await resp.json()
        async with http.post(
            f"/api/hearings/{hid}/documents/{doc['id']}/service",
            json={"recipients": [{"name": "张三", "phone": "13800138000"}]},
        ) as resp:
            assert resp.status == 201, await resp.text()
        assert await server.app[keys.JOBS].drain(30.0, horizon_s=60)
        link = link_in(gateway[0].text_to("13800138000"))
        assert link.startswith(base)

        phone = await launch("party", "party", width=390, height=844, mobile=True)
        page = phone.page
        await page.goto(link)
        await expect(page.locator("#document-title")).to_have_text("传票")
        await expect(page.locator("#open-document")).to_be_visible()

        async def statuses() -> list[str]:
            async with http.get(f"/api/hearings/{hid}/service") as resp:
                body = await resp.json()
            return [d["status"] for d in body["documents"][0]["deliveries"]]

        assert await statuses() == ["opened"]
        await page.screenshot(path=str(artifacts / "serving-tracking-page.png"))
        await page.locator("#confirm").click()
        await expect(page.locator("#confirmed")).to_be_visible(timeout=SERVER_MS)
        await expect(page.locator("#confirmed")).to_contain_text("您已确认收到")
        await page.screenshot(path=str(artifacts / "serving-confirmed.png"))
        assert await statuses() == ["confirmed"]
        await page.goto(link + "?lang=en")
        await expect(page.locator("#confirmed")).to_contain_text("You have confirmed receipt")


async def test_the_board_lists_failed_service_and_records_service_by_phone(
    server: TestServer,
    launch: Any,
    artifacts: Path,
    admin_headers: dict[str, str],
) -> None:
    base = f"http://127.0.0.1:{server.port}"
    async with aiohttp.ClientSession(base, headers=admin_headers) as http:
        async with http.post("/api/hearings", json=HEARING_BODY) as resp:
            hid = (await resp.json())["id"]
        async with http.post(
            f"/api/hearings/{hid}/documents?kind=summons&title=传票",
            data=summons_pdf(),
            headers={"Content-Type": "application/pdf"},
        ) as resp:
            doc = await resp.json()
        # The SMTP server refuses this address: the delivery fails and needs a call.
        async with http.post(
            f"/api/hearings/{hid}/documents/{doc['id']}/service",
            json={"recipients": [{"name": "李四", "email": "li@refused.example"}]},
        ) as resp:
            [delivery] = (await resp.json())["deliveries"]
        assert await server.app[keys.JOBS].drain(30.0, horizon_s=60)
        async with http.post("/api/staff-tokens", json={"name": "赵书记员"}) as resp:
            staff = (await resp.json())["token"]

        clerk = await launch("clerk", "judge", width=1440, height=900)
        page = clerk.page
        await page.goto(f"{base}/board#token={staff}")
        row = page.locator(f"[data-testid='board-follow-up'] [data-delivery-id='{delivery['id']}']")
        await expect(row).to_be_visible(timeout=SERVER_MS)
        await expect(row).to_contain_text("李四")
        await expect(row).to_contain_text("发送失败")
        await expect(row).to_contain_text(HEARING_BODY["case_number"])
        await page.screenshot(path=str(artifacts / "serving-board-follow-up.png"))
        page.once("dialog", lambda dialog: dialog.accept("12月7日10:00 电话告知 本人接听"))
        await row.locator("[data-action='served-by-phone']").click()
        await expect(row).to_have_count(0, timeout=SERVER_MS)

        async with http.get(f"/api/hearings/{hid}/service") as resp:
            deliveries = (await resp.json())["documents"][0]["deliveries"]
        by_phone = [d for d in deliveries if d["channel"] == "phone"]
        assert len(by_phone) == 1 and by_phone[0]["status"] == "confirmed"
        assert by_phone[0]["note"] == "12月7日10:00 电话告知 本人接听"
        assert by_phone[0]["recorded_by"] == "staff:赵书记员"
