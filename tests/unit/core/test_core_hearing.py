"""The hearing state machine and the hearing's own validation."""

from __future__ import annotations

import itertools
from dataclasses import FrozenInstanceError, replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from hearing_server.core.errors import DomainError, InvalidTransition, ValidationError
from hearing_server.core.hearing import (
    Hearing,
    HearingAction,
    HearingKind,
    HearingState,
    validate_case_number,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

# Written out by hand (docs/domain.md "Hearing states"), not derived from TRANSITIONS, so that a
# change to the table has to be made twice on purpose.
EXPECTED: dict[tuple[str, str], str] = {
    ("scheduled", "open"): "open",
    ("scheduled", "close"): "closed",
    ("open", "start"): "in_session",
    ("open", "close"): "closed",
    ("in_session", "pause"): "paused",
    ("in_session", "suspend"): "suspended",
    ("in_session", "adjourn"): "adjourned",
    ("in_session", "close"): "closed",
    ("paused", "resume"): "in_session",
    ("paused", "close"): "closed",
    ("suspended", "resume"): "in_session",
    ("suspended", "close"): "closed",
}
STATES = ["scheduled", "open", "in_session", "paused", "suspended", "adjourned", "closed"]
ACTIONS = ["open", "start", "pause", "resume", "suspend", "adjourn", "close"]


def make_hearing(**changes: object) -> Hearing:
    fields: dict[str, object] = {
        "id": "h1",
        "kind": HearingKind.HEARING,
        "case_number": "(2026)京0105民初12345号",
        "court": "Chaoyang District People's Court",
        "title": "Zhang v. Li",
        "scheduled_start": T0,
        "scheduled_end": T0 + timedelta(hours=2),
    }
    fields.update(changes)
    return Hearing(**fields)  # type: ignore[arg-type]


def test_enums_hold_exactly_the_states_and_actions_the_table_covers() -> None:
    assert [s.value for s in HearingState] == STATES
    assert [a.value for a in HearingAction] == ACTIONS


@pytest.mark.parametrize(("state", "action"), list(itertools.product(STATES, ACTIONS)))
def test_every_state_action_pair(state: str, action: str) -> None:
    hearing = make_hearing(state=HearingState(state))
    target = EXPECTED.get((state, action))
    assert hearing.can(HearingAction(action)) is (target is not None)
    if target is None:
        with pytest.raises(InvalidTransition) as info:
            hearing.apply(HearingAction(action), T0)
        assert info.value.code == "invalid_transition"
        assert state in info.value.message and action in info.value.message
        assert hearing.state is HearingState(state)  # untouched
    else:
        after = hearing.apply(HearingAction(action), T0)
        assert after.state is HearingState(target)
        assert after is not hearing


def test_terminal_states_are_closed_and_adjourned() -> None:
    terminal = {s for s in STATES if make_hearing(state=HearingState(s)).is_terminal}
    assert terminal == {"closed", "adjourned"}


def test_actual_start_is_stamped_on_the_first_in_session_only() -> None:
    t1, t2, t3, t4 = (T0 + timedelta(minutes=m) for m in (1, 2, 3, 4))
    h = make_hearing().apply(HearingAction.OPEN, T0)
    assert h.actual_start is None
    h = h.apply(HearingAction.START, t1)
    assert h.actual_start == t1
    h = h.apply(HearingAction.PAUSE, t2).apply(HearingAction.RESUME, t3)
    assert h.actual_start == t1
    h = h.apply(HearingAction.SUSPEND, t3).apply(HearingAction.RESUME, t4)
    assert h.actual_start == t1
    assert h.actual_end is None


@pytest.mark.parametrize(
    ("path", "stamps_start"),
    [
        (["open", "start", "close"], True),
        (["open", "start", "adjourn"], True),
        (["open", "start", "pause", "close"], True),
        (["open", "start", "suspend", "close"], True),
        (["open", "close"], False),
        (["close"], False),
    ],
)
def test_actual_end_is_stamped_on_closed_and_adjourned(path: list[str], stamps_start: bool) -> None:
    h = make_hearing()
    for i, action in enumerate(path):
        assert h.actual_end is None
        h = h.apply(HearingAction(action), T0 + timedelta(minutes=i))
    assert h.actual_end == T0 + timedelta(minutes=len(path) - 1)
    assert (h.actual_start is not None) is stamps_start
    assert h.is_terminal


def test_adjourn_links_the_next_sitting() -> None:
    h = make_hearing(state=HearingState.IN_SESSION, actual_start=T0)
    adjourned = h.apply(HearingAction.ADJOURN, T0 + timedelta(hours=1), next_sitting_id="h2")
    assert adjourned.state is HearingState.ADJOURNED
    assert adjourned.next_sitting_id == "h2"


def test_apply_rejects_a_naive_now() -> None:
    with pytest.raises(ValidationError) as info:
        make_hearing().apply(HearingAction.OPEN, datetime(2026, 3, 2, 9, 0))
    assert info.value.code == "invalid_date"


def test_hearing_is_immutable() -> None:
    h = make_hearing()
    with pytest.raises(FrozenInstanceError):
        h.state = HearingState.OPEN  # type: ignore[misc]


@pytest.mark.parametrize(
    "field", ["scheduled_start", "scheduled_end", "actual_start", "actual_end", "created_at"]
)
def test_naive_datetimes_are_rejected(field: str) -> None:
    naive = datetime(2026, 3, 2, 8, 0) if field != "scheduled_end" else datetime(2026, 3, 2, 12)
    with pytest.raises(ValidationError) as info:
        make_hearing(**{field: naive})
    assert info.value.code == "invalid_date"


@pytest.mark.parametrize("delta", [timedelta(0), timedelta(seconds=-1), timedelta(hours=-3)])
def test_end_must_be_after_start(delta: timedelta) -> None:
    with pytest.raises(ValidationError) as info:
        make_hearing(scheduled_end=T0 + delta)
    assert info.value.code == "invalid_date"


def test_times_in_other_timezones_are_accepted() -> None:
    beijing = timezone(timedelta(hours=8))
    h = make_hearing(
        scheduled_start=datetime(2026, 3, 2, 17, 0, tzinfo=beijing),
        scheduled_end=datetime(2026, 3, 2, 18, 0, tzinfo=beijing),
    )
    assert h.scheduled_start == T0


@pytest.mark.parametrize(
    "changes",
    [{"court": " "}, {"title": ""}, {"title": "x" * 201}, {"court": "x" * 201}],
)
def test_court_and_title_are_checked(changes: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        make_hearing(**changes)


def test_case_number_is_validated_and_stored_normalised() -> None:
    assert make_hearing(case_number="  CV-2026-000123 ").case_number == "CV-2026-000123"
    with pytest.raises(ValidationError) as info:
        make_hearing(case_number="<script>")
    assert info.value.code == "invalid_case_number"


def test_replace_revalidates() -> None:
    with pytest.raises(ValidationError):
        replace(make_hearing(), scheduled_end=T0)


@pytest.mark.parametrize(
    "value",
    [
        "(2026)京0105民初12345号",
        "\uff082026\uff09京0105民初12345号",  # full-width parentheses
        "CV-2026-000123",
        "2026/123",
        "No. 12 #3",
        "x" * 63 + "1",
    ],
)
def test_valid_case_numbers(value: str) -> None:
    assert validate_case_number(value) == value


def test_case_number_is_stripped() -> None:
    assert validate_case_number("  CV-2026-000123  ") == "CV-2026-000123"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "ab",
        "12",
        "1" * 65,
        "1" * 200,
        "ABC-DEF",  # no digit
        "CV-2026\x00-1",
        "CV-2026-000123\n",
        "\tCV-2026-000123",
        "CV-2026-000123\x1f",  # str.strip() would eat this one
        "CV-2026-000123\x85",
        "CV-2026\u200b-000123",  # zero-width space
        "CV-2026\u202e-000123",  # right-to-left override
        "<script>",
        "<script>alert(1)</script>2026",
        "CV-2026-<b>1</b>",
        "CV'2026;DROP TABLE",
    ],
)
def test_invalid_case_numbers(value: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_case_number(value)
    assert info.value.code == "invalid_case_number"
    assert isinstance(info.value, DomainError)
