"""Witnesses and experts (issue 14, item 1) through the real server with real media: they wait
outside whatever the hearing state and receive nothing of the hearing room (checked from what
their subscriber is offered); the judge calls one in, who then gives the undertaking in their
language; the judge dismisses them back to the waiting room or out of the hearing, and recalls
them; everything on the record; bad requests refused."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from aiohttp.test_utils import TestServer

from hearing_server.core.actors import Actor
from hearing_server.core.hearing import HearingKind
from hearing_server.core.participant import Role
from hearing_server.keys import HEARINGS, STORE
from signaling.client import HearingClient, SignalingError
from support.hearing import STAFF, Person, make_hearing
from support.media import ColourVideoTrack, ToneAudioTrack
from support.waiting import wait_until

MakeClient = Callable[..., HearingClient]


async def refused(client: HearingClient, event: str, data: dict[str, object]) -> str:
    with pytest.raises(SignalingError) as info:
        await client.call(event, data)
    return info.value.code


def offered(client: HearingClient) -> set[str]:
    return {pid for pid, _ in client.received}


async def test_a_witness_is_called_sworn_dismissed_and_recalled(
    server: TestServer, make_client: MakeClient
) -> None:
    hid, people = await make_hearing(
        server.app,
        [(Role.JUDGE, "王法官"), (Role.CLERK, "赵书记员"), (Role.PARTY, "张三")],
        state="in_session",
    )
    service = server.app[HEARINGS]
    for name, role, language in (("Smith", Role.WITNESS, "en"), ("刘鉴定", Role.EXPERT, None)):
        p = await service.add_participant(
            STAFF, hid, role=role, display_name=name, language=language
        )
        _, token, _ = await service.issue_link(STAFF, p.id)
        people[name] = Person(p.id, role, name, token)
    judge, clerk, zhang = (make_client(people[n].token) for n in ("王法官", "赵书记员", "张三"))
    witness, expert = make_client(people["Smith"].token), make_client(people["刘鉴定"].token)
    w, j, z = people["Smith"].id, people["王法官"].id, people["张三"].id
    for client in (judge, clerk, zhang):
        await client.connect()
        await client.join()
    await judge.publish([ColourVideoTrack((40, 200, 40)), ToneAudioTrack(440.0)])
    await zhang.publish([ColourVideoTrack((200, 40, 40)), ToneAudioTrack(500.0)])

    # The hearing is in session, yet the witness waits outside, and receives nothing.
    await witness.connect()
    info = await witness.join()
    assert info["me"]["state"] == "waiting"
    # The undertaking in the witness's language (English); the expert's in Chinese and English.
    assert [o["language"] for o in info["oath"]] == ["en"]
    assert info["oath"][0]["title"] == "Witness undertaking"
    await expert.connect()
    expert_info = await expert.join()
    assert [o["language"] for o in expert_info["oath"]] == ["zh-CN", "en"]
    assert expert_info["oath"][0]["title"] == "鉴定人保证书"
    assert (await zhang.join())["oath"] == []
    await witness.publish([ColourVideoTrack((40, 40, 200)), ToneAudioTrack(600.0)])
    await wait_until(lambda: {j, z} <= offered(judge) | {j}, 30, "the courtroom media flows")
    await asyncio.sleep(1.0)
    assert offered(witness) == set(), witness.received
    assert w not in offered(judge) and w not in offered(zhang)
    assert await refused(witness, "take_oath", {}) == "not_called"

    # Called in: the witness sees and hears the room, and is seen and heard.
    assert await refused(clerk, "admit", {"participant_id": w}) == "forbidden"
    await judge.call("admit", {"participant_id": w})
    await wait_until(
        lambda: {j, z} <= offered(witness) and w in offered(judge) and w in offered(zhang),
        30,
        "the witness in the hearing room",
        lambda: f"witness {offered(witness)}, judge {offered(judge)}",
    )
    sworn = (await witness.call("take_oath", {}))["participant"]["sworn_at"]
    assert sworn is not None
    assert (await witness.call("take_oath", {}))["participant"]["sworn_at"] == sworn
    update = await judge.wait_for_event(
        "participant_updated", lambda d: d["id"] == w and d.get("sworn_at")
    )
    assert update["sworn_at"] == sworn
    assert await refused(zhang, "take_oath", {}) == "forbidden"

    # Back to the waiting room: the room's media leaves the witness, theirs leaves the room.
    await judge.call("dismiss_witness", {"participant_id": w, "to": "waiting"})
    await wait_until(
        lambda: offered(witness) == set() and w not in offered(judge),
        30,
        "the witness out of the room's media",
        lambda: f"witness {offered(witness)}, judge {offered(judge)}",
    )
    # Recalled: in again, still bound by the undertaking.
    recalled = await judge.call("admit", {"participant_id": w})
    assert recalled["participant"]["sworn_at"] == sworn

    # Out of the hearing: told so and disconnected, but the link still works.
    await judge.call("dismiss_witness", {"participant_id": w, "to": "out"})
    await witness.wait_for_event("dismissed")
    await wait_until(lambda: not witness.connected, 10, "the witness disconnected")
    assert (await server.app[STORE].get_participant(w)).state.value == "left"
    await wait_until(lambda: w not in offered(judge), 30, "the witness's media gone")
    again = make_client(people["Smith"].token)
    await again.connect()
    assert (await again.join())["me"]["state"] == "waiting"
    await judge.call("admit", {"participant_id": w})

    # Refusals change nothing.
    assert await refused(judge, "dismiss_witness", {"participant_id": z, "to": "out"}) == (
        "not_a_witness"
    )
    assert await refused(clerk, "dismiss_witness", {"participant_id": w, "to": "out"}) == (
        "forbidden"
    )
    assert await refused(judge, "dismiss_witness", {"participant_id": w, "to": "home"}) == (
        "invalid_field"
    )
    assert await refused(judge, "dismiss_witness", {"participant_id": "nobody", "to": "out"}) == (
        "not_found"
    )
    assert (await server.app[STORE].get_participant(z)).state.value == "in_hearing"

    log = await service.audit_log(Actor.staff("t"), hid)
    record = [(e.event, e.data.get("to")) for e in log if e.data.get("participant_id") == w]
    assert record.count(("witness_called", None)) == 3
    assert ("witness_sworn", None) in record
    assert ("witness_dismissed", "waiting") in record and ("witness_dismissed", "out") in record


async def test_a_mediation_calls_witnesses_in_without_the_undertaking(
    server: TestServer, make_client: MakeClient
) -> None:
    hid, people = await make_hearing(
        server.app,
        [(Role.MEDIATOR, "调解员"), (Role.PARTY, "张三"), (Role.WITNESS, "陈证人")],
        state="in_session",
        kind=HearingKind.MEDIATION,
    )
    mediator, zhang, witness = (make_client(people[n].token) for n in ("调解员", "张三", "陈证人"))
    m, w = people["调解员"].id, people["陈证人"].id
    for client in (mediator, zhang, witness):
        await client.connect()
    await mediator.join()
    await zhang.join()
    await mediator.publish([ColourVideoTrack((40, 200, 40)), ToneAudioTrack(440.0)])
    info = await witness.join()
    # Waiting outside like in a court, but no undertaking is given in a mediation.
    assert info["me"]["state"] == "waiting"
    assert info["oath"] == [] and "take_oath" not in info["allowed_actions"]
    assert await refused(witness, "take_oath", {}) == "forbidden"
    assert await refused(zhang, "admit", {"participant_id": w}) == "forbidden"

    # The mediator calls the witness in (this was refused: nobody could let them in), who then
    # receives the joint session's media; still no undertaking to give.
    called = await mediator.call("admit", {"participant_id": w})
    assert called["participant"]["state"] == "in_hearing"
    await wait_until(
        lambda: m in offered(witness),
        30,
        "the witness to receive the mediator",
        lambda: str(offered(witness)),
    )
    assert await refused(witness, "take_oath", {}) == "forbidden"
    # Dismissed back to the waiting room, recalled, then dismissed for good.
    await mediator.call("dismiss_witness", {"participant_id": w, "to": "waiting"})
    await wait_until(lambda: not offered(witness), 30, "the witness out of the joint session")
    await mediator.call("admit", {"participant_id": w})
    await mediator.call("dismiss_witness", {"participant_id": w, "to": "out"})
    await witness.wait_for_event("dismissed")
    assert (await server.app[STORE].get_participant(w)).state.value == "left"

    log = await server.app[HEARINGS].audit_log(Actor.staff("t"), hid)
    record = [(e.event, e.data.get("to")) for e in log if e.data.get("participant_id") == w]
    assert record.count(("witness_called", None)) == 2
    assert ("witness_dismissed", "waiting") in record and ("witness_dismissed", "out") in record
    assert not any(event == "witness_sworn" for event, _ in record)
