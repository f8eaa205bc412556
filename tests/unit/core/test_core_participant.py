"""The participant state machine, reconnection and where people go on joining."""

from __future__ import annotations

import itertools

import pytest

from hearing_server.core.errors import InvalidTransition, ValidationError
from hearing_server.core.participant import (
    Participant,
    ParticipantState,
    PartySide,
    Role,
    allowed_moves,
    party_side_of,
)

STATES = [
    "not_joined",
    "joining",
    "identifying",
    "waiting",
    "in_hearing",
    "in_consultation",
    "disconnected",
    "left",
    "unable_to_join",
]

# Hand-written from docs/domain.md "Participant states": not_joined -> joining -> waiting ->
# in_hearing <-> in_consultation (also from the waiting room); any live state -> disconnected
# or left; disconnected -> left (reconnecting is separate); retries from left/unable_to_join.
# Someone whose identity check is pending stays in "identifying" until cleared.
EXPECTED_MOVES: dict[str, set[str]] = {
    "not_joined": {"joining"},
    "joining": {
        "identifying",
        "waiting",
        "in_hearing",
        "unable_to_join",
        "disconnected",
        "left",
    },
    "identifying": {"waiting", "in_hearing", "unable_to_join", "disconnected", "left"},
    "waiting": {"in_hearing", "in_consultation", "disconnected", "left"},
    "in_hearing": {"waiting", "in_consultation", "disconnected", "left"},
    "in_consultation": {"waiting", "in_hearing", "disconnected", "left"},
    "disconnected": {"left"},
    "left": {"joining"},
    "unable_to_join": {"joining"},
}
LIVE = ["joining", "identifying", "waiting", "in_hearing", "in_consultation"]


def make(state: str = "not_joined", role: Role = Role.PARTY, **extra: object) -> Participant:
    if state == "disconnected":
        extra.setdefault("resume_state", ParticipantState.WAITING)
    if role is Role.PARTY:
        extra.setdefault("side", PartySide.PLAINTIFF)
    extra.setdefault("display_name", "张三")
    return Participant(
        id="p1",
        hearing_id="h1",
        role=role,
        state=ParticipantState(state),
        **extra,  # type: ignore[arg-type]
    )


def test_enum_holds_exactly_the_states_of_the_table() -> None:
    assert [s.value for s in ParticipantState] == STATES
    assert set(EXPECTED_MOVES) == set(STATES)


@pytest.mark.parametrize("state", STATES)
def test_allowed_moves_match_the_table(state: str) -> None:
    assert {s.value for s in allowed_moves(ParticipantState(state))} == EXPECTED_MOVES[state]


@pytest.mark.parametrize(("state", "target"), list(itertools.product(STATES, STATES)))
def test_every_move(state: str, target: str) -> None:
    p = make(state)
    if target in EXPECTED_MOVES[state]:
        after = p.move(ParticipantState(target))
        assert after.state is ParticipantState(target)
        if target == "disconnected":
            assert after.resume_state is ParticipantState(state)
        else:
            assert after.resume_state is None
    else:
        with pytest.raises(InvalidTransition) as info:
            p.move(ParticipantState(target))
        assert info.value.code == "invalid_transition"
        assert p.state is ParticipantState(state)


@pytest.mark.parametrize("state", LIVE)
def test_reconnect_returns_to_the_previous_state(state: str) -> None:
    p = make(state, audio_muted=True, hand_raised=True)
    gone = p.move(ParticipantState.DISCONNECTED)
    back = gone.reconnect()
    assert back.state is ParticipantState(state)
    assert back.resume_state is None
    # Nothing else about them changes across a reconnection.
    assert back.audio_muted and back.hand_raised


def test_reconnect_after_a_move_goes_to_the_latest_place() -> None:
    p = make("waiting").move(ParticipantState.IN_HEARING).move(ParticipantState.IN_CONSULTATION)
    assert p.move(ParticipantState.DISCONNECTED).reconnect().state is (
        ParticipantState.IN_CONSULTATION
    )


def test_giving_up_after_disconnecting_clears_the_resume_state() -> None:
    left = make("in_hearing").move(ParticipantState.DISCONNECTED).move(ParticipantState.LEFT)
    assert left.state is ParticipantState.LEFT and left.resume_state is None
    with pytest.raises(InvalidTransition):
        left.reconnect()


