"""Notices (issue 14, item 6) through the real server: the clerk or judge sends one to a person,
a side, the waiting room or everyone; each recipient's client gets it at once (or on joining),
reports it shown and read, and the console sees each receipt; stored and audited; bad requests
refused and nothing sent."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aiohttp.test_utils import TestServer

from hearing_server.core.actors import Actor
from hearing_server.core.participant import PartySide, Role
from hearing_server.keys import HEARINGS, STORE
from signaling.client import HearingClient, SignalingError
from support.hearing import STAFF, Person, make_hearing

MakeClient = Callable[..., HearingClient]


async def refused(client: HearingClient, event: str, data: dict[str, object]) -> str:
    with pytest.raises(SignalingError) as info:
        await client.call(event, data)
    return info.value.code


async def _hearing(server: TestServer) -> tuple[str, dict[str, Person]]:
    hid, people = await make_hearing(
        server.app,
        [(Role.JUDGE, "王法官"), (Role.CLERK, "赵书记员"), (Role.PARTY, "张三")],
        state="open",
    )
    service = server.app[HEARINGS]
    extra = (
        ("钱律师", Role.COUNSEL, {"represents": people["张三"].id}),
        ("李四", Role.PARTY, {"side": PartySide.DEFENDANT}),
        ("王五", Role.PARTY, {"side": PartySide.THIRD_PARTY}),
    )
    for name, role, kw in extra:
        p = await service.add_participant(STAFF, hid, role=role, display_name=name, **kw)  # type: ignore[arg-type]
        _, token, _ = await service.issue_link(STAFF, p.id)
        people[name] = Person(p.id, role, name, token)
    return hid, people


async def test_a_notice_reaches_the_waiting_room_and_the_console_sees_it_read(
    server: TestServer, make_client: MakeClient
) -> None:
    hid, people = await _hearing(server)
    clients = {
        n: make_client(people[n].token) for n in ("王法官", "赵书记员", "张三", "钱律师", "李四")
    }
    for client in clients.values():
        await client.connect()
        await client.join()
    judge, clerk, zhang, counsel, li = clients.values()
    pid = {n: p.id for n, p in people.items()}

    # The hearing is open, not in session: the parties and counsel wait.
    sent = await clerk.call(
        "send_notice", {"audience": "waiting_room", "template": "starting_soon"}
    )
    notice = sent["notice"]
    assert notice["text"].startswith("庭审将于10分钟后开始")
    assert notice["texts"]["en"] == "The hearing starts in 10 minutes. Please be ready."
    assert sorted(r["participant_id"] for r in notice["receipts"]) == sorted(
        [pid["张三"], pid["钱律师"], pid["李四"]]
    )
    # Each recipient's client gets it at once, with their own receipt only.
    for client, name in ((zhang, "张三"), (counsel, "钱律师"), (li, "李四")):
        got = await client.wait_for_event("notice", lambda d: d["id"] == notice["id"])
        assert [r["participant_id"] for r in got["receipts"]] == [pid[name]]
    assert not [d for e, d in judge.events if e == "notice"]

    # Shown, then read: the judge's console sees both.
    await zhang.call("notice_receipt", {"notice_id": notice["id"], "status": "delivered"})
    await zhang.call("notice_receipt", {"notice_id": notice["id"], "status": "read"})
    status = await judge.wait_for_event(
        "notice_updated",
        lambda d: any(r["participant_id"] == pid["张三"] and r["read_at"] for r in d["receipts"]),
    )
    mine = next(r for r in status["receipts"] if r["participant_id"] == pid["张三"])
    assert mine["delivered_at"] <= mine["read_at"]
    # Read at once without the delivery step: both recorded; again: nothing new.
    await li.call("notice_receipt", {"notice_id": notice["id"], "status": "read"})
    again = await li.call("notice_receipt", {"notice_id": notice["id"], "status": "read"})
    assert again["receipt"]["delivered_at"] and again["receipt"]["read_at"]
    # Only a recipient has a receipt.
    assert await refused(
        judge, "notice_receipt", {"notice_id": notice["id"], "status": "read"}
    ) == ("not_found")

    # A side: the defendant's party only; one person: counsel only.
    side = await judge.call(
        "send_notice", {"audience": "side", "target": "defendant", "text": "请被告准备答辩意见。"}
    )
    assert [r["participant_id"] for r in side["notice"]["receipts"]] == [pid["李四"]]
    one = await judge.call(
        "send_notice", {"audience": "participant", "target": pid["钱律师"], "template": "show_id"}
    )
    assert [r["participant_id"] for r in one["notice"]["receipts"]] == [pid["钱律师"]]
    await counsel.wait_for_event("notice", lambda d: d["id"] == one["notice"]["id"])

    # Everyone, including 王五 who has not joined yet: he finds it unread when he joins.
    everyone = await judge.call("send_notice", {"audience": "everyone", "template": "quiet_place"})
    to = {r["participant_id"] for r in everyone["notice"]["receipts"]}
    assert to == {pid[n] for n in ("赵书记员", "张三", "钱律师", "李四", "王五")}
    late = make_client(people["王五"].token)
    await late.connect()
    joined = await late.join()
    found = [n for n in joined["notices"] if n["id"] == everyone["notice"]["id"]]
    assert found and found[0]["receipts"][0]["read_at"] is None
    # The console's join shows every notice with every receipt.
    console = make_client(people["王法官"].token)
    await console.connect()
    listing = (await console.join())["notices"]
    assert [n["id"] for n in listing][:3] == [
        notice["id"],
        side["notice"]["id"],
        one["notice"]["id"],
    ]

    log = await server.app[HEARINGS].audit_log(Actor.staff("t"), hid)
    events = [(e.event, e.actor) for e in log if e.event.startswith("notice_")]
    assert events.count(("notice_sent", pid["赵书记员"])) == 1
    assert ("notice_delivered", pid["张三"]) in events and ("notice_read", pid["张三"]) in events
    assert events.count(("notice_read", pid["李四"])) == 1


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"audience": "everyone"}, "invalid_value"),  # neither template nor text
        ({"audience": "everyone", "template": "show_id", "text": "x"}, "invalid_value"),
        ({"audience": "everyone", "text": "   "}, "invalid_value"),
        ({"audience": "everyone", "text": "长" * 501}, "invalid_field"),
        ({"audience": "everyone", "template": "no_such"}, "invalid_field"),
        ({"audience": "mars", "template": "show_id"}, "invalid_field"),
        ({"audience": "participant", "template": "show_id"}, "invalid_value"),
        ({"audience": "participant", "target": "nobody", "template": "show_id"}, "not_found"),
        ({"audience": "side", "target": "jury", "template": "show_id"}, "invalid_value"),
        ({"audience": "everyone", "target": "x", "template": "show_id"}, "invalid_value"),
        ({"audience": "side", "target": "applicant", "template": "show_id"}, "no_recipients"),
        (
            {"audience": "everyone", "text": "a\\nb".replace("\\\\n", "\\n"), "x": 1},
            "unknown_field",
        ),
    ],
)
async def test_bad_notices_are_refused_and_nothing_is_sent(
    server: TestServer, make_client: MakeClient, payload: dict[str, object], code: str
) -> None:
    hid, people = await _hearing(server)
    judge, zhang = make_client(people["王法官"].token), make_client(people["张三"].token)
    for client in (judge, zhang):
        await client.connect()
        await client.join()
    assert await refused(judge, "send_notice", payload) == code
    assert await refused(zhang, "send_notice", {"audience": "everyone", "template": "show_id"}) == (
        "forbidden"
    )
    assert await server.app[STORE].list_notices(hid) == []
    assert not [d for e, d in zhang.events if e == "notice"]
