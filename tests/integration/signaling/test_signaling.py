"""Signaling without media: authentication, joining, judge controls, bad events."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from hearing_server.core.actors import Actor
from hearing_server.core.hearing import HearingKind
from hearing_server.core.participant import Role
from hearing_server.keys import HEARINGS, STORE
from signaling.client import HearingClient, SignalingError
from support.hearing import make_hearing

PEOPLE = [
    (Role.JUDGE, "王法官"),
    (Role.CLERK, "赵书记员"),
    (Role.PARTY, "张三"),
    (Role.WITNESS, "陈证人"),
]

MakeClient = Callable[..., HearingClient]


async def _refused_code(server: TestServer, token: Any) -> str:
    client = HearingClient(f"http://127.0.0.1:{server.port}", token)
    try:
        with pytest.raises(SignalingError) as info:
            await client.connect()
        return info.value.code
    finally:
        await client.close()


async def test_refuses_bad_tokens(server: TestServer) -> None:
    _, people = await make_hearing(server.app, PEOPLE)
    assert await _refused_code(server, None) == "unauthorized"
    assert await _refused_code(server, "x.y.z") == "invalid_token"
    await server.app[HEARINGS].revoke_link(Actor.staff("t"), people["张三"].token)
    assert await _refused_code(server, people["张三"].token) == "token_revoked"


async def test_join_wait_admit(server: TestServer, make_client: MakeClient) -> None:
    hid, people = await make_hearing(server.app, PEOPLE)
    judge = make_client(people["王法官"].token)
    party = make_client(people["张三"].token)
    await judge.connect()
    info = await judge.join()
    assert info["me"]["state"] == "in_hearing" and info["me"]["room"] == "hearing"
    assert info["hearing"]["id"] == hid and info["ice_servers"] == []

    await party.connect()
    pinfo = await party.join()
    assert pinfo["me"]["state"] == "waiting"
    # The party does not learn the others' live states.
    assert all("state" not in p for p in pinfo["participants"])
    # The judge sees the party arrive in the waiting room.
    await judge.wait_for_event(
        "participant_updated",
        lambda d: d["id"] == people["张三"].id and d["state"] == "waiting" and d["connected"],
    )
    await judge.call("admit", {"participant_id": people["张三"].id})
    me = await party.wait_for_event("me_updated", lambda d: d["state"] == "in_hearing")
    assert me["room"] == "hearing"

    # The party cannot admit anyone; the error comes as an event and a failed ack.
    with pytest.raises(SignalingError) as info_err:
        await party.call("admit", {"participant_id": people["王法官"].id})
    assert info_err.value.code == "forbidden"
    err = await party.wait_for_event("error")
    assert err["event"] == "admit" and err["code"] == "forbidden"

    entries = await server.app[STORE].list_audit(hid)
    assert [e.event for e in entries if e.event in ("joined", "admitted")] == [
        "joined",
        "joined",
        "admitted",
    ]


async def test_witness_waits_even_in_session(server: TestServer, make_client: MakeClient) -> None:
    _, people = await make_hearing(server.app, PEOPLE, state="in_session")
    party = make_client(people["张三"].token)
    witness = make_client(people["陈证人"].token)
    judge = make_client(people["王法官"].token)
    for c in (party, witness, judge):
        await c.connect()
    assert (await party.join())["me"]["state"] == "in_hearing"
    assert (await witness.join())["me"]["state"] == "waiting"
    await judge.join()
    # The clerk has no judicial power: may not call the witness.
    clerk = make_client(people["赵书记员"].token)
    await clerk.connect()
    await clerk.join()
    with pytest.raises(SignalingError, match="forbidden"):
        await clerk.call("admit", {"participant_id": people["陈证人"].id})
    await judge.call("admit", {"participant_id": people["陈证人"].id})
    await witness.wait_for_event("me_updated", lambda d: d["state"] == "in_hearing")
    await judge.call("return_to_waiting", {"participant_id": people["陈证人"].id})
    await witness.wait_for_event("me_updated", lambda d: d["state"] == "waiting")


async def test_mute_lock(server: TestServer, make_client: MakeClient) -> None:
    _, people = await make_hearing(server.app, PEOPLE, state="in_session")
    judge, party = make_client(people["王法官"].token), make_client(people["张三"].token)
    for c in (judge, party):
        await c.connect()
        await c.join()
    pid = people["张三"].id
    await judge.call("mute", {"participant_id": pid, "muted": True, "lock": True})
    me = await party.wait_for_event("me_updated", lambda d: d["audio_muted"])
    assert me["mute_locked"] is True
    with pytest.raises(SignalingError, match="mute_locked"):
        await party.call("mute", {"participant_id": pid, "muted": False})
    # Muting oneself again is always allowed; unmuting waits for the judge.
    await judge.call("mute", {"participant_id": pid, "muted": False})
    me = await party.wait_for_event("me_updated", lambda d: not d["audio_muted"])
    assert me["mute_locked"] is False
    await party.call("mute", {"participant_id": pid, "muted": True})
    await party.call("mute", {"participant_id": pid, "muted": False})
    # A party may not mute someone else.
    with pytest.raises(SignalingError, match="forbidden"):
        await party.call("mute", {"participant_id": people["王法官"].id, "muted": True})


async def test_hearing_actions_and_layout(server: TestServer, make_client: MakeClient) -> None:
    _, people = await make_hearing(server.app, PEOPLE)
    judge, party = make_client(people["王法官"].token), make_client(people["张三"].token)
    for c in (judge, party):
        await c.connect()
        await c.join()
    reply = await judge.call("hearing_action", {"action": "start"})
    assert reply["hearing"]["state"] == "in_session"
    pushed = await party.wait_for_event("hearing_state", lambda d: d["state"] == "in_session")
    assert pushed["actual_start"] is not None
    with pytest.raises(SignalingError, match="invalid_transition"):
        await judge.call("hearing_action", {"action": "start"})
    await judge.call("set_layout", {"layout": "grid"})
    await party.wait_for_event("hearing_state", lambda d: d["layout"] == "grid")
    with pytest.raises(SignalingError, match="forbidden"):
        await party.call("hearing_action", {"action": "close"})


@pytest.mark.parametrize(
    ("event", "payload", "code"),
    [
        ("join", {"protocol": 99}, "protocol_mismatch"),
        ("admit", "not an object", "invalid_body"),
        ("admit", [1, 2, 3], "invalid_body"),
        ("admit", {}, "missing_field"),
        ("admit", {"participant_id": 5}, "invalid_field"),
        ("admit", {"participant_id": "x", "extra": 1}, "unknown_field"),
        ("mute", {"participant_id": "nobody", "muted": True}, "not_found"),
        ("publish_offer", {"type": "offer", "sdp": "x" * (70 * 1024)}, "invalid_field"),
        ("teleport", {}, "unknown_event"),
    ],
)
async def test_bad_events(
    server: TestServer, make_client: MakeClient, event: str, payload: Any, code: str
) -> None:
    _, people = await make_hearing(server.app, PEOPLE)
    judge = make_client(people["王法官"].token)
    await judge.connect()
    if event != "join":
        await judge.join()
    reply = await judge._sio.call(event, payload, namespace="/hearing", timeout=5)
    assert reply["ok"] is False and reply["code"] == code, reply
    err = await judge.wait_for_event("error", lambda d: d["event"] == event)
    assert err["code"] == code
    # The server keeps serving: a normal request still works.
    if event != "join":
        await judge.call("raise_hand", {"raised": True})


async def test_events_before_join(server: TestServer, make_client: MakeClient) -> None:
    _, people = await make_hearing(server.app, PEOPLE)
    party = make_client(people["张三"].token)
    await party.connect()
    with pytest.raises(SignalingError, match="not_joined"):
        await party.call("raise_hand", {"raised": True})


async def test_cannot_join_scheduled_or_closed(server: TestServer, make_client: MakeClient) -> None:
    _, people = await make_hearing(server.app, PEOPLE, state="scheduled")
    party = make_client(people["张三"].token)
    await party.connect()
    with pytest.raises(SignalingError, match="hearing_not_open"):
        await party.join()


async def test_remove_and_refuse_rejoin(server: TestServer, make_client: MakeClient) -> None:
    _, people = await make_hearing(server.app, PEOPLE, state="in_session")
    judge, party = make_client(people["王法官"].token), make_client(people["张三"].token)
    for c in (judge, party):
        await c.connect()
        await c.join()
    await judge.call("remove", {"participant_id": people["张三"].id})
    await party.wait_for_event("removed")
    for _ in range(50):
        if not party._sio.connected:
            break
        await asyncio.sleep(0.05)
    assert not party._sio.connected
    assert await _refused_code(server, people["张三"].token) == "removed"


async def test_disconnect_and_return(server: TestServer, make_client: MakeClient) -> None:
    _, people = await make_hearing(server.app, PEOPLE, state="in_session")
    judge, party = make_client(people["王法官"].token), make_client(people["张三"].token)
    for c in (judge, party):
        await c.connect()
        await c.join()
    pid = people["张三"].id
    await party._sio.disconnect()
    await judge.wait_for_event(
        "participant_updated", lambda d: d["id"] == pid and d["state"] == "disconnected"
    )
    again = make_client(people["张三"].token)
    await again.connect()
    info = await again.join()
    assert info["me"]["state"] == "in_hearing"
    await judge.wait_for_event(
        "participant_updated",
        lambda d: d["id"] == pid and d["state"] == "in_hearing" and d["connected"],
    )


async def test_newer_connection_replaces_older(server: TestServer, make_client: MakeClient) -> None:
    _, people = await make_hearing(server.app, PEOPLE, state="in_session")
    judge, first = make_client(people["王法官"].token), make_client(people["张三"].token)
    for c in (judge, first):
        await c.connect()
        await c.join()
    pid = people["张三"].id
    # A reload: the new page joins before the old socket's disconnect is processed.
    second = make_client(people["张三"].token)
    await second.connect()
    assert (await second.join())["me"]["state"] == "in_hearing"
    await first.wait_for_event("replaced")
    for _ in range(50):
        if not first._sio.connected:
            break
        await asyncio.sleep(0.05)
    assert not first._sio.connected
    await asyncio.sleep(0.3)
    # The old connection's end did not mark the participant disconnected.
    p = await server.app[STORE].get_participant(pid)
    assert p.state.value == "in_hearing"
    await second.call("raise_hand", {"raised": True})
    await judge.wait_for_event(
        "participant_updated", lambda d: d["id"] == pid and d["hand_raised"] and d["connected"]
    )


async def test_resubscribe_before_any_media(server: TestServer, make_client: MakeClient) -> None:
    _, people = await make_hearing(server.app, PEOPLE, state="in_session")
    party = make_client(people["张三"].token)
    await party.connect()
    await party.join()
    # No subscribe connection exists yet: nothing to offer, and that is not an error.
    assert (await party.call("resubscribe", {}))["revision"] is None


async def test_server_shutdown_ends_connected_sessions(
    server: TestServer, make_client: MakeClient
) -> None:
    """Stopping the server closes open socket.io connections instead of waiting for the
    clients' 45 s ping timeout (the server did, before on_shutdown ended them)."""
    _, people = await make_hearing(server.app, PEOPLE)
    judge = make_client(people["王法官"].token)
    await judge.connect()
    await judge.join()
    async with asyncio.timeout(20):
        await server.close()
    assert not judge.connected


