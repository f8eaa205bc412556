"""The permission table, checked cell by cell against a table written out here by hand."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from hearing_server.core.actors import Actor
from hearing_server.core.errors import DomainError, Forbidden
from hearing_server.core.hearing import Hearing, HearingAction, HearingKind
from hearing_server.core.participant import Role
from hearing_server.core.permissions import (
    TRANSITION_PERMISSIONS,
    Action,
    allowed_actions,
    authorize,
    can,
    is_authorized,
    require,
    require_staff,
)

ACTIONS = [
    "view_hearing",
    "view_all_states",
    "open_hearing",
    "start_hearing",
    "pause_hearing",
    "resume_hearing",
    "suspend_hearing",
    "adjourn_hearing",
    "close_hearing",
    "admit",
    "return_to_waiting",
    "remove",
    "mute_others",
    "lock_mute",
    "call_witness",
    "control_recording",
    "control_livestream",
    "set_layout",
    "help_participant",
    "correct_transcript",
    "finalise_transcript",
    "list_recordings",
    "read_transcript",
    "speak",
    "publish_video",
    "receive_media",
    "raise_hand",
    "take_oath",
    "grant_floor",
    "request_consultation",
    "open_caucus",
    "draft_agreement",
    "sign",
    "send_notice",
    "serve_documents",
    "verify_identity",
    "waive_identity",
    "register_identity",
    "view_evidence",
    "upload_evidence",
    "release_evidence",
    "present_evidence",
    "grant_presenting",
    "record_opinion",
    "ask_for_help",
    "schedule_hearing",
    "override_schedule_conflict",
    "pick_slot",
]
ROLES = [
    "judge",
    "clerk",
    "mediator",
    "party",
    "counsel",
    "witness",
    "expert",
    "interpreter",
    "observer",
    "courtroom_display",
]

TAKE_PART = {
    "view_hearing",
    "speak",
    "publish_video",
    "receive_media",
    "raise_hand",
    "view_evidence",
    "ask_for_help",
}
# Observers and the courtroom display watch, presented exhibits included; an observer who is
# stuck may ask the clerk for help, the wall screen has nobody to ask.
WATCH = {"view_hearing", "receive_media", "view_evidence"}
# The court receives, releases and presents evidence and records the opinions on it.
COURT_EVIDENCE = {"upload_evidence", "release_evidence", "present_evidence", "record_opinion"}
# A side submits its exhibits and presents them when the judge lets it.
SIDE_EVIDENCE = {"upload_evidence", "present_evidence"}
PRESIDE_HEARING = {
    "view_all_states",
    "open_hearing",
    "start_hearing",
    "pause_hearing",
    "resume_hearing",
    "suspend_hearing",
    "adjourn_hearing",
    "close_hearing",
    "admit",
    "return_to_waiting",
    "remove",
    "mute_others",
    "lock_mute",
    "call_witness",
    "control_recording",
    "control_livestream",
    "set_layout",
    "grant_floor",
    "help_participant",
    "finalise_transcript",
    "list_recordings",
    "read_transcript",
    "send_notice",
    "serve_documents",
    "schedule_hearing",
    "override_schedule_conflict",
    "verify_identity",
    "waive_identity",
    "register_identity",
    "grant_presenting",
}
# The same powers in a mediation (witnesses are called in there too, without the undertaking).
PRESIDE_MEDIATION = PRESIDE_HEARING
CLERK = {
    "view_all_states",
    "list_recordings",
    "read_transcript",
    "send_notice",
    "serve_documents",
    "schedule_hearing",
    "override_schedule_conflict",
    "help_participant",
    "suspend_hearing",  # technical problem (docs/domain.md "Hearing states")
    "correct_transcript",
    "verify_identity",  # by hand (video and ID card); waiving is the presiding judge's call
    "register_identity",  # the people on the case, from the console
}

EXPECTED: dict[HearingKind, dict[str, set[str]]] = {
    HearingKind.HEARING: {
        "judge": TAKE_PART | PRESIDE_HEARING | COURT_EVIDENCE,
        "clerk": TAKE_PART | CLERK | COURT_EVIDENCE,
        # A mediator presides only in a mediation; in a court hearing they just take part.
        "mediator": TAKE_PART,
        # Signing is of the mediation agreement: a court hearing has none.
        "party": TAKE_PART | SIDE_EVIDENCE | {"request_consultation"},
        "counsel": TAKE_PART | SIDE_EVIDENCE | {"request_consultation"},
        # The undertaking to tell the truth (证人保证书) is given in a court hearing.
        "witness": TAKE_PART | {"take_oath"},
        "expert": TAKE_PART | {"take_oath"},
        "interpreter": TAKE_PART,
        "observer": WATCH | {"ask_for_help"},
        "courtroom_display": WATCH,
    },
    HearingKind.MEDIATION: {
        "judge": TAKE_PART | PRESIDE_MEDIATION | COURT_EVIDENCE,
        "clerk": TAKE_PART | CLERK | COURT_EVIDENCE,
        "mediator": TAKE_PART
        | PRESIDE_MEDIATION
        | COURT_EVIDENCE
        | {"open_caucus", "draft_agreement"},
        # A party (or their counsel) picks the mediation's slot from their link.
        "party": TAKE_PART | SIDE_EVIDENCE | {"request_consultation", "sign", "pick_slot"},
        "counsel": TAKE_PART | SIDE_EVIDENCE | {"request_consultation", "sign", "pick_slot"},
        "witness": TAKE_PART,
        "expert": TAKE_PART,
        "interpreter": TAKE_PART,
        "observer": WATCH | {"ask_for_help"},
        "courtroom_display": WATCH,
    },
}

CELLS = list(itertools.product(list(HearingKind), ROLES, ACTIONS))


def test_enums_hold_exactly_the_roles_and_actions_of_the_table() -> None:
    assert [a.value for a in Action] == ACTIONS
    assert [r.value for r in Role] == ROLES
    for kind in HearingKind:
        assert set(EXPECTED[kind]) == set(ROLES)
        for allowed in EXPECTED[kind].values():
            assert allowed <= set(ACTIONS)


@pytest.mark.parametrize(("kind", "role", "action"), CELLS)
def test_every_cell(kind: HearingKind, role: str, action: str) -> None:
    expected = action in EXPECTED[kind][role]
    assert can(Role(role), Action(action), kind) is expected
    if expected:
        require(Role(role), Action(action), kind)
    else:
        with pytest.raises(Forbidden) as info:
            require(Role(role), Action(action), kind)
        assert info.value.code == "forbidden"
        assert isinstance(info.value, DomainError)
        assert role in info.value.message


@pytest.mark.parametrize(("kind", "role"), list(itertools.product(list(HearingKind), ROLES)))
def test_allowed_actions(kind: HearingKind, role: str) -> None:
    assert {a.value for a in allowed_actions(Role(role), kind)} == EXPECTED[kind][role]


def test_the_kind_of_session_is_required() -> None:
    # A check without the kind once made a mediator an ordinary participant of a mediation.
    for check in (can, require):
        with pytest.raises(TypeError):
            check(Role.MEDIATOR, Action.VIEW_ALL_STATES)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        allowed_actions(Role.MEDIATOR)  # type: ignore[call-arg]


def _hearing(kind: HearingKind, hearing_id: str = "h1") -> Hearing:
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    return Hearing(
        id=hearing_id,
        kind=kind,
        case_number="CV-2026-000123",
        court="c",
        title="t",
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=1),
    )


def test_authorize_lets_staff_and_system_act_on_any_hearing() -> None:
    for actor in (Actor.staff("clerk-office"), Actor.system()):
        authorize(actor, Action.CLOSE_HEARING, _hearing(HearingKind.HEARING))


def test_authorize_keeps_a_participant_to_their_own_hearing() -> None:
    judge = Actor(id="p1", role=Role.JUDGE, hearing_id="other")
    with pytest.raises(Forbidden, match="not a participant of this hearing"):
        authorize(judge, Action.CLOSE_HEARING, _hearing(HearingKind.HEARING))


def test_authorize_consults_the_table_for_the_hearings_kind() -> None:
    mediator = Actor(id="p1", role=Role.MEDIATOR, hearing_id="h1")
    authorize(mediator, Action.VIEW_ALL_STATES, _hearing(HearingKind.MEDIATION))
    with pytest.raises(Forbidden, match="mediator may not view all states"):
        authorize(mediator, Action.VIEW_ALL_STATES, _hearing(HearingKind.HEARING))
    with pytest.raises(Forbidden):
        authorize(
            Actor(id="p2", role=None, hearing_id="h1"),
            Action.VIEW_HEARING,
            _hearing(HearingKind.HEARING),
        )


@pytest.mark.parametrize("kind", list(HearingKind))
@pytest.mark.parametrize("role", ROLES)
def test_is_authorized_answers_exactly_as_authorize(kind: HearingKind, role: str) -> None:
    hearing = _hearing(kind)
    actors = [
        Actor(id="p1", role=Role(role), hearing_id="h1"),
        Actor(id="p1", role=Role(role), hearing_id="other"),
        Actor.staff("clerk-office"),
        Actor.system(),
    ]
    for actor, action in itertools.product(actors, Action):
        try:
            authorize(actor, action, hearing)
            allowed = True
        except Forbidden:
            allowed = False
        assert is_authorized(actor, action, hearing) is allowed, (actor, action)


def test_require_staff_admits_staff_and_the_system_only_when_asked() -> None:
    require_staff(Actor.staff("clerk-office"))
    require_staff(Actor.system())
    require_staff(Actor.staff("clerk-office"), system=False)
    with pytest.raises(Forbidden, match="the board is for the court's staff"):
        require_staff(Actor.system(), "the board is for the court's staff", system=False)
    for role in Role:
        with pytest.raises(Forbidden, match="only court staff may do this"):
            require_staff(Actor(id="p1", role=role, hearing_id="h1"))


@pytest.mark.parametrize("kind", list(HearingKind))
@pytest.mark.parametrize(
    "action",
    [
        "open_hearing",
        "start_hearing",
        "pause_hearing",
        "resume_hearing",
        "adjourn_hearing",
        "close_hearing",
        "admit",
        "return_to_waiting",
        "remove",
        "call_witness",
        "mute_others",
        "lock_mute",
        "control_recording",
        "control_livestream",
        "finalise_transcript",
        "open_caucus",
        "draft_agreement",
    ],
)
def test_clerk_holds_no_judicial_power(kind: HearingKind, action: str) -> None:
    assert not can(Role.CLERK, Action(action), kind)


@pytest.mark.parametrize("role", ROLES)
def test_caucus_and_agreement_exist_only_in_mediation(role: str) -> None:
    for action in (Action.OPEN_CAUCUS, Action.DRAFT_AGREEMENT):
        assert not can(Role(role), action, HearingKind.HEARING)
    assert can(Role(role), Action.OPEN_CAUCUS, HearingKind.MEDIATION) is (role == "mediator")


@pytest.mark.parametrize("role", ROLES)
def test_witnesses_are_called_in_both_kinds_and_sworn_only_in_hearings(role: str) -> None:
    # A witness added to a mediation once waited outside for good: nobody could call them in.
    assert can(Role(role), Action.CALL_WITNESS, HearingKind.HEARING) is (role == "judge")
    assert can(Role(role), Action.CALL_WITNESS, HearingKind.MEDIATION) is (
        role in ("judge", "mediator")
    )
    assert can(Role(role), Action.TAKE_OATH, HearingKind.HEARING) is (role in ("witness", "expert"))
    assert not can(Role(role), Action.TAKE_OATH, HearingKind.MEDIATION)


def test_every_hearing_transition_has_its_permission() -> None:
    expected = {
        "open": "open_hearing",
        "start": "start_hearing",
        "pause": "pause_hearing",
        "resume": "resume_hearing",
        "suspend": "suspend_hearing",
        "adjourn": "adjourn_hearing",
        "close": "close_hearing",
    }
    assert {a.value: p.value for a, p in TRANSITION_PERMISSIONS.items()} == expected
    assert set(TRANSITION_PERMISSIONS) == set(HearingAction)


@pytest.mark.parametrize("kind", list(HearingKind))
def test_clerk_may_suspend_but_not_resume(kind: HearingKind) -> None:
    assert can(Role.CLERK, TRANSITION_PERMISSIONS[HearingAction.SUSPEND], kind)
    assert not can(Role.CLERK, TRANSITION_PERMISSIONS[HearingAction.RESUME], kind)


def test_forbidden_message_names_the_action() -> None:
    with pytest.raises(Forbidden, match="observer may not speak"):
        require(Role.OBSERVER, Action.SPEAK, HearingKind.HEARING)
