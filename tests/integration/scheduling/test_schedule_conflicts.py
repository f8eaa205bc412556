"""Booking hearings through the API: a courtroom, a judge or a party double-booked is a 409
naming every clash; staff may accept clashes with a reason (audited) and the calendar then
shows them; bad input is a clear 4xx and changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient

from support.api import create_hearing

BEIJING = ZoneInfo("Asia/Shanghai")
ID_ZHANG = "110101199001011234"


def tomorrow(hour: int, minute: int = 0) -> datetime:
    day = datetime.now(BEIJING).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BEIJING)


def body(
    start: datetime,
    *,
    room: str | None = "第一法庭",
    judge: str = "王法官",
    party: tuple[str, str | None] = ("张三", ID_ZHANG),
    **extra: Any,
) -> dict[str, Any]:
    people = [{"role": "judge", "name": judge}, {"role": "party", "name": party[0]}]
    if party[1] is not None:
        people[1]["id"] = party[1]
    return {"start": start.isoformat(), "duration_minutes": 120, "courtroom": room,
            "people": people, **extra}  # fmt: skip


async def book(client: TestClient, headers: dict[str, str], hid: str, data: Any) -> Any:
    return await client.post(f"/api/hearings/{hid}/schedule", json=data, headers=headers)


async def test_double_bookings_are_refused_with_every_clash_named(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    h1 = (await create_hearing(client, admin_headers))["id"]
    resp = await book(client, admin_headers, h1, body(tomorrow(9)))
    assert resp.status == 201, await resp.text()
    first = await resp.json()
    assert first["courtroom"] == "第一法庭" and first["revision"] == 1
    assert first["start"] == tomorrow(9).astimezone(UTC).isoformat()
    hearing = await (await client.get(f"/api/hearings/{h1}", headers=admin_headers)).json()
    assert datetime.fromisoformat(hearing["scheduled_end"]) == tomorrow(11)

    h2 = (await create_hearing(client, admin_headers, case_number="(2026)京0105民初20001号"))["id"]
    cases = [
        # the same judge at 10:00 in another room
        (body(tomorrow(10), room="第二法庭", party=("赵六", None)), {("judge", "王法官")}),
        # another judge in the same room
        (body(tomorrow(10, 30), judge="李法官", party=("赵六", None)),
         {("courtroom", "第一法庭")}),
        # the same party (by ID number; the name written otherwise), online
        (body(tomorrow(8), room=None, judge="李法官", party=("张 三", ID_ZHANG)),
         {("party", "张 三")}),
        # everything at once
        (body(tomorrow(9)), {("courtroom", "第一法庭"), ("judge", "王法官"),
                             ("party", "张三")}),
    ]  # fmt: skip
    for data, expected in cases:
        resp = await book(client, admin_headers, h2, data)
        assert resp.status == 409, await resp.text()
        answer = await resp.json()
        assert answer["code"] == "schedule_conflict"
        assert {(c["what"], c["name"]) for c in answer["conflicts"]} == expected
        assert {c["hearing_id"] for c in answer["conflicts"]} == {h1}
        assert answer["conflicts"][0]["case_number"] == "(2026)京0105民初12345号"
    assert (await client.get(f"/api/hearings/{h2}/schedule", headers=admin_headers)).status == 404

    # Right after: 11:00 in the same room with the same judge and party.
    resp = await book(client, admin_headers, h2, body(tomorrow(11)))
    assert resp.status == 201, await resp.text()

    # A clash accepted on purpose, with a reason: booked, audited, shown on the calendar.
    h3 = (await create_hearing(client, admin_headers, case_number="(2026)京0105民初20002号"))["id"]
    reason = "关联案件 同一审判员合并审理"
    resp = await book(client, admin_headers, h3,
                      body(tomorrow(10), room="第二法庭", override_reason=reason))  # fmt: skip
    assert resp.status == 201, await resp.text()
    booked = await resp.json()
    assert booked["override"] == reason
    assert {(c["what"], c["hearing_id"]) for c in booked["overridden"]} == {
        ("judge", h1),
        ("party", h1),
        ("judge", h2),
        ("party", h2),
    }
    audit = await (await client.get(f"/api/hearings/{h3}/audit", headers=admin_headers)).json()
    overridden = [e for e in audit["entries"] if e["event"] == "schedule_conflict_overridden"]
    assert len(overridden) == 1 and overridden[0]["data"]["reason"] == reason
    assert overridden[0]["actor"] == "staff:admin"

    day = tomorrow(0)
    resp = await client.get(
        "/api/schedule",
        params={"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()},
        headers=admin_headers,
    )
    assert resp.status == 200, await resp.text()
    calendar = await resp.json()
    assert calendar["time_zone"] == "Asia/Shanghai"
    rows = {b["hearing_id"]: b for b in calendar["bookings"]}
    assert list(rows) == [h1, h3, h2]  # by start
    assert {c["hearing_id"] for c in rows[h1]["clashes"]} == {h3}
    assert {c["hearing_id"] for c in rows[h3]["clashes"]} == {h1, h2}
    assert rows[h1]["case_number"] == "(2026)京0105民初12345号"

    rooms = await (await client.get("/api/schedule/courtrooms", headers=admin_headers)).json()
    assert rooms == {"courtrooms": ["第一法庭", "第二法庭", "调解室"], "time_zone": "Asia/Shanghai"}


async def test_bad_scheduling_input_is_a_clear_4xx_and_changes_nothing(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    hid = (await create_hearing(client, admin_headers))["id"]
    ok = body(tomorrow(9))
    assert (await book(client, admin_headers, hid, ok)).status == 201
    before = await (await client.get(f"/api/hearings/{hid}/schedule", headers=admin_headers)).json()
    other = (await create_hearing(client, admin_headers, case_number="(2026)京0105民初30001号"))[
        "id"
    ]
    past = datetime.now(BEIJING) - timedelta(hours=1)
    bad: list[tuple[str, str, Any, int, str]] = [
        ("POST", f"/api/hearings/{other}/schedule", body(past), 422, "in_the_past"),
        ("POST", f"/api/hearings/{other}/schedule", body(tomorrow(14), room="大礼堂"), 422,
         "unknown_courtroom"),
        ("POST", f"/api/hearings/{other}/schedule",
         {**body(tomorrow(14)), "end": tomorrow(15).isoformat()}, 422, "invalid_field"),
        ("POST", f"/api/hearings/{other}/schedule", {**body(tomorrow(14)), "duration_minutes": 0},
         422, "invalid_duration"),
        ("POST", f"/api/hearings/{other}/schedule", {**body(tomorrow(14)), "duration_minutes": 780},
         422, "invalid_duration"),
        ("POST", f"/api/hearings/{other}/schedule",
         {**body(tomorrow(14)), "start": "2026-12-08T09:00:00"}, 422, "invalid_date"),
        ("POST", f"/api/hearings/{other}/schedule",
         {**body(tomorrow(14)), "people": [{"role": "party", "name": "张三",
                                            "time_zone": "Mars/Base"}]},
         422, "invalid_time_zone"),
        ("POST", f"/api/hearings/{other}/schedule", {**body(tomorrow(14)), "people": "张三"}, 422,
         "invalid_field"),
        ("POST", f"/api/hearings/{other}/schedule",
         {**body(tomorrow(14)), "people": [{"role": "king", "name": "张三"}]}, 422,
         "invalid_role"),
        ("POST", f"/api/hearings/{other}/schedule", {**body(tomorrow(14)), "colour": "red"}, 422,
         "unknown_field"),
        ("POST", f"/api/hearings/{other}/schedule", [1, 2], 400, "invalid_json"),
        ("POST", "/api/hearings/nope/schedule", body(tomorrow(14)), 404, "not_found"),
        ("POST", f"/api/hearings/{hid}/schedule", body(tomorrow(14)), 409, "already_booked"),
        ("PATCH", f"/api/hearings/{hid}",
         {"scheduled_start": tomorrow(14).isoformat(),
          "scheduled_end": tomorrow(15).isoformat()}, 409, "use_reschedule"),
        ("POST", f"/api/hearings/{hid}/schedule/reschedule", {"start": tomorrow(14).isoformat(),
         "duration_minutes": 60}, 422, "missing_field"),
        ("POST", f"/api/hearings/{hid}/schedule/reschedule", {"start": tomorrow(9).isoformat(),
         "duration_minutes": 120, "reason": "同一时间"}, 422, "no_change"),
        ("POST", f"/api/hearings/{hid}/schedule/reschedule", {"start": past.isoformat(),
         "duration_minutes": 60, "reason": "改期"}, 422, "in_the_past"),
        ("POST", f"/api/hearings/{hid}/schedule/cancel", {"reason": " "}, 422, "invalid_value"),
        ("POST", f"/api/hearings/{hid}/schedule/cancel", {"reason": "撤诉\x00"}, 422,
         "invalid_field"),
        ("POST", f"/api/hearings/{other}/schedule/reschedule", {"start": tomorrow(14).isoformat(),
         "duration_minutes": 60, "reason": "改期"}, 404, "not_found"),
        ("GET", "/api/schedule?from=2026-12-01T00:00:00%2B08:00", None, 422, "missing_field"),
        ("GET", "/api/schedule?from=2026-12-01T00:00:00%2B08:00&to=2027-03-01T00:00:00%2B08:00",
         None, 422, "invalid_range"),
        ("GET", "/api/schedule?from=yesterday&to=today", None, 422, "invalid_date"),
    ]  # fmt: skip
    for method, path, data, status, code in bad:
        resp = await client.request(method, path, json=data, headers=admin_headers)
        assert resp.status == status, (path, data, await resp.text())
        assert (await resp.json())["code"] == code, (path, data)
    # No credentials: 401.
    assert (await book(client, {}, other, body(tomorrow(14)))).status == 401
    forged = {"Authorization": "Bearer eyJhbGciOiJFZERTQSJ9.eyJzdGFmZiI6ImFkbWluIn0.AAAA"}
    assert (await book(client, forged, other, body(tomorrow(14)))).status == 401
    after = await (await client.get(f"/api/hearings/{hid}/schedule", headers=admin_headers)).json()
    assert after == before
    assert (
        await client.get(f"/api/hearings/{other}/schedule", headers=admin_headers)
    ).status == 404
    # A cancelled hearing cannot be cancelled or moved again.
    resp = await client.post(f"/api/hearings/{hid}/schedule/cancel", json={"reason": "撤诉"},
                             headers=admin_headers)  # fmt: skip
    assert resp.status == 200, await resp.text()
    again = await client.post(f"/api/hearings/{hid}/schedule/cancel", json={"reason": "撤诉"},
                              headers=admin_headers)  # fmt: skip
    assert again.status == 409
    # Its courtroom and people are free again.
    assert (await book(client, admin_headers, other, body(tomorrow(9)))).status == 201