async def test_shutdown_does_not_wait_for_a_client_already_gone(
    server: TestServer, make_client: MakeClient
) -> None:
    """A client whose hearing closed (the server ended its namespace) and which then went
    away leaves an engine.io session behind for a moment; shutting down then waited for it
    for good (engine.io's disconnect-all waits for every socket's queue to drain)."""
    _, people = await make_hearing(server.app, PEOPLE, state="in_session")
    judge = make_client(people["王法官"].token)
    await judge.connect()
    await judge.join()
    await judge.call("hearing_action", {"action": "close"})
    await asyncio.sleep(0.5)
    await judge.close()
    async with asyncio.timeout(10):
        await server.close()


async def test_mediator_presides_over_a_mediation(
    server: TestServer, make_client: MakeClient
) -> None:
    """The mediator of a mediation sees everyone's live state and gets the staff events.

    (A permission check once omitted the session's kind and treated the mediator as an
    ordinary participant of a court hearing.)
    """
    _, people = await make_hearing(
        server.app,
        [(Role.MEDIATOR, "孙调解员"), (Role.PARTY, "张三")],
        kind=HearingKind.MEDIATION,
    )
    mediator = make_client(people["孙调解员"].token)
    party = make_client(people["张三"].token)
    await mediator.connect()
    info = await mediator.join()
    assert info["hearing"]["kind"] == "mediation"
    assert all("state" in p for p in info["participants"])
    assert {"admit", "open_caucus", "view_all_states"} <= set(info["allowed_actions"])

    await party.connect()
    pinfo = await party.join()
    assert all("state" not in p for p in pinfo["participants"])
    assert "admit" not in pinfo["allowed_actions"]
    # The party's arrival reaches the mediator with its full live state (staff room only).
    arrived = await mediator.wait_for_event(
        "participant_updated",
        lambda d: d["id"] == people["张三"].id and d.get("state") == "waiting",
    )
    assert arrived["connected"] is True
    await mediator.call("admit", {"participant_id": people["张三"].id})
    await party.wait_for_event("me_updated", lambda d: d["state"] == "in_hearing")

