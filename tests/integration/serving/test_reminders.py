"""Reminders and reschedules of a served hearing: the 1 h reminder goes out by SMS when due,
stating the time in Asia/Shanghai and linking the calendar file (UTC times, so a participant in
another zone sees their own local time); moving the hearing tells each recipient once and
drops the reminders of the old time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient

from hearing_server import keys
from hearing_server.app import create_app
from hearing_server.config import Settings
from support.api import HEARING_BODY
from support.serving import (
    Mailbox,
    SmsGateway,
    serving_settings,
    smtp_server,
    start_gateway,
    summons_pdf,
)

LINK_ICS = r"(https?://\S+/s/[A-Za-z0-9_-]+/calendar\.ics)"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    yield from smtp_server()


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[SmsGateway, str]]:
    gw = SmsGateway()
    runner, url = await start_gateway(gw)
    yield gw, url
    await runner.cleanup()


async def _serve(client: TestClient, headers: dict[str, str], start: datetime) -> str:
    body = {
        **HEARING_BODY,
        "scheduled_start": start.isoformat(),
        "scheduled_end": (start + timedelta(hours=2)).isoformat(),
    }
    hid = (await (await client.post("/api/hearings", json=body, headers=headers)).json())["id"]
    doc = await (
        await client.post(
            f"/api/hearings/{hid}/documents?kind=summons&title=传票",
            data=summons_pdf(),
            headers={**headers, "Content-Type": "application/pdf"},
        )
    ).json()
    resp = await client.post(
        f"/api/hearings/{hid}/documents/{doc['id']}/service",
        json={"recipients": [{"name": "张三", "phone": "13800138000"}]},
        headers=headers,
    )
    assert resp.status == 201, await resp.text()
    return str(hid)


async def test_the_one_hour_reminder_and_a_reschedule(
    aiohttp_client: Any,
    settings: Settings,
    admin_headers: dict[str, str],
    mailbox: tuple[Mailbox, int],
    gateway: tuple[SmsGateway, str],
) -> None:
    import re

    gw = gateway[0]
    client: TestClient = await aiohttp_client(
        create_app(serving_settings(settings, gateway_url=gateway[1], smtp_port=mailbox[1]))
    )
    # Starts in 1 h and 2 s: the 24 h reminder is already past, the 1 h one is due in 2 s.
    start = (datetime.now(UTC) + timedelta(hours=1, seconds=2)).replace(microsecond=0)
    hid = await _serve(client, admin_headers, start)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while len(gw.posts) < 2:
        assert loop.time() < deadline, gw.posts
        await asyncio.sleep(0.1)
    served, reminder = (gw.delivered[k]["text"] for k in gw.posts)
    local = start.astimezone(ZoneInfo("Asia/Shanghai"))
    stamp = f"{local:%Y-%m-%d %H:%M} (Asia/Shanghai)"
    assert "开庭提醒" not in served and "距开庭约1小时" in reminder and stamp in reminder
    assert "in about 1 h" in reminder
    calendar = re.search(LINK_ICS, reminder)
    assert calendar is not None
    resp = await client.get(urlsplit(calendar.group(1)).path)
    assert resp.status == 200 and resp.content_type == "text/calendar"
    ics = (await resp.text()).replace("\r\n ", "")
    assert f"DTSTART:{start:%Y%m%dT%H%M%SZ}" in ics and "Asia/Shanghai" in ics
    # A participant in New York: the same instant, their own clock.
    assert start.astimezone(ZoneInfo("America/New_York")).utcoffset() != local.utcoffset()
    assert (await client.get("/s/" + "A" * 43 + "/calendar.ics")).status == 404

    # Moved to tomorrow afternoon: one notice with the new time; the old reminders are void.
    later = (start + timedelta(days=1, hours=5)).astimezone(ZoneInfo("Asia/Shanghai"))
    resp = await client.patch(
        f"/api/hearings/{hid}",
        json={
            "scheduled_start": later.isoformat(),
            "scheduled_end": (later + timedelta(hours=2)).isoformat(),
        },
        headers=admin_headers,
    )
    assert resp.status == 200, await resp.text()
    assert await client.app[keys.JOBS].drain(30.0, horizon_s=60)
    assert len(gw.posts) == 3
    moved = gw.delivered[gw.posts[2]]["text"]
    assert "开庭时间已变更" in moved and f"{later:%Y-%m-%d %H:%M} (Asia/Shanghai)" in moved
    # Other changes to the hearing (its title; opening it) tell nobody anything.
    await client.patch(f"/api/hearings/{hid}", json={"title": "新标题"}, headers=admin_headers)
    await client.post(
        f"/api/hearings/{hid}/transitions", json={"action": "open"}, headers=admin_headers
    )
    assert await client.app[keys.JOBS].drain(30.0, horizon_s=60)
    assert len(gw.posts) == 3
    # The new time's reminders wait for it: 24 h and 1 h before.
    jobs = await client.app[keys.STORE].list_jobs(kind="serving.remind", state=None)
    due = sorted(j.due_at for j in jobs if j.state.value == "pending")
    assert due == [later - timedelta(hours=24), later - timedelta(hours=1)]
    audit = await (await client.get(f"/api/hearings/{hid}/audit", headers=admin_headers)).json()
    events = [e["event"] for e in audit["entries"]]
    assert events.count("service_reminder_sent") == 1
    assert events.count("service_reschedule_sent") == 1