@pytest.mark.parametrize("state", [s for s in STATES if s != "disconnected"])
def test_only_a_disconnected_participant_can_reconnect(state: str) -> None:
    with pytest.raises(InvalidTransition):
        make(state).reconnect()


def test_reconnect_without_a_resume_state_is_refused() -> None:
    with pytest.raises(InvalidTransition):
        make("disconnected", resume_state=None).reconnect()


def test_a_disconnected_participant_cannot_disconnect_again() -> None:
    with pytest.raises(InvalidTransition):
        make("in_hearing").move(ParticipantState.DISCONNECTED).move(ParticipantState.DISCONNECTED)


# role -> (entry state when the hearing is not in session, when it is in session)
EXPECTED_ENTRY: dict[str, tuple[str, str]] = {
    "judge": ("in_hearing", "in_hearing"),
    "clerk": ("in_hearing", "in_hearing"),
    "mediator": ("in_hearing", "in_hearing"),
    "courtroom_display": ("in_hearing", "in_hearing"),
    "party": ("waiting", "in_hearing"),
    "counsel": ("waiting", "in_hearing"),
    "interpreter": ("waiting", "in_hearing"),
    "witness": ("waiting", "waiting"),
    "expert": ("waiting", "waiting"),
    "observer": ("waiting", "waiting"),
}


def test_entry_table_covers_every_role() -> None:
    assert set(EXPECTED_ENTRY) == {r.value for r in Role}


@pytest.mark.parametrize(
    ("role", "in_session"), list(itertools.product(EXPECTED_ENTRY, [False, True]))
)
def test_entry_state(role: str, in_session: bool) -> None:
    p = make(role=Role(role))
    assert p.entry_state(in_session).value == EXPECTED_ENTRY[role][in_session]


@pytest.mark.parametrize(
    "name", ["", "   ", "x" * 101, "Zhang\x00", "Zhang\nSan", "\u202eevil", "a\u2066b"]
)
def test_bad_display_names(name: str) -> None:
    with pytest.raises(ValidationError):
        make(display_name=name)


# Persian "mikhaham", spelled with a zero-width non-joiner (a format character that belongs).
PERSIAN = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"


@pytest.mark.parametrize("name", ["张三", "O'Brien", "Zoë", PERSIAN, "x" * 100])
def test_good_display_names(name: str) -> None:
    assert make(display_name=name).display_name == name


@pytest.mark.parametrize(
    ("role", "extra"),
    [
        (Role.PARTY, {"represents": "p2"}),
        (Role.WITNESS, {"represents": "p2"}),
        (Role.COUNSEL, {"interprets_for": "p2"}),
        (Role.COUNSEL, {"side": PartySide.DEFENDANT}),
        (Role.WITNESS, {"side": PartySide.DEFENDANT}),
    ],
)
def test_links_belong_to_the_right_roles(role: Role, extra: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        make(role=role, **extra)  # type: ignore[arg-type]


def test_links_on_the_right_roles_are_kept() -> None:
    assert make(role=Role.COUNSEL, represents="p2").represents == "p2"
    assert make(role=Role.INTERPRETER, interprets_for="p2").interprets_for == "p2"
    assert make(role=Role.PARTY, side=PartySide.DEFENDANT).side is PartySide.DEFENDANT


def test_the_side_someone_stands_for() -> None:
    def person(pid: str, role: Role, **extra: object) -> Participant:
        return Participant(id=pid, hearing_id="h", role=role, display_name=pid, **extra)

    people = {
        p.id: p
        for p in (
            person("a", Role.PARTY, side=PartySide.APPLICANT),
            person("c", Role.COUNSEL, represents="a"),
            person("i", Role.INTERPRETER, interprets_for="c"),
            person("i2", Role.INTERPRETER, interprets_for="i"),  # an interpreter's interpreter
            person("w", Role.WITNESS),
            person("j", Role.JUDGE),
            person("lost", Role.COUNSEL, represents="nobody"),
        )
    }
    sides = {pid: party_side_of(p, people) for pid, p in people.items()}
    assert sides == {
        "a": PartySide.APPLICANT,
        "c": PartySide.APPLICANT,
        "i": PartySide.APPLICANT,
        "i2": None,
        "w": None,
        "j": None,
        "lost": None,
    }
