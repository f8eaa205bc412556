"""Rooms of one hearing: who is where, consultation and caucus rooms, media peers."""

from __future__ import annotations

import contextlib
import random
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta

import pytest

from hearing_server.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    ValidationError,
)
from hearing_server.core.hearing import HearingKind
from hearing_server.core.participant import Participant, ParticipantState, PartySide, Role
from hearing_server.core.rooms import (
    Room,
    RoomRegistry,
    RoomType,
    media_peers,
    participant_state_for,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = "hearing"
W = "waiting"


def person(pid: str, role: Role, hearing_id: str = "h1", **extra: object) -> Participant:
    return Participant(
        id=pid,
        hearing_id=hearing_id,
        role=role,
        display_name=pid,
        **extra,  # type: ignore[arg-type]
    )


JUDGE = person("judge", Role.JUDGE)
CLERK = person("clerk", Role.CLERK)
MEDIATOR = person("mediator", Role.MEDIATOR)
P1 = person("p1", Role.PARTY, side=PartySide.PLAINTIFF)
C1 = person("c1", Role.COUNSEL, represents="p1")
C1B = person("c1b", Role.COUNSEL, represents="p1")
I1 = person("i1", Role.INTERPRETER, interprets_for="p1", language="yue")
P2 = person("p2", Role.PARTY, side=PartySide.DEFENDANT)
C2 = person("c2", Role.COUNSEL, represents="p2")
P3 = person("p3", Role.PARTY, side=PartySide.PLAINTIFF)  # a co-plaintiff
WITNESS = person("witness", Role.WITNESS)
OBSERVER = person("observer", Role.OBSERVER)
LONE_COUNSEL = person("lc", Role.COUNSEL)
EVERYONE = [JUDGE, CLERK, MEDIATOR, P1, C1, C1B, I1, P2, C2, P3, WITNESS, OBSERVER, LONE_COUNSEL]


@pytest.fixture
def reg() -> RoomRegistry:
    return RoomRegistry("h1")


@pytest.fixture
def med() -> RoomRegistry:
    return RoomRegistry("h1", kind=HearingKind.MEDIATION)


def where(reg: RoomRegistry) -> dict[str, str]:
    """Who is in which room, read from the rooms themselves."""
    out: dict[str, str] = {}
    for room in reg.rooms():
        for pid in room.members:
            assert pid not in out, f"{pid} is in two rooms"
            out[pid] = room.id
    return out


def check_invariants(reg: RoomRegistry) -> None:
    seen = where(reg)
    assert set(seen) == reg.participants()
    for pid, room_id in seen.items():
        room = reg.room_of(pid)
        assert room is not None and room.id == room_id
    for room in reg.rooms():
        assert room.hearing_id == reg.hearing_id
        if room.is_private:
            assert room.members, "an empty private room should have closed"
            assert room.members <= room.admitted
            assert not room.invited & room.members
    ids = [r.id for r in reg.rooms()]
    assert ids[:2] == [H, W] and len(ids) == len(set(ids))


def seat(reg: RoomRegistry, room_id: str, *people: Participant) -> None:
    for p in people:
        reg.place(p.id, room_id)


# -- basics ------------------------------------------------------------------------------


def test_a_new_registry_has_an_empty_hearing_and_waiting_room(reg: RoomRegistry) -> None:
    assert [(r.id, r.type) for r in reg.rooms()] == [(H, RoomType.HEARING), (W, RoomType.WAITING)]
    assert reg.hearing_room_id == H and reg.waiting_room_id == W
    assert reg.hearing_id == "h1" and reg.kind is HearingKind.HEARING
    assert reg.participants() == frozenset()
    assert all(not r.members and not r.is_private for r in reg.rooms())


def test_registry_arguments_are_checked() -> None:
    with pytest.raises(ValidationError):
        RoomRegistry("")
    with pytest.raises(ValidationError):
        RoomRegistry("h1", hearing_room_id="x", waiting_room_id="x")
    custom = RoomRegistry("h1", hearing_room_id="h1:court", waiting_room_id="h1:lobby")
    assert custom.room("h1:court").type is RoomType.HEARING


def test_place_and_read_back(reg: RoomRegistry) -> None:
    room = reg.place("p1", W)
    assert room.members == {"p1"}
    assert reg.room_of("p1") == room
    assert reg.room_of("nobody") is None
    assert reg.participants() == {"p1"}
    assert reg.origin_of("p1") is None


def test_place_refuses_someone_already_placed(reg: RoomRegistry) -> None:
    reg.place("p1", W)
    with pytest.raises(Conflict):
        reg.place("p1", H)
    assert reg.room_of("p1") == reg.room(W)


def test_place_into_an_unknown_room(reg: RoomRegistry) -> None:
    with pytest.raises(NotFound) as info:
        reg.place("p1", "nowhere")
    assert info.value.code == "not_found"
    assert reg.participants() == frozenset()


def test_place_needs_an_id(reg: RoomRegistry) -> None:
    with pytest.raises(ValidationError):
        reg.place("", W)


def test_move_between_public_rooms(reg: RoomRegistry) -> None:
    reg.place("p1", W)
    assert reg.move("p1", H).members == {"p1"}
    assert reg.room(W).members == frozenset()
    assert reg.move("p1", W).id == W
    check_invariants(reg)


def test_move_to_the_same_room_changes_nothing(reg: RoomRegistry) -> None:
    reg.place("p1", H)
    assert reg.move("p1", H) == reg.room(H)
    assert reg.room(H).members == {"p1"}


def test_move_of_someone_not_placed(reg: RoomRegistry) -> None:
    with pytest.raises(NotFound):
        reg.move("p1", H)


def test_move_into_an_unknown_room_changes_nothing(reg: RoomRegistry) -> None:
    reg.place("p1", H)
    with pytest.raises(NotFound):
        reg.move("p1", "nowhere")
    assert reg.room_of("p1") == reg.room(H)


def test_remove(reg: RoomRegistry) -> None:
    reg.place("p1", H)
    assert reg.remove("p1") == H
    assert reg.room_of("p1") is None and reg.room(H).members == frozenset()
    assert reg.remove("p1") is None


def test_rooms_are_immutable_snapshots(reg: RoomRegistry) -> None:
    before = reg.room(H)
    reg.place("p1", H)
    assert before.members == frozenset()
    with pytest.raises(FrozenInstanceError):
        before.locked = True  # type: ignore[misc]


@pytest.mark.parametrize(
    ("room_type", "state"),
    [
        (RoomType.HEARING, ParticipantState.IN_HEARING),
        (RoomType.WAITING, ParticipantState.WAITING),
        (RoomType.CONSULTATION, ParticipantState.IN_CONSULTATION),
        (RoomType.CAUCUS, ParticipantState.IN_CONSULTATION),
    ],
)
def test_participant_state_for_each_room_type(room_type: RoomType, state: ParticipantState) -> None:
    assert participant_state_for(room_type) is state


def test_room_values_are_checked() -> None:
    with pytest.raises(ValidationError):
        Room("", RoomType.HEARING, "h1")
    with pytest.raises(ValidationError):
        Room("r", RoomType.CAUCUS, "h1", timer_ends_at=datetime(2026, 1, 1))
    with pytest.raises(ValidationError):
        Room("r", RoomType.CONSULTATION, "h1", side=PartySide.PLAINTIFF)
    with pytest.raises(ValidationError):
        Room("r", RoomType.HEARING, "h1", locked=True)
    with pytest.raises(ValidationError):
        Room("r", RoomType.CAUCUS, "h1", locked=True)


# -- consultation rooms --------------------------------------------------------------------


def test_open_consultation_moves_the_requester_and_invites_the_rest(reg: RoomRegistry) -> None:
    seat(reg, H, JUDGE, P1, C1, I1, P2)
    room = reg.open_consultation(P1, [C1, I1])
    assert room.type is RoomType.CONSULTATION and room.is_private
    assert room.members == {"p1"}
    assert room.invited == {"c1", "i1"}
    assert room.owner == "p1" and room.party_id == "p1"
    assert not room.locked
    assert reg.room(H).members == {"judge", "c1", "i1", "p2"}
    assert reg.origin_of("p1") == H

    room = reg.accept_invitation("c1", room.id)
    assert room.members == {"p1", "c1"} and room.invited == {"i1"}
    room = reg.decline_invitation("i1", room.id)
    assert room.invited == frozenset() and "i1" not in room.admitted
    with pytest.raises(Forbidden):
        reg.move("i1", room.id)  # declined: no longer admitted
    check_invariants(reg)


def test_counsel_may_open_a_consultation_for_their_party(reg: RoomRegistry) -> None:
    seat(reg, W, C1, P1, C1B)
    room = reg.open_consultation(C1, [P1, C1B])
    assert room.owner == "c1" and room.party_id == "p1"
    assert reg.origin_of("c1") == W


def test_co_counsel_may_consult_without_the_party(reg: RoomRegistry) -> None:
    seat(reg, W, C1, C1B)
    assert reg.open_consultation(C1, [C1B]).party_id == "p1"


def test_a_consultation_from_the_waiting_room_returns_there(reg: RoomRegistry) -> None:
    seat(reg, W, P1, C1)
    room = reg.open_consultation(P1, [C1])
    reg.accept_invitation("c1", room.id)
    assert reg.leave_private("c1").id == W
    assert reg.leave_private("p1").id == W
    check_invariants(reg)


def test_consultation_ids_are_generated_and_unique(reg: RoomRegistry) -> None:
    seat(reg, H, P1, C1, P2, C2)
    a = reg.open_consultation(P1, [C1])
    b = reg.open_consultation(P2, [C2])
    assert a.id != b.id and {a.id, b.id} <= {r.id for r in reg.rooms()}


def test_a_chosen_room_id_must_be_free(reg: RoomRegistry) -> None:
    seat(reg, H, P1, C1, P2, C2)
    assert reg.open_consultation(P1, [C1], room_id="c-room").id == "c-room"
    with pytest.raises(Conflict):
        reg.open_consultation(P2, [C2], room_id="c-room")
    with pytest.raises(Conflict):
        reg.open_consultation(P2, [C2], room_id=H)
    with pytest.raises(ValidationError):
        reg.open_consultation(P2, [C2], room_id="")
    assert reg.room_of("p2") == reg.room(H)


@pytest.mark.parametrize(
    ("requester", "invitees", "error"),
    [
        (WITNESS, [P1], Forbidden),  # only parties and counsel request consultations
        (JUDGE, [P1], Forbidden),
        (CLERK, [P1], Forbidden),
        (I1, [P1], Forbidden),
        (OBSERVER, [P1], Forbidden),
        (P1, [C2], Forbidden),  # the other side's counsel
        (P1, [P2], Forbidden),  # the other party
        (P1, [P3], Forbidden),  # a co-plaintiff is still another party
        (P1, [JUDGE], Forbidden),
        (P1, [CLERK], Forbidden),
        (P1, [WITNESS], Forbidden),
        (P1, [C1, OBSERVER], Forbidden),
        (LONE_COUNSEL, [P1], Forbidden),  # counsel representing nobody
        (P1, [LONE_COUNSEL], Forbidden),
        (C1, [C2], Forbidden),
        (P1, [person("i9", Role.INTERPRETER, interprets_for="p2")], Forbidden),
        (P1, [person("i9", Role.INTERPRETER)], Forbidden),
        (P1, [], ValidationError),
        (P1, [C1, C1], ValidationError),
        (P1, [P1], ValidationError),
        (P1, [person("c9", Role.COUNSEL, hearing_id="h2", represents="p1")], ValidationError),
    ],
)
def test_who_may_consult_together(
    reg: RoomRegistry,
    requester: Participant,
    invitees: list[Participant],
    error: type[DomainError],
) -> None:
    seat(reg, H, *EVERYONE)
    before = where(reg)
    with pytest.raises(error):
        reg.open_consultation(requester, invitees)
    assert where(reg) == before
    assert [r.id for r in reg.rooms()] == [H, W]


def test_a_foreign_participant_is_refused_with_its_own_code(reg: RoomRegistry) -> None:
    seat(reg, H, P1)
    stranger = person("p1", Role.PARTY, hearing_id="h2", side=PartySide.PLAINTIFF)
    with pytest.raises(ValidationError) as info:
        reg.open_consultation(stranger, [C1])
    assert info.value.code == "wrong_hearing"


def test_the_requester_must_be_present(reg: RoomRegistry) -> None:
    seat(reg, H, C1)
    with pytest.raises(NotFound):
        reg.open_consultation(P1, [C1])
    assert [r.id for r in reg.rooms()] == [H, W]


def test_outsiders_cannot_walk_into_a_consultation(reg: RoomRegistry) -> None:
    seat(reg, H, P1, C1, P2, JUDGE)
    room = reg.open_consultation(P1, [C1])
    for pid in ("p2", "judge"):
        with pytest.raises(Forbidden):
            reg.move(pid, room.id)
    with pytest.raises(Forbidden):
        reg.place("newcomer", room.id)
    assert reg.room(room.id).members == {"p1"}


def test_a_locked_room_refuses_newcomers(reg: RoomRegistry) -> None:
    seat(reg, H, P1, C1, C1B)
    room = reg.open_consultation(P1, [C1, C1B], locked=True)
    assert room.locked and room.members == {"p1"}  # the requester is let in regardless
    with pytest.raises(Conflict) as info:
        reg.accept_invitation("c1", room.id)
    assert info.value.code == "conflict"
    assert reg.room_of("c1") == reg.room(H)

    reg.set_locked(room.id, False, by="p1")
    reg.accept_invitation("c1", room.id)
    reg.set_locked(room.id, True, by="c1")
    with pytest.raises(Conflict):
        reg.accept_invitation("c1b", room.id)
    with pytest.raises(Conflict):
        reg.invite(room.id, C1B, by="p1")

    # Stepping out of a locked room means staying out until someone unlocks it.
    reg.move("c1", H)
    with pytest.raises(Conflict):
        reg.move("c1", room.id)
    assert reg.room(room.id).members == {"p1"}
    check_invariants(reg)


def test_only_someone_inside_may_lock(reg: RoomRegistry) -> None:
    seat(reg, H, P1, C1)
    room = reg.open_consultation(P1, [C1])
    with pytest.raises(Forbidden):
        reg.set_locked(room.id, True, by="c1")  # invited, not yet inside
    assert reg.set_locked(room.id, True, by="p1").locked


@pytest.mark.parametrize("room_id", [H, W])
def test_public_rooms_cannot_be_locked(reg: RoomRegistry, room_id: str) -> None:
    reg.place("judge", room_id)
    with pytest.raises(Conflict):
        reg.set_locked(room_id, True, by="judge")


def test_a_consultation_closes_when_the_last_member_leaves(reg: RoomRegistry) -> None:
    seat(reg, H, P1, C1, I1)
    room = reg.open_consultation(P1, [C1, I1])
    reg.accept_invitation("c1", room.id)
    reg.move("p1", H)
    assert reg.room(room.id).members == {"c1"}
    reg.move("c1", W)
    with pytest.raises(NotFound):
        reg.room(room.id)
    assert [r.id for r in reg.rooms()] == [H, W]
    # The pending invitation went with the room.
    with pytest.raises(NotFound):
        reg.accept_invitation("i1", room.id)
    check_invariants(reg)


def test_removing_the_last_member_closes_the_room(reg: RoomRegistry) -> None:
    seat(reg, H, P1, C1)
    room = reg.open_consultation(P1, [C1])
    assert reg.remove("p1") == room.id
    with pytest.raises(NotFound):
        reg.room(room.id)


def test_removing_someone_cancels_their_invitations(reg: RoomRegistry) -> None:
    seat(reg, H, P1, C1)
    room = reg.open_consultation(P1, [C1])
    assert reg.remove("c1") == H
    assert reg.room(room.id).invited == frozenset()
    assert "c1" not in reg.room(room.id).admitted


def test_invite_later(reg: RoomRegistry) -> None:
    seat(reg, H, P1, C1, C1B, I1, C2, JUDGE)
    room = reg.open_consultation(P1, [C1])
    reg.accept_invitation("c1", room.id)
    room = reg.invite(room.id, C1B, by="c1")
    assert room.invited == {"c1b"}
    room = reg.invite(room.id, I1, by="p1")
    assert room.invited == {"c1b", "i1"}
    assert reg.invite(room.id, C1B, by="p1") == room  # already invited: no change
    assert reg.invite(room.id, C1, by="p1") == room  # already inside: no change
    for outsider in (C2, JUDGE, P2, WITNESS):
        with pytest.raises(Forbidden):
            reg.invite(room.id, outsider, by="p1")
    with pytest.raises(Forbidden):
        reg.invite(room.id, C1B, by="judge")  # not inside
    with pytest.raises(ValidationError):
        reg.invite(room.id, person("x", Role.COUNSEL, hearing_id="h2", represents="p1"), by="p1")
    reg.accept_invitation("i1", room.id)
    assert reg.room(room.id).members == {"p1", "c1", "i1"}


def test_invitations_need_an_invitation(reg: RoomRegistry) -> None:
    seat(reg, H, P1, C1, C1B)
    room = reg.open_consultation(P1, [C1])
    with pytest.raises(NotFound):
        reg.accept_invitation("c1b", room.id)
    with pytest.raises(NotFound):
        reg.decline_invitation("c1b", room.id)
    with pytest.raises(NotFound):
        reg.accept_invitation("c1", "nowhere")


def test_an_invitee_who_is_not_yet_present_can_accept(reg: RoomRegistry) -> None:
    seat(reg, W, P1)
    room = reg.open_consultation(P1, [C1])
    assert reg.accept_invitation("c1", room.id).members == {"p1", "c1"}
    assert reg.origin_of("c1") == W


def test_opening_a_second_consultation_leaves_the_first(reg: RoomRegistry) -> None:
    seat(reg, H, P1, C1, C1B)
    first = reg.open_consultation(P1, [C1])
    second = reg.open_consultation(P1, [C1B])
    with pytest.raises(NotFound):
        reg.room(first.id)  # it emptied, so it closed
    assert reg.room_of("p1") == reg.room(second.id)
    assert reg.origin_of("p1") == H  # still returns to the hearing room
    assert reg.leave_private("p1").id == H


def test_leave_private_from_a_public_room(reg: RoomRegistry) -> None:
    reg.place("p1", H)
    with pytest.raises(Conflict):
        reg.leave_private("p1")
    with pytest.raises(NotFound):
        reg.leave_private("nobody")


def test_close_a_consultation_sends_everyone_back(reg: RoomRegistry) -> None:
    seat(reg, H, P1)
    seat(reg, W, C1)
    room = reg.open_consultation(P1, [C1])
    reg.accept_invitation("c1", room.id)
    assert reg.close_room(room.id) == {"c1": W, "p1": H}
    with pytest.raises(NotFound):
        reg.room(room.id)
    check_invariants(reg)


# -- caucus rooms ----------------------------------------------------------------------------


def test_caucus_rooms_exist_only_in_mediation(reg: RoomRegistry) -> None:
    seat(reg, H, MEDIATOR, P1)
    with pytest.raises(Forbidden):
        reg.open_caucus(MEDIATOR, PartySide.PLAINTIFF, [P1])


def test_the_mediator_meets_each_side_alone(med: RoomRegistry) -> None:
    seat(med, H, MEDIATOR, P1, C1, I1, P2, C2)
    a = med.open_caucus(MEDIATOR, PartySide.PLAINTIFF, [P1, C1, I1])
    assert a.type is RoomType.CAUCUS and a.side is PartySide.PLAINTIFF
    assert a.owner == "mediator"
    assert a.members == {"mediator", "p1", "c1", "i1"}
    assert med.room(H).members == {"p2", "c2"}
    assert med.caucus_for(PartySide.PLAINTIFF) == a
    assert med.caucus_for(PartySide.DEFENDANT) is None

    b = med.open_caucus(MEDIATOR, PartySide.DEFENDANT, [P2, C2], mediator_joins=False)
    assert b.members == {"p2", "c2"}
    assert med.room(H).members == frozenset()
    assert media_peers(med, "p2") == {"c2"}
    assert media_peers(med, "p1") == {"mediator", "c1", "i1"}

    # The mediator goes back and forth; each side's room stays open meanwhile.
    med.move("mediator", b.id)
    assert med.room(a.id).members == {"p1", "c1", "i1"}
    assert media_peers(med, "p1") == {"c1", "i1"}
    assert media_peers(med, "mediator") == {"p2", "c2"}
    med.move("mediator", a.id)
    assert media_peers(med, "p2") == {"c2"}
    check_invariants(med)

    # Joint session again: everyone back where they came from.
    assert med.close_room(a.id) == {"mediator": H, "p1": H, "c1": H, "i1": H}
    assert med.close_room(b.id, to=H) == {"p2": H, "c2": H}
    assert med.room(H).members == {"mediator", "p1", "c1", "i1", "p2", "c2"}
    assert [r.id for r in med.rooms()] == [H, W]


def test_a_caucus_keeps_the_other_side_out(med: RoomRegistry) -> None:
    seat(med, H, MEDIATOR, P1, C1, P2, C2, JUDGE)
    a = med.open_caucus(MEDIATOR, PartySide.PLAINTIFF, [P1, C1])
    for pid in ("p2", "c2", "judge"):
        with pytest.raises(Forbidden):
            med.move(pid, a.id)
    # Members who step out may come back; a caucus takes no invitations and has no lock.
    med.move("c1", W)
    assert med.move("c1", a.id).members == {"mediator", "p1", "c1"}
    with pytest.raises(Conflict):
        med.invite(a.id, C1B, by="mediator")
    with pytest.raises(Conflict):
        med.set_locked(a.id, True, by="mediator")


@pytest.mark.parametrize(
    ("opener", "side", "members", "error"),
    [
        (JUDGE, PartySide.PLAINTIFF, [P1], Forbidden),  # the mediator runs caucuses
        (P1, PartySide.PLAINTIFF, [C1], Forbidden),
        (CLERK, PartySide.PLAINTIFF, [P1], Forbidden),
        (MEDIATOR, PartySide.DEFENDANT, [P1], Forbidden),  # wrong side
        (MEDIATOR, PartySide.PLAINTIFF, [P1, P2], Forbidden),
        (MEDIATOR, PartySide.PLAINTIFF, [C1], Forbidden),  # counsel without their party
        (MEDIATOR, PartySide.PLAINTIFF, [P1, C2], Forbidden),
        (MEDIATOR, PartySide.PLAINTIFF, [P1, WITNESS], Forbidden),
        (MEDIATOR, PartySide.PLAINTIFF, [P1, JUDGE], Forbidden),
        (MEDIATOR, PartySide.PLAINTIFF, [I1], Forbidden),  # interpreter without the party
        (MEDIATOR, PartySide.PLAINTIFF, [P1, LONE_COUNSEL], Forbidden),
        (MEDIATOR, PartySide.PLAINTIFF, [], ValidationError),
        (MEDIATOR, PartySide.PLAINTIFF, [P1, P1], ValidationError),
        (MEDIATOR, PartySide.PLAINTIFF, [MEDIATOR], ValidationError),
    ],
)
def test_who_may_be_in_a_caucus(
    med: RoomRegistry,
    opener: Participant,
    side: PartySide,
    members: list[Participant],
    error: type[DomainError],
) -> None:
    seat(med, H, *EVERYONE)
    before = where(med)
    with pytest.raises(error):
        med.open_caucus(opener, side, members)
    assert where(med) == before and [r.id for r in med.rooms()] == [H, W]


def test_co_plaintiffs_share_a_caucus(med: RoomRegistry) -> None:
    seat(med, W, MEDIATOR, P1, P3, C1)
    room = med.open_caucus(MEDIATOR, PartySide.PLAINTIFF, [P1, P3, C1])
    assert room.members == {"mediator", "p1", "p3", "c1"}
    assert {med.origin_of(p) for p in room.members} == {W}


def test_one_caucus_per_side(med: RoomRegistry) -> None:
    seat(med, H, MEDIATOR, P1, P3)
    med.open_caucus(MEDIATOR, PartySide.PLAINTIFF, [P1])
    with pytest.raises(Conflict):
        med.open_caucus(MEDIATOR, PartySide.PLAINTIFF, [P3])
    assert med.room_of("p3") == med.room(H)


def test_caucus_members_must_be_present(med: RoomRegistry) -> None:
    seat(med, H, MEDIATOR)
    with pytest.raises(NotFound):
        med.open_caucus(MEDIATOR, PartySide.PLAINTIFF, [P1])
    seat(med, H, P1)
    med.remove("mediator")
    with pytest.raises(NotFound):
        med.open_caucus(MEDIATOR, PartySide.PLAINTIFF, [P1])
    # ... unless the mediator is not joining.
    assert med.open_caucus(MEDIATOR, PartySide.PLAINTIFF, [P1], mediator_joins=False).members == {
        "p1"
    }


def test_a_caucus_pulls_people_out_of_a_consultation(med: RoomRegistry) -> None:
    seat(med, W, MEDIATOR, P1, C1)
    consult = med.open_consultation(P1, [C1])
    med.accept_invitation("c1", consult.id)
    caucus = med.open_caucus(MEDIATOR, PartySide.PLAINTIFF, [P1, C1])
    with pytest.raises(NotFound):
        med.room(consult.id)
    assert med.origin_of("p1") == W  # the public room they had left, not the consultation
    assert med.close_room(caucus.id)["p1"] == W


def test_caucus_timer(med: RoomRegistry) -> None:
    seat(med, H, MEDIATOR, P1, P2)
    end = T0 + timedelta(minutes=15)
    a = med.open_caucus(MEDIATOR, PartySide.PLAINTIFF, [P1], timer_ends_at=end)
    b = med.open_caucus(MEDIATOR, PartySide.DEFENDANT, [P2], mediator_joins=False)
    assert a.timer_ends_at == end and b.timer_ends_at is None
    assert not a.timer_expired(end - timedelta(seconds=1))
    assert a.timer_expired(end)
    assert med.expired_timers(end - timedelta(seconds=1)) == ()
    assert med.expired_timers(end) == (med.room(a.id),)
    b = med.set_timer(b.id, T0)
    assert {r.id for r in med.expired_timers(end)} == {a.id, b.id}
    assert med.set_timer(a.id, None).timer_ends_at is None
    with pytest.raises(ValidationError):
        med.set_timer(a.id, datetime(2026, 3, 2, 9, 0))
    with pytest.raises(ValidationError):
        med.expired_timers(datetime(2026, 3, 2, 9, 0))
    with pytest.raises(Conflict):
        med.set_timer(H, end)


def test_caucus_timer_must_be_aware(med: RoomRegistry) -> None:
    seat(med, H, MEDIATOR, P1)
    with pytest.raises(ValidationError):
        med.open_caucus(
            MEDIATOR, PartySide.PLAINTIFF, [P1], timer_ends_at=datetime(2026, 3, 2, 9, 0)
        )
    assert med.room_of("p1") == med.room(H)


def test_close_room_rules(med: RoomRegistry) -> None:
    seat(med, H, MEDIATOR, P1)
    a = med.open_caucus(MEDIATOR, PartySide.PLAINTIFF, [P1])
    for public in (H, W):
        with pytest.raises(Conflict):
            med.close_room(public)
    with pytest.raises(ValidationError):
        med.close_room(a.id, to=a.id)
    with pytest.raises(NotFound):
        med.close_room("nowhere")
    assert med.close_room(a.id, to=W) == {"mediator": W, "p1": W}


# -- media --------------------------------------------------------------------------------


def test_media_flows_only_within_a_room(reg: RoomRegistry) -> None:
    seat(reg, H, JUDGE, CLERK, P1, C1, P2)
    seat(reg, W, WITNESS, OBSERVER)
    reg.place("display", H)
    assert media_peers(reg, "judge") == {"clerk", "p1", "c1", "p2", "display"}
    assert media_peers(reg, "display") == {"judge", "clerk", "p1", "c1", "p2"}
    # The waiting room receives nothing, not even each other.
    assert media_peers(reg, "witness") == frozenset()
    assert media_peers(reg, "observer") == frozenset()
    assert media_peers(reg, "nobody") == frozenset()

    room = reg.open_consultation(P1, [C1])
    reg.accept_invitation("c1", room.id)
    assert media_peers(reg, "p1") == {"c1"}
    assert media_peers(reg, "c1") == {"p1"}
    assert media_peers(reg, "judge") == {"clerk", "p2", "display"}

    reg.remove("p2")
    assert media_peers(reg, "p2") == frozenset()
    assert "p2" not in media_peers(reg, "judge")


def test_media_peers_is_symmetric_and_never_includes_oneself(reg: RoomRegistry) -> None:
    seat(reg, H, JUDGE, P1, C1, P2)
    seat(reg, W, WITNESS, C2)
    reg.open_consultation(P1, [C1])
    pids = reg.participants()
    for a in pids:
        assert a not in media_peers(reg, a)
        for b in media_peers(reg, a):
            assert a in media_peers(reg, b)


# -- invariants under random use -------------------------------------------------------------


def random_step(rng: random.Random, med: RoomRegistry, people: list[Participant]) -> None:
    """One operation, mostly plausible (so that it often succeeds), sometimes not."""
    pid = rng.choice(people).id
    rooms = med.rooms()
    room_id = rng.choice([r.id for r in rooms] + ["nowhere"])
    private = [r for r in rooms if r.is_private]
    op = rng.randrange(10)
    if op == 0:
        med.place(pid, rng.choice([H, W, room_id]))
    elif op == 1:
        med.move(pid, rng.choice([H, W, room_id]))
    elif op == 2:
        med.remove(pid)
    elif op == 3:
        requester, invitees = rng.choice(
            [(P1, [C1, C1B, I1]), (C1, [P1, I1]), (P2, [C2]), (rng.choice(people), people[:3])]
        )
        med.open_consultation(
            requester,
            rng.sample(invitees, rng.randint(1, len(invitees))),
            locked=rng.random() < 0.3,
        )
    elif op == 4 and private:
        room = rng.choice(private)
        invited = sorted(room.invited) or [pid]
        if rng.random() < 0.7:
            med.accept_invitation(rng.choice(invited), room.id)
        else:
            med.decline_invitation(rng.choice(invited), room.id)
    elif op == 5 and private:
        room = rng.choice(private)
        by = rng.choice([*sorted(room.members), pid])
        med.set_locked(room.id, rng.random() < 0.5, by=by)
    elif op == 6:
        side, members = rng.choice(
            [
                (PartySide.PLAINTIFF, [P1, C1, I1, P3]),
                (PartySide.DEFENDANT, [P2, C2]),
                (PartySide.DEFENDANT, [P1]),
            ]
        )
        med.open_caucus(
            MEDIATOR,
            side,
            members[: rng.randint(1, len(members))],
            mediator_joins=rng.random() < 0.5,
        )
    elif op == 7 and private:
        med.close_room(rng.choice(private).id, to=rng.choice([None, H, W]))
    elif op == 8 and private:
        room = rng.choice(private)
        if rng.random() < 0.5:
            med.move(rng.choice(sorted(room.members)), rng.choice([r.id for r in private]))
        else:
            med.leave_private(rng.choice(sorted(room.members)))
    else:
        med.leave_private(pid)


@pytest.mark.parametrize("seed", range(20))
def test_invariants_hold_under_random_operations(seed: int) -> None:
    rng = random.Random(seed)
    med = RoomRegistry("h1", kind=HearingKind.MEDIATION)
    people = [MEDIATOR, P1, C1, C1B, I1, P2, C2, P3, JUDGE, WITNESS]
    for _ in range(300):
        with contextlib.suppress(DomainError):
            random_step(rng, med, people)
        check_invariants(med)
        for p in med.participants():
            room = med.room_of(p)
            assert room is not None
            if room.is_private:
                assert med.origin_of(p) in (H, W)
            if room.type is RoomType.CONSULTATION:
                # Whatever happened, a consultation holds only one party's people.
                assert p in {"p1", "c1", "c1b", "i1"} or p in {"p2", "c2"}
                assert room.party_id in ("p1", "p2")
                assert p in ({"p1", "c1", "c1b", "i1"} if room.party_id == "p1" else {"p2", "c2"})
            if room.type is RoomType.CAUCUS:
                plaintiff = room.side is PartySide.PLAINTIFF
                assert p in ({"p1", "c1", "i1", "p3"} if plaintiff else {"p2", "c2"}) | {"mediator"}
