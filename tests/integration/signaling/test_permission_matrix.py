"""Every role tries every judicial and procedural signaling event, through the real server: a
role the permission table does not allow is refused with ``forbidden`` and nothing changes; a
role it allows is never refused for permission, and one of them succeeds.

The cases are generated from the permission table (``can``) for each event's action, in a court
hearing and in a mediation; each event gets a fresh session with one participant of every role
connected, so one role's success cannot make another's attempt meaningless."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from hearing_server.core.actors import Actor
from hearing_server.core.hearing import HearingKind
from hearing_server.core.participant import PartySide, Role
from hearing_server.core.permissions import Action, can
from hearing_server.keys import HEARINGS, STORE
from signaling.client import HearingClient
from support.hearing import STAFF, Person, make_hearing

MakeClient = Callable[..., HearingClient]
People = dict[str, Person]

# One of every role (the actors), plus the people acted upon.
ACTORS: dict[Role, str] = {
    Role.JUDGE: "王法官",
    Role.CLERK: "赵书记员",
    Role.MEDIATOR: "孙调解员",
    Role.PARTY: "张三",
    Role.COUNSEL: "钱律师",
    Role.WITNESS: "陈证人",
    Role.EXPERT: "刘鉴定",
    Role.INTERPRETER: "周翻译",
    Role.OBSERVER: "旁听者",
    Role.COURTROOM_DISPLAY: "法庭屏幕",
}
TARGET, SPARE_WITNESS = "李四", "吴证人"


@dataclass(frozen=True)
class Case:
    event: str
    action: Action
    payload: Callable[[People, Role], dict[str, Any]]
    # what an allowed role may meet instead of success: the domain's own refusals
    also: frozenset[str] = frozenset()

    def __str__(self) -> str:
        return self.event


def _pid(name: str) -> Callable[[People, Role], dict[str, Any]]:
    return lambda people, role: {"participant_id": people[name].id}


CASES = [
    Case("admit", Action.CALL_WITNESS, _pid(SPARE_WITNESS)),
    Case("return_to_waiting", Action.RETURN_TO_WAITING, _pid(TARGET)),
    Case("remove", Action.REMOVE, _pid(TARGET)),
    Case(
        "mute", Action.MUTE_OTHERS, lambda p, role: {"participant_id": p[TARGET].id, "muted": True}
    ),
    Case(
        "mute",
        Action.LOCK_MUTE,
        lambda p, role: {"participant_id": p[TARGET].id, "muted": True, "lock": True},
    ),
    Case("raise_hand", Action.RAISE_HAND, lambda p, role: {"raised": True}),
    Case("grant_floor", Action.GRANT_FLOOR, _pid(TARGET)),
    # (nobody's hand is up: the domain's refusal for an allowed role)
    Case("lower_hand", Action.GRANT_FLOOR, _pid(TARGET), frozenset({"hand_not_raised"})),
    Case("spotlight", Action.SET_LAYOUT, _pid(TARGET)),
    Case("set_layout", Action.SET_LAYOUT, lambda p, role: {"layout": "grid"}),
    Case("hearing_action", Action.PAUSE_HEARING, lambda p, role: {"action": "pause"}),
    Case("hearing_action", Action.SUSPEND_HEARING, lambda p, role: {"action": "suspend"}),
    Case("hearing_action", Action.CLOSE_HEARING, lambda p, role: {"action": "close"}),
    Case("recording", Action.CONTROL_RECORDING, lambda p, role: {"action": "stop"}),
    Case(
        "verify_identity",
        Action.VERIFY_IDENTITY,
        lambda p, role: {"participant_id": p[TARGET].id, "reason": "身份证当面核对"},
        frozenset({"identity_cleared"}),  # no check is required of anyone here
    ),
    Case(
        "waive_identity",
        Action.WAIVE_IDENTITY,
        lambda p, role: {"participant_id": p[TARGET].id, "reason": "法官决定"},
        frozenset({"identity_cleared"}),
    ),
    Case("take_oath", Action.TAKE_OATH, lambda p, role: {}),
    Case(
        "dismiss_witness",
        Action.CALL_WITNESS,
        lambda p, role: {"participant_id": p[SPARE_WITNESS].id, "to": "out"},
    ),
    Case(
        "send_notice",
        Action.SEND_NOTICE,
        lambda p, role: {"audience": "everyone", "template": "show_id"},
    ),
    Case(
        "request_consultation",
        Action.REQUEST_CONSULTATION,
        # a party asks their counsel, counsel their party (anyone else: the party)
        lambda p, role: {"participant_ids": [p["钱律师" if role is Role.PARTY else "张三"].id]},
    ),
    # The presiding judge lets a pending consultation go ahead, or calls one back: there is
    # none here, so an allowed role meets not_found, everyone else forbidden first.
    Case(
        "allow_consultation",
        Action.ADMIT,
        lambda p, role: {"request_id": "cr-000000000000"},
        frozenset({"not_found"}),
    ),
    Case(
        "end_consultation",
        Action.ADMIT,
        lambda p, role: {"room_id": "consultation-none"},
        frozenset({"not_found"}),
    ),
    Case("open_caucus", Action.OPEN_CAUCUS, lambda p, role: {"side": "defendant"}),
    # The public livestream (a public hearing): allowing a replay needs no running stream.
    Case("livestream", Action.CONTROL_LIVESTREAM, lambda p, role: {"action": "allow_replay"}),
    # Evidence: the floor to present; presenting (a party needs the floor, and there is no
    # such exhibit: the domain's refusals); moving and stopping (nothing is shown).
    Case("grant_presenting", Action.GRANT_PRESENTING, _pid(TARGET)),
    Case(
        "present",
        Action.PRESENT_EVIDENCE,
        lambda p, role: {"exhibit_id": "no-such-exhibit"},
        frozenset({"not_granted", "not_found"}),
    ),
    Case(
        "presentation_move",
        Action.PRESENT_EVIDENCE,
        lambda p, role: {"page": 2},
        frozenset({"not_presenting"}),
    ),
    Case("stop_presenting", Action.PRESENT_EVIDENCE, lambda p, role: {}),
    Case(
        "present_screen",
        Action.PRESENT_EVIDENCE,
        lambda p, role: {},
        frozenset({"not_granted", "no_screen"}),  # nobody shares a screen here
    ),
]


def _actors(kind: HearingKind) -> dict[Role, str]:
    """A mediator belongs only to a mediation (the service refuses one elsewhere)."""
    if kind is HearingKind.MEDIATION:
        return ACTORS
    return {r: n for r, n in ACTORS.items() if r is not Role.MEDIATOR}


async def _session(server: TestServer, kind: HearingKind) -> tuple[str, People]:
    hid, people = await make_hearing(server.app, [], state="in_session", kind=kind)
    service = server.app[HEARINGS]
    target_side, own_side = PartySide.DEFENDANT, PartySide.PLAINTIFF
    specs: list[tuple[str, Role, dict[str, Any]]] = [
        (name, role, {"side": own_side} if role is Role.PARTY else {})
        for role, name in _actors(kind).items()
    ]
    specs += [(TARGET, Role.PARTY, {"side": target_side}), (SPARE_WITNESS, Role.WITNESS, {})]
    for name, role, kw in specs:
        p = await service.add_participant(STAFF, hid, role=role, display_name=name, **kw)
        _, token, _ = await service.issue_link(STAFF, p.id)
        people[name] = Person(p.id, role, name, token)
    # The counsel, the interpreter of 张三; the target party's own counsel is not needed.
    store = server.app[STORE]
    for name, field in (("钱律师", "represents"), ("周翻译", "interprets_for")):
        p = await store.get_participant(people[name].id)
        await store.update_participant(replace(p, **{field: people["张三"].id}))
    return hid, people


@pytest.mark.parametrize("kind", [HearingKind.HEARING, HearingKind.MEDIATION])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.event}-{c.action.value}")
async def test_only_the_roles_the_table_allows_may_act(
    server: TestServer, make_client: MakeClient, case: Case, kind: HearingKind
) -> None:
    hid, people = await _session(server, kind)
    clients: dict[Role, HearingClient] = {}
    actors = _actors(kind)
    for name in [*actors.values(), TARGET, SPARE_WITNESS]:
        client = make_client(people[name].token)
        await client.connect()
        await client.join()
        if name in actors.values():
            clients[people[name].role] = client
    presiding = clients[Role.JUDGE if kind is HearingKind.HEARING else Role.MEDIATOR]
    # Those who always wait are brought in (witnesses and experts are called in a hearing).
    for name in (ACTORS[Role.WITNESS], ACTORS[Role.EXPERT], ACTORS[Role.OBSERVER]):
        if kind is HearingKind.HEARING or people[name].role is Role.OBSERVER:
            await presiding.call("admit", {"participant_id": people[name].id})

    allowed = [r for r in actors if can(r, case.action, kind)]
    refused = [r for r in actors if r not in allowed]
    before = await server.app[STORE].list_participants(hid)
    hearing_before = await server.app[STORE].get_hearing(hid)
    audit_before = len(await server.app[HEARINGS].audit_log(Actor.staff("t"), hid))
    for role in refused:
        reply = await clients[role]._sio.call(
            case.event, case.payload(people, role), namespace="/hearing", timeout=10
        )
        assert reply["ok"] is False and reply["code"] == "forbidden", (role, reply)
    # Nothing changed: no participant, no hearing field, no entry in the record.
    assert await server.app[STORE].list_participants(hid) == before
    assert await server.app[STORE].get_hearing(hid) == hearing_before
    assert len(await server.app[HEARINGS].audit_log(Actor.staff("t"), hid)) == audit_before

    outcomes = {}
    for role in allowed:
        reply = await clients[role]._sio.call(
            case.event, case.payload(people, role), namespace="/hearing", timeout=10
        )
        outcomes[role] = reply.get("code", "ok")
        assert reply.get("code") != "forbidden", (role, reply)
    if allowed:
        assert "ok" in outcomes.values() or set(outcomes.values()) <= case.also, outcomes
