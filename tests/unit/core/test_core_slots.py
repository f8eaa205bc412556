"""Windows and slots: windows refused when in the past, too long or overlapping; a window cut
into whole slots from its start, past ones left out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hearing_server.core.errors import ValidationError
from hearing_server.core.slots import Window, check_windows, cut_slots

NOW = datetime(2026, 12, 8, 11, 30, tzinfo=UTC)  # 19:30 in Beijing
T0 = datetime(2026, 12, 8, 11, 0, tzinfo=UTC)


def w(start: datetime, hours: float, key: str = "staff:孙调解员") -> Window:
    return Window("w", key, "孙调解员", start, start + timedelta(hours=hours), "staff:a", NOW)


def test_a_window_is_cut_into_whole_future_slots() -> None:
    slots = cut_slots([w(T0, 3), w(T0 + timedelta(days=1), 2.5)], timedelta(hours=1), NOW)
    day2 = T0 + timedelta(days=1)
    assert slots == [T0 + timedelta(hours=1), T0 + timedelta(hours=2), day2,
                     day2 + timedelta(hours=1)]  # fmt: skip
    assert cut_slots([w(T0, 0.5)], timedelta(hours=1), T0 - timedelta(days=1)) == []


@pytest.mark.parametrize(
    ("windows", "existing", "code"),
    [
        ([w(NOW - timedelta(minutes=1), 2)], [], "in_the_past"),
        ([w(T0 + timedelta(days=1), 13)], [], "invalid_window"),
        ([w(T0 + timedelta(days=1), 0.2)], [], "invalid_window"),
        ([w(T0 + timedelta(days=70), 2)], [], "invalid_window"),
        ([], [], "invalid_window"),
        ([w(T0 + timedelta(days=1), 2), w(T0 + timedelta(days=1, hours=1), 2)], [],
         "overlapping_windows"),
        ([w(T0 + timedelta(days=1), 2)], [w(T0 + timedelta(days=1, hours=1), 2)],
         "overlapping_windows"),
    ],
)  # fmt: skip
def test_bad_windows(windows: list[Window], existing: list[Window], code: str) -> None:
    with pytest.raises(ValidationError) as err:
        check_windows(windows, existing, NOW)
    assert err.value.code == code


def test_what_is_fine() -> None:
    day = T0 + timedelta(days=1)
    # Back to back, and another mediator's at the same time.
    check_windows([w(day, 2), w(day + timedelta(hours=2), 1)], [w(day, 3, "staff:李")], NOW)
