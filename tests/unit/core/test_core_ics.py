"""The calendar file: UTC times any calendar converts, escaped text, folded lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hearing_server.core.ics import hearing_event

SHANGHAI = timezone(timedelta(hours=8))


def test_an_event_in_utc_with_escaped_and_folded_text() -> None:
    start = datetime(2026, 12, 8, 9, 0, tzinfo=SHANGHAI)
    text = hearing_event(
        uid="h-1@court.example",
        start=start,
        end=start + timedelta(hours=2),
        summary="北京市朝阳区人民法院 (2026)京0105民初12345号 开庭",
        description="张三诉李四; 买卖合同, 纠纷\n" + "长" * 60,
        location="第一法庭",
        stamp=datetime(2026, 12, 1, tzinfo=UTC),
    )
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")
    assert "DTSTART:20261208T010000Z" in lines and "DTEND:20261208T030000Z" in lines
    assert all(len(line.encode()) <= 75 for line in lines)
    unfolded = text.replace("\r\n ", "")
    assert "DESCRIPTION:张三诉李四\\; 买卖合同\\, 纠纷\\n" + "长" * 60 in unfolded
    assert unfolded.count("BEGIN:VEVENT") == 1 and "TRIGGER:-PT1H" in unfolded
