"""Mediators' after-hours windows and a party's slot link through the real app: the windows
are checked (no overlap, none in the past), the link offers the free slots only (a slot the
mediator is already booked in is not offered), the pick books the mediation and serves the
notice of mediation on the party by SMS (its PDF read back with pdftotext: case, room, both
time zones, the join link); forged, expired and repeated picks get clear 4xx answers."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient

from hearing_server import keys
from support.api import add_participant, create_hearing
from support.serving import Mailbox, SmsGateway, link_in
from support.stores import StoreBackend

BEIJING = ZoneInfo("Asia/Shanghai")
MEDIATOR = {"name": "孙调解员"}


def evening(days: int, hour: int, minute: int = 0) -> datetime:
    day = datetime.now(BEIJING).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BEIJING)


def span(days: int, start: int, end: int) -> dict[str, str]:
    return {"start": evening(days, start).isoformat(), "end": evening(days, end).isoformat()}


async def publish(client: TestClient, headers: dict[str, str], windows: Any) -> Any:
    return await client.post(
        "/api/schedule/windows", json={"mediator": MEDIATOR, "windows": windows}, headers=headers
    )


def pdf_text(data: bytes) -> str:
    out = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    )
    return out.stdout.decode()


async def test_a_party_picks_a_slot_in_the_mediators_evening_windows(
    client: TestClient,
    admin_headers: dict[str, str],
    gateway: tuple[SmsGateway, str],
    mailbox: tuple[Mailbox, int],
    store_backend: StoreBackend,
) -> None:
    gw = gateway[0]
    resp = await publish(client, admin_headers, [span(1, 19, 22), span(2, 19, 21)])
    assert resp.status == 201, await resp.text()
    assert len((await resp.json())["windows"]) == 2

    # Bad windows: overlapping each other or one published, in the past, too long, naive.
    past = datetime.now(BEIJING) - timedelta(hours=2)
    for windows, code in (
        ([span(3, 19, 21), span(3, 20, 22)], "overlapping_windows"),
        ([span(1, 21, 23)], "overlapping_windows"),
        ([{"start": past.isoformat(), "end": (past + timedelta(hours=1)).isoformat()}],
         "in_the_past"),
        ([span(3, 6, 20)], "invalid_window"),
        ([{"start": "2030-01-01T19:00:00", "end": "2030-01-01T20:00:00"}], "invalid_date"),
        ([], "invalid_window"),
        ("19:00-22:00", "invalid_field"),
    ):  # fmt: skip
        resp = await publish(client, admin_headers, windows)
        assert resp.status == 422, (windows, await resp.text())
        assert (await resp.json())["code"] == code, windows
    listed = await client.get(
        "/api/schedule/windows",
        params={"from": evening(0, 0).isoformat(), "to": evening(5, 0).isoformat(),
                "mediator": "孙调解员"},
        headers=admin_headers,
    )  # fmt: skip
    assert len((await listed.json())["windows"]) == 2  # nothing of the refused ones

    # The mediator is already booked tomorrow 20:00-21:00 in another mediation.
    other = (
        await create_hearing(
            client, admin_headers, kind="mediation", case_number="(2026)京0105民调100号"
        )
    )["id"]
    resp = await client.post(
        f"/api/hearings/{other}/schedule",
        json={"start": evening(1, 20).isoformat(), "duration_minutes": 60, "courtroom": None,
              "people": [{"role": "mediator", "name": "孙调解员"}]},
        headers=admin_headers,
    )  # fmt: skip
    assert resp.status == 201, await resp.text()

    hid = (await create_hearing(client, admin_headers, kind="mediation"))["id"]
    party = await add_participant(client, admin_headers, hid, "party", "张三", side="applicant")
    link_body = {
        "mediator": MEDIATOR,
        "party": {"name": "张三", "phone": "13800138000", "time_zone": "Europe/Berlin",
                  "participant_id": party["id"]},
        "minutes": 60,
        "courtroom": "调解室",
    }  # fmt: skip
    court_hearing = await create_hearing(client, admin_headers, case_number="(2026)京01民初9号")
    resp = await client.post(
        f"/api/hearings/{court_hearing['id']}/slot-links", json=link_body, headers=admin_headers
    )
    assert (resp.status, (await resp.json())["code"]) == (422, "not_a_mediation")
    resp = await client.post(
        f"/api/hearings/{hid}/slot-links", json={**link_body, "minutes": 5}, headers=admin_headers
    )
    assert (resp.status, (await resp.json())["code"]) == (422, "invalid_duration")
    resp = await client.post(
        f"/api/hearings/{hid}/slot-links", json=link_body, headers=admin_headers
    )
    assert resp.status == 201, await resp.text()
    url = (await resp.json())["url"]
    assert "/pick#token=" in url
    token = url.split("#token=")[1]

    resp = await client.get(f"/api/pick/{token}")
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    offer = await resp.json()
    starts = [datetime.fromisoformat(s) for s in offer["slots"]]
    assert starts == [evening(1, 19), evening(1, 21), evening(2, 19), evening(2, 20)]
    assert offer["time_zone"] == "Asia/Shanghai" and offer["own_time_zone"] == "Europe/Berlin"
    assert offer["mediator"] == "孙调解员" and offer["booked"] is None

    # Forged or mangled tokens, times that are not offered.
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for path in (f"/api/pick/{forged}", "/api/pick/short"):
        assert (await client.get(path)).status == 404
        assert (await client.post(path, json={"start": offer["slots"][0]})).status == 404
    for start, status, code in (
        (evening(1, 19, 30), 422, "not_a_slot"),
        (evening(1, 20), 409, "schedule_conflict"),  # the mediator is booked then
        (past, 422, "in_the_past"),
        (evening(9, 19), 422, "not_a_slot"),
    ):
        resp = await client.post(f"/api/pick/{token}", json={"start": start.isoformat()})
        assert (resp.status, (await resp.json())["code"]) == (status, code), start
    resp = await client.post(f"/api/pick/{token}", json={"start": "tomorrow"})
    assert resp.status == 422
    resp = await client.post(f"/api/pick/{token}", json={"when": offer["slots"][0]})
    assert resp.status == 422

    # The pick: booked, and the notice of mediation served on the party.
    resp = await client.post(f"/api/pick/{token}", json={"start": offer["slots"][0]})
    assert resp.status == 201, await resp.text()
    booking = await resp.json()
    assert booking["courtroom"] == "调解室"
    assert {(p["role"], p["name"]) for p in booking["people"]} == {
        ("mediator", "孙调解员"),
        ("party", "张三"),
    }
    hearing = await (await client.get(f"/api/hearings/{hid}", headers=admin_headers)).json()
    assert datetime.fromisoformat(hearing["scheduled_start"]) == evening(1, 19)
    assert await client.app[keys.JOBS].drain(30.0, horizon_s=60)
    sms = gw.text_to("13800138000")
    assert "调解通知书" in sms
    link = link_in(sms)
    pdf = await (await client.get(urlsplit(link).path + "/document")).read()
    text = pdf_text(pdf)
    assert "调解通知书" in text and "(2026)京0105民初12345号" in text and "调解室" in text
    when = evening(1, 19)
    assert f"{when:%Y-%m-%d %H:%M} - 20:00 (Asia/Shanghai)" in text
    berlin = when.astimezone(ZoneInfo("Europe/Berlin"))
    assert f"{berlin:%Y-%m-%d %H:%M} - {berlin + timedelta(hours=1):%H:%M} (Europe/Berlin)" in text
    assert "/join#token=" in text.replace("\n", "")

    # Picked once: a second pick is refused; the link shows the booking.
    resp = await client.post(f"/api/pick/{token}", json={"start": offer["slots"][1]})
    assert (resp.status, (await resp.json())["code"]) == (409, "already_booked")
    offer = await (await client.get(f"/api/pick/{token}")).json()
    assert offer["slots"] == [] and offer["booked"]["active"]
    audit = await (await client.get(f"/api/hearings/{hid}/audit", headers=admin_headers)).json()
    scheduled = [e for e in audit["entries"] if e["event"] == "hearing_scheduled"]
    assert len(scheduled) == 1 and scheduled[0]["actor"].startswith("slot-link:")
    assert any(e["event"] == "slot_link_issued" for e in audit["entries"])

    # An expired link: 410.
    resp = await client.post(
        f"/api/hearings/{other}/slot-links", json={**link_body, "party": {
            "name": "李四", "phone": "13900139000"}}, headers=admin_headers
    )  # fmt: skip
    late = (await resp.json())["url"].split("#token=")[1]
    await store_backend.execute(
        "UPDATE slot_links SET expires_at = '2000-01-01T00:00:00.000000+00:00' "
        "WHERE picked_at IS NULL"
    )
    assert (await client.get(f"/api/pick/{late}")).status == 410
    resp = await client.post(f"/api/pick/{late}", json={"start": evening(2, 19).isoformat()})
    assert resp.status == 410
