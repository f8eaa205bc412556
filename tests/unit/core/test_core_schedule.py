"""Scheduling rules: who and what clashes, half-open times, people recognised by their
identifier (staff by name), times checked, and times stated in two zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hearing_server.core.errors import ValidationError
from hearing_server.core.hearing import HearingKind
from hearing_server.core.schedule import (
    Booking,
    BookingStatus,
    check_times,
    clashes,
    person,
)
from hearing_server.service.serving_notices import both_times

T0 = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
JUDGE = person("judge", "王法官")
PARTY = person("party", "张三", "110101199001011234")


def booking(hid: str, start: datetime, hours: float = 2, room: str | None = "第一法庭",
            people: tuple = (), **kw: object) -> Booking:  # fmt: skip
    return Booking(hid, HearingKind.HEARING, start, start + timedelta(hours=hours), room,
                   people, **kw)  # type: ignore[arg-type]  # fmt: skip


def test_the_same_room_judge_or_party_at_overlapping_times_clash() -> None:
    held = booking("h1", T0, people=(JUDGE, PARTY))
    room = clashes(booking("h2", T0 + timedelta(hours=1)), [held])
    assert [(c.what, c.name, c.hearing_id) for c in room] == [("courtroom", "第一法庭", "h1")]
    judge = clashes(booking("h2", T0, room="第二法庭", people=(person("judge", "王法官"),)), [held])
    assert [(c.what, c.name) for c in judge] == [("judge", "王法官")]
    # The party is recognised by the identifier, however the name is written this time.
    party = person("party", "张 三", " 110101199001011234 ")
    found = clashes(booking("h2", T0, room=None, people=(party,)), [held])
    assert [(c.what, c.name) for c in found] == [("party", "张 三")]


def test_what_does_not_clash() -> None:
    held = booking("h1", T0, people=(JUDGE, PARTY))
    # One ends at 11:00, the next starts at 11:00.
    assert clashes(booking("h2", T0 + timedelta(hours=2), people=(JUDGE,)), [held]) == []
    # Online only (no courtroom), other people.
    assert clashes(booking("h2", T0, room=None, people=(person("judge", "李法官"),)), [held]) == []
    # Two parties with the same name but no identifier are not assumed to be one person.
    assert clashes(booking("h2", T0, room=None, people=(person("party", "张三"),)), [held]) == []
    # A cancelled booking holds nothing; a booking never clashes with itself.
    gone = booking("h1", T0, people=(JUDGE,), status=BookingStatus.CANCELLED)
    assert clashes(booking("h2", T0, people=(JUDGE,)), [gone]) == []
    assert clashes(booking("h1", T0, people=(JUDGE,)), [held]) == []


def test_people_and_times_are_checked() -> None:
    for bad in (
        lambda: person("bailiff", "某人"),
        lambda: person("party", ""),
        lambda: person("party", "张三\u202e"),
        lambda: person("party", "张三", time_zone="Mars/Olympus"),
        lambda: person("party", "张三", "1" * 65),
    ):
        with pytest.raises(ValidationError):
            bad()
    assert person("mediator", "孙调解员").key == "staff:孙调解员"
    assert person("party", "李四", "+86 138 0013 8000").key == "id:13800138000"
    now = T0 - timedelta(days=1)
    check_times(T0, T0 + timedelta(hours=1), now)
    with pytest.raises(ValidationError, match="past"):
        check_times(now - timedelta(minutes=1), now + timedelta(hours=1), now)
    with pytest.raises(ValidationError):
        check_times(T0, T0 + timedelta(minutes=4), now)
    with pytest.raises(ValidationError):
        check_times(T0, T0 + timedelta(hours=13), now)
    with pytest.raises(ValidationError):
        check_times(T0.replace(tzinfo=None), T0 + timedelta(hours=1), now)


def test_a_time_is_stated_in_the_courts_zone_and_the_recipients() -> None:
    assert both_times(T0, "Asia/Shanghai", None) == "2026-12-08 09:00 (Asia/Shanghai)"
    assert both_times(T0, "Asia/Shanghai", "Asia/Chongqing") == "2026-12-08 09:00 (Asia/Shanghai)"
    assert both_times(T0, "Asia/Shanghai", "Europe/Berlin") == (
        "2026-12-08 09:00 (Asia/Shanghai) = 2026-12-08 02:00 (Europe/Berlin)"
    )
    # New York is still on the day before.
    assert both_times(T0, "Asia/Shanghai", "America/New_York").endswith(
        "= 2026-12-07 20:00 (America/New_York)"
    )
