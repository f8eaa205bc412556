"""Consultation rooms in a court hearing (issue 14, item 2) through the real server: a party
asks their counsel for a private consultation, counsel accepts, the two move out of the hearing
room and media flows only between them (checked from what each peer is offered), they lock it,
the judge calls them back; bad requests are refused and change nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aiohttp.test_utils import TestServer

from hearing_server.core.participant import PartySide, Role
from hearing_server.keys import HEARINGS, STORE
from signaling.client import HearingClient, SignalingError
from support.hearing import STAFF, Person, make_hearing
from support.media import ColourVideoTrack, ToneAudioTrack
from support.waiting import wait_until

MakeClient = Callable[..., HearingClient]


async def _court(server: TestServer) -> tuple[str, dict[str, Person]]:
    """A hearing in session: the judge, 张三 (plaintiff) with counsel 王律师, 李四 (defendant)."""
    hid, people = await make_hearing(
        server.app, [(Role.JUDGE, "王法官"), (Role.PARTY, "张三")], state="in_session"
    )
    service = server.app[HEARINGS]
    for name, role, kw in (
        ("王律师", Role.COUNSEL, {"represents": people["张三"].id}),
        ("李四", Role.PARTY, {"side": PartySide.DEFENDANT}),
    ):
        p = await service.add_participant(STAFF, hid, role=role, display_name=name, **kw)  # type: ignore[arg-type]
        _, token, _ = await service.issue_link(STAFF, p.id)
        people[name] = Person(p.id, role, name, token)
    return hid, people


async def refused(client: HearingClient, event: str, data: dict[str, object]) -> str:
    with pytest.raises(SignalingError) as info:
        await client.call(event, data)
    return info.value.code


async def test_a_party_consults_counsel_in_private_and_the_judge_calls_them_back(
    server: TestServer, make_client: MakeClient
) -> None:
    hid, people = await _court(server)
    clients = {name: make_client(p.token) for name, p in people.items()}
    judge, zhang, counsel, li = (clients[n] for n in ("王法官", "张三", "王律师", "李四"))
    j, z, c, li_p = (people[n] for n in ("王法官", "张三", "王律师", "李四"))
    for name, client in clients.items():
        await client.connect()
        await client.join()
        if name != "王律师":  # counsel listens only
            await client.publish([ColourVideoTrack((200, 40, 40)), ToneAudioTrack(500.0)])

    def offered(client: HearingClient) -> set[str]:
        return {pid for pid, _ in client.received}

    def describe() -> str:
        return "; ".join(f"{n}: {sorted(offered(cl))}" for n, cl in clients.items())

    await wait_until(
        lambda: offered(counsel) == {j.id, z.id, li_p.id} and z.id in offered(judge),
        30,
        "everyone in the hearing room",
        describe,
    )

    # 李四 cannot consult the other side's counsel; nobody consults someone unknown.
    assert await refused(li, "request_consultation", {"participant_ids": [c.id]}) == "forbidden"
    assert await refused(zhang, "request_consultation", {"participant_ids": ["nobody"]}) == (
        "not_found"
    )
    assert await refused(zhang, "request_consultation", {"participant_ids": ["a"] * 6}) == (
        "invalid_field"
    )
    assert await refused(zhang, "request_consultation", {"participant_ids": "x"}) == (
        "invalid_field"
    )
    # The judge holds no consultation.
    assert await refused(judge, "request_consultation", {"participant_ids": [z.id]}) == (
        "forbidden"
    )

    asked = await zhang.call("request_consultation", {"participant_ids": [c.id]})
    request_id = asked["request"]["id"]
    told = await counsel.wait_for_event("consultation", lambda d: d["status"] == "requested")
    assert told["request"]["requester"] == z.id
    await judge.wait_for_event("consultation", lambda d: d["status"] == "requested")
    # Only the one invited answers, and only once.
    assert await refused(li, "answer_consultation", {"request_id": request_id, "accept": True}) == (
        "not_invited"
    )
    room = (await counsel.call("answer_consultation", {"request_id": request_id, "accept": True}))[
        "room"
    ]
    assert room["type"] == "consultation" and set(room["members"]) == {z.id, c.id}
    assert await refused(
        counsel, "answer_consultation", {"request_id": request_id, "accept": True}
    ) == ("not_found")

    # In the room: 张三's media goes only to counsel; neither hears the courtroom.
    await wait_until(
        lambda: (
            offered(zhang) == set()
            and offered(counsel) == {z.id}
            and z.id not in offered(judge)
            and z.id not in offered(li)
        ),
        20,
        "media to follow the consultation",
        describe,
    )
    locked = await zhang.call("lock_consultation", {"room_id": room["id"], "locked": True})
    assert locked["room"]["locked"] is True
    # The judge sees that a consultation is under way (its members), and calls them back.
    rooms = await judge.wait_for_event(
        "rooms_updated", lambda d: d["reason"] == "locked", timeout=10
    )
    assert rooms["rooms"][0]["type"] == "consultation"
    assert await refused(li, "end_consultation", {"room_id": room["id"]}) == "forbidden"
    await judge.call("end_consultation", {"room_id": room["id"]})
    await wait_until(
        lambda: offered(counsel) == {j.id, z.id, li_p.id} and z.id in offered(judge),
        30,
        "both back in the hearing room",
        describe,
    )
    me = await zhang.wait_for_event("me_updated", lambda d: d["room"] == "hearing")
    assert me["state"] == "in_hearing"

    # A second consultation, declined; a third, left by each in turn (the room then closes).
    second = await zhang.call("request_consultation", {"participant_ids": [c.id]})
    await counsel.call(
        "answer_consultation", {"request_id": second["request"]["id"], "accept": False}
    )
    await zhang.wait_for_event("consultation", lambda d: d["status"] == "declined")
    third = await zhang.call("request_consultation", {"participant_ids": [c.id]})
    await counsel.call(
        "answer_consultation", {"request_id": third["request"]["id"], "accept": True}
    )
    assert (await counsel.call("leave_private", {}))["room"] == "hearing"
    assert (await zhang.call("leave_private", {}))["room"] == "hearing"
    assert await refused(zhang, "leave_private", {}) == "conflict"
    closed = await judge.wait_for_event(
        "rooms_updated", lambda d: d["rooms"] == [] and d["reason"] == "moved", timeout=10
    )
    assert closed["rooms"] == []

    events = [e.event for e in await server.app[STORE].list_audit(hid)]
    consult = [e for e in events if e.startswith("consultation")]
    assert consult == [
        "consultation_requested", "consultation_accepted", "consultation_ended",
        "consultation_requested", "consultation_rejected",
        "consultation_requested", "consultation_accepted", "consultation_ended",
    ]  # fmt: skip


async def test_during_a_pause_the_judge_lets_a_consultation_go_ahead(
    server: TestServer, make_client: MakeClient
) -> None:
    hid, people = await _court(server)
    clients = {name: make_client(p.token) for name, p in people.items()}
    for client in clients.values():
        await client.connect()
        await client.join()
    judge, zhang, counsel, li = (clients[n] for n in ("王法官", "张三", "王律师", "李四"))
    z, c = people["张三"].id, people["王律师"].id
    asked = await zhang.call("request_consultation", {"participant_ids": [c]})
    request_id = asked["request"]["id"]
    # Not while the hearing sits; never by anyone but the presiding judge.
    assert await refused(judge, "allow_consultation", {"request_id": request_id}) == "not_paused"
    assert await refused(li, "allow_consultation", {"request_id": request_id}) == "forbidden"
    await judge.call("hearing_action", {"action": "pause"})
    assert await refused(zhang, "allow_consultation", {"request_id": request_id}) == "forbidden"
    assert await refused(judge, "allow_consultation", {"request_id": "cr-nope"}) == "not_found"
    allowed = await judge.call("allow_consultation", {"request_id": request_id})
    assert sorted(allowed["room"]["members"]) == sorted([z, c])
    for client in (zhang, counsel):
        me = await client.wait_for_event("me_updated", lambda d: d["state"] == "in_consultation")
        assert me["room"] == "consultation"
    # The request is used up: neither an answer nor a second allowance applies to it.
    assert await refused(
        counsel, "answer_consultation", {"request_id": request_id, "accept": True}
    ) == ("not_found")
    assert await refused(judge, "allow_consultation", {"request_id": request_id}) == "not_found"
    entry = [
        e for e in await server.app[STORE].list_audit(hid) if e.event == "consultation_accepted"
    ]
    assert entry[-1].data["allowed_by_judge"] is True and entry[-1].actor == people["王法官"].id


async def test_the_partys_interpreter_goes_into_the_consultation_with_them(
    server: TestServer, make_client: MakeClient
) -> None:
    """张三 needs an interpreter: when counsel accepts, 周翻译 (interpreting for 张三) moves in
    too and hears the consultation, while the other side's interpreter stays in court; the
    judge's call back brings all three back."""
    hid, people = await _court(server)
    service = server.app[HEARINGS]
    for name, principal in (("周翻译", "张三"), ("吴翻译", "李四")):
        p = await service.add_participant(
            STAFF, hid, role=Role.INTERPRETER, display_name=name,
            interprets_for=people[principal].id,
        )  # fmt: skip
        _, token, _ = await service.issue_link(STAFF, p.id)
        people[name] = Person(p.id, Role.INTERPRETER, name, token)
    clients = {name: make_client(p.token) for name, p in people.items()}
    for client in clients.values():
        await client.connect()
        await client.join()
    await clients["张三"].publish([ColourVideoTrack((200, 40, 40)), ToneAudioTrack(500.0)])
    await clients["王法官"].publish([ColourVideoTrack((40, 200, 40)), ToneAudioTrack(440.0)])
    pid = {name: p.id for name, p in people.items()}

    def offered(name: str) -> set[str]:
        return {p for p, _ in clients[name].received}

    await wait_until(
        lambda: offered("周翻译") == {pid["王法官"], pid["张三"]}, 30, "the interpreter in court"
    )
    asked = await clients["张三"].call("request_consultation", {"participant_ids": [pid["王律师"]]})
    room = (
        await clients["王律师"].call(
            "answer_consultation", {"request_id": asked["request"]["id"], "accept": True}
        )
    )["room"]
    assert set(room["members"]) == {pid["张三"], pid["王律师"], pid["周翻译"]}
    me = await clients["周翻译"].wait_for_event(
        "me_updated", lambda d: d["state"] == "in_consultation"
    )
    assert me["room"] == "consultation"
    await wait_until(
        lambda: offered("周翻译") == {pid["张三"]} and offered("吴翻译") == {pid["王法官"]},
        30,
        "the interpreter hears the consultation, the other side's hears the court",
        lambda: f"周 {offered('周翻译')}, 吴 {offered('吴翻译')}",
    )
    assert (await server.app[STORE].get_participant(pid["吴翻译"])).state.value == "in_hearing"
    entry = [
        e for e in await server.app[STORE].list_audit(hid) if e.event == "consultation_accepted"
    ]
    assert set(entry[-1].data["members"]) == {pid["张三"], pid["王律师"], pid["周翻译"]}

    await clients["王法官"].call("end_consultation", {"room_id": room["id"]})
    await wait_until(
        lambda: offered("周翻译") == {pid["王法官"], pid["张三"]}, 30, "all back in court"
    )
    assert (await server.app[STORE].get_participant(pid["周翻译"])).state.value == "in_hearing"
