"""A served hearing rescheduled, then cancelled, each with a reason: every served address is
told once (SMS through the gateway, e-mail through SMTP) with the new time in the court's zone
and, for a participant in Berlin, in theirs too; the calendar file moves (new sequence, new
courtroom) and is then cancelled; the reminders of the old time, and after the cancellation of
any time, send nothing even when due."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient

from hearing_server import keys
from support.api import create_hearing
from support.serving import Mailbox, SmsGateway, link_in, summons_pdf
from support.stores import StoreBackend

BEIJING, BERLIN = ZoneInfo("Asia/Shanghai"), ZoneInfo("Europe/Berlin")


def day_after_tomorrow(hour: int) -> datetime:
    day = datetime.now(BEIJING).date() + timedelta(days=2)
    return datetime(day.year, day.month, day.day, hour, tzinfo=BEIJING)


async def reminders_due_now(backend: StoreBackend, start: datetime) -> None:
    """Make the pending reminders of ``start`` due now (as if the day had come)."""
    stamp = start.astimezone(UTC).isoformat()
    await backend.execute(
        backend.pick(
            sqlite="UPDATE jobs SET due_at = '2000-01-01T00:00:00.000000+00:00'",
            postgresql="UPDATE jobs SET due_at = '2000-01-01T00:00:00+00:00'",
        )
        + f" WHERE kind = 'serving.remind' AND state = 'pending' AND payload LIKE '%{stamp}%'"
    )


async def test_reschedule_and_cancel_tell_everyone_served_and_void_the_reminders(
    client: TestClient,
    admin_headers: dict[str, str],
    mailbox: tuple[Mailbox, int],
    gateway: tuple[SmsGateway, str],
    store_backend: StoreBackend,
) -> None:
    box, gw = mailbox[0], gateway[0]
    jobs = client.app[keys.JOBS]
    start = day_after_tomorrow(9)
    hid = (
        await create_hearing(
            client,
            admin_headers,
            scheduled_start=start.isoformat(),
            scheduled_end=(start + timedelta(hours=2)).isoformat(),
        )
    )["id"]
    doc = await (
        await client.post(
            f"/api/hearings/{hid}/documents?kind=summons&title=传票",
            data=summons_pdf(),
            headers={**admin_headers, "Content-Type": "application/pdf"},
        )
    ).json()
    resp = await client.post(
        f"/api/hearings/{hid}/documents/{doc['id']}/service",
        json={
            "recipients": [
                {"name": "张三", "phone": "13800138000", "time_zone": "Europe/Berlin"},
                {"name": "李四", "email": "lisi@example.com"},
            ]
        },
        headers=admin_headers,
    )
    assert resp.status == 201, await resp.text()
    # Booked at the time already served: nobody is told anything new.
    resp = await client.post(
        f"/api/hearings/{hid}/schedule",
        json={"start": start.isoformat(), "duration_minutes": 120, "courtroom": "第一法庭",
              "people": [{"role": "judge", "name": "王法官"},
                         {"role": "party", "name": "张三", "id": "13800138000",
                          "time_zone": "Europe/Berlin"}]},
        headers=admin_headers,
    )  # fmt: skip
    assert resp.status == 201, await resp.text()
    assert await jobs.drain(30.0, horizon_s=60)
    assert len(gw.posts) == 1 and len(box.mails) == 1
    served_sms = gw.text_to("13800138000")
    link = link_in(served_sms)

    # Moved to the afternoon of the next day, in another courtroom, for a reason.
    later = start + timedelta(days=1, hours=5)
    reason = "审判员临时出差"
    resp = await client.post(
        f"/api/hearings/{hid}/schedule/reschedule",
        json={"start": later.isoformat(), "duration_minutes": 90, "courtroom": "第二法庭",
              "reason": reason},
        headers=admin_headers,
    )  # fmt: skip
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["revision"] == 2
    assert await jobs.drain(30.0, horizon_s=60)
    assert len(gw.posts) == 2 and len(box.mails) == 2
    moved_sms = gw.delivered[gw.posts[1]]["text"]
    court_time = f"{later:%Y-%m-%d %H:%M} (Asia/Shanghai)"
    berlin_time = f"{later.astimezone(BERLIN):%Y-%m-%d %H:%M} (Europe/Berlin)"
    assert "开庭时间已变更" in moved_sms and f"{court_time} = {berlin_time}" in moved_sms
    assert "第二法庭" in moved_sms and reason in moved_sms
    moved_mail = mail_text(box, 1)
    assert court_time in moved_mail and "Europe/Berlin" not in moved_mail
    assert reason in moved_mail
    hearing = await (await client.get(f"/api/hearings/{hid}", headers=admin_headers)).json()
    assert datetime.fromisoformat(hearing["scheduled_start"]) == later
    assert datetime.fromisoformat(hearing["scheduled_end"]) == later + timedelta(minutes=90)

    # The calendar file of the link: the new time (UTC), the new room, a higher sequence.
    ics_path = urlsplit(link).path + "/calendar.ics"
    ics = (await (await client.get(ics_path)).text()).replace("\r\n ", "")
    assert f"DTSTART:{later.astimezone(UTC):%Y%m%dT%H%M%SZ}" in ics
    assert "SEQUENCE:2" in ics and "第二法庭" in ics and "STATUS:CONFIRMED" in ics
    page = await (await client.get(urlsplit(link).path)).text()
    assert re.search(re.escape(f"{court_time} = {berlin_time}"), page)

    # The old time's reminders, come due, send nothing; the new time's are planned.
    await reminders_due_now(store_backend, start)
    assert await jobs.drain(30.0, horizon_s=60)
    assert len(gw.posts) == 2 and len(box.mails) == 2
    pending = [
        j.due_at
        for j in await client.app[keys.STORE].list_jobs(kind="serving.remind", state=None)
        if j.state.value == "pending"
    ]
    assert sorted(set(pending)) == [later - timedelta(hours=24), later - timedelta(hours=1)]

    # Cancelled: everyone told once, with the reason; the calendar event is cancelled.
    resp = await client.post(
        f"/api/hearings/{hid}/schedule/cancel", json={"reason": "原告撤诉"}, headers=admin_headers
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["status"] == "cancelled"
    assert await jobs.drain(30.0, horizon_s=60)
    assert len(gw.posts) == 3 and len(box.mails) == 3
    cancelled_sms = gw.delivered[gw.posts[2]]["text"]
    assert "已取消" in cancelled_sms and "原告撤诉" in cancelled_sms
    assert "is cancelled" in mail_text(box, 2) and "原告撤诉" in mail_text(box, 2)
    assert f"{court_time} = {berlin_time}" in cancelled_sms
    ics = (await (await client.get(ics_path)).text()).replace("\r\n ", "")
    assert "STATUS:CANCELLED" in ics and "METHOD:CANCEL" in ics and "SEQUENCE:3" in ics
    hearing = await (await client.get(f"/api/hearings/{hid}", headers=admin_headers)).json()
    assert hearing["state"] == "closed"
    # The new time's reminders, come due, send nothing either.
    await reminders_due_now(store_backend, later)
    assert await jobs.drain(30.0, horizon_s=60)
    assert len(gw.posts) == 3 and len(box.mails) == 3

    audit = await (await client.get(f"/api/hearings/{hid}/audit", headers=admin_headers)).json()
    events = [e["event"] for e in audit["entries"]]
    for event, times in (
        ("hearing_scheduled", 1),
        ("hearing_rescheduled", 1),
        ("hearing_cancelled", 1),
        ("service_reschedule_sent", 2),
        ("service_cancellation_sent", 2),
        ("service_reminder_sent", 0),
    ):
        assert events.count(event) == times, (event, events)
    cancelled = next(e for e in audit["entries"] if e["event"] == "hearing_cancelled")
    assert cancelled["actor"] == "staff:admin" and cancelled["data"]["reason"] == "原告撤诉"


def mail_text(box: Mailbox, n: int) -> str:
    part = box.mails[n][1].get_body(("plain",))
    assert part is not None
    return str(part.get_content())
