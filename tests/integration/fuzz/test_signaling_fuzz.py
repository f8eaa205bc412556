"""Signaling fuzzing against a real server (tests/support/signaling_fuzz.py): hypothesis-generated
events from real socket.io clients for every event of the server's table, out of order,
malformed packets and a burst at a thousand a second. Nothing crashes or logs an error,
every event gets an answer (ok or a clear refusal), the watcher keeps being served and the
state holds. A short run; ``python -m bench.fuzz.signaling`` is the long one."""

from __future__ import annotations

from pathlib import Path

import pytest
import socketio

from hearing_server.core.hearing import HearingKind
from signaling.protocol import NAMESPACE, PROTOCOL_VERSION
from support.signaling_fuzz import (
    PARTY,
    PRESIDING,
    FuzzClient,
    check_invariants,
    fuzz_settings,
    open_session,
    running_server,
)
from support.signaling_fuzz import fuzz_signaling as fuzz


@pytest.mark.parametrize(
    ("kind", "events"), [(HearingKind.HEARING, 1500), (HearingKind.MEDIATION, 800)]
)
async def test_fuzzed_signaling_breaks_nothing(
    tmp_path: Path, kind: HearingKind, events: int
) -> None:
    report = await fuzz(tmp_path, events=events, kind=kind, burst=1000)
    assert not report.failures, "\n".join(report.failures[:30])
    assert report.phases["generated"]["sent"] == events
    # the burst was sent at about a thousand events a second, and all answered
    assert report.phases["burst"]["sent"] >= 950
    assert report.watcher["answered"] > 0


async def test_connect_and_disconnect_sent_as_events_are_refused(tmp_path: Path) -> None:
    """A client's own ``disconnect`` event took it out of the hearing while it stayed
    connected (python-socketio hands it to the real handler), and its ``connect`` event
    crashed the handler without an answer; both are unknown events now."""
    async with running_server(fuzz_settings(tmp_path / "var")) as (app, url):
        hearing = await open_session(app, HearingKind.HEARING)
        client = FuzzClient(url, PARTY, *hearing.people[PARTY])
        await client.connect()
        try:
            for name in ("disconnect", "connect"):
                reply = await client.call(name, {"token": "x"})
                assert reply["code"] == "unknown_event", reply
            assert client.sid is not None  # still connected and joined
            assert await check_invariants(app, hearing, {client.pid: client.sid}) == []
            reply = await client.call("raise_hand", {"raised": True})
            assert reply["ok"], reply
        finally:
            await client.close()


async def test_events_after_leave_are_refused(tmp_path: Path) -> None:
    """After ``leave`` the connection spoke for the participant all the same (a hand
    raised, media renegotiated for someone who had left)."""
    async with running_server(fuzz_settings(tmp_path / "var")) as (app, url):
        hearing = await open_session(app, HearingKind.HEARING)
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(
            url,
            namespaces=[NAMESPACE],
            auth={"token": hearing.people[PARTY][2]},
            transports=["websocket"],
        )
        try:
            assert (await client.call("join", {"protocol": PROTOCOL_VERSION}, NAMESPACE))["ok"]
            assert (await client.call("leave", {}, NAMESPACE))["ok"]
            for name, data in (("raise_hand", {"raised": True}), ("leave", {})):
                reply = await client.call(name, data, NAMESPACE)
                assert reply["code"] == "not_joined", reply
            assert (await client.call("join", {"protocol": PROTOCOL_VERSION}, NAMESPACE))["ok"]
        finally:
            await client.disconnect()


async def test_pausing_a_paused_recording_is_a_conflict(tmp_path: Path) -> None:
    """A second pause (or a resume of a running recording) was an internal error with a
    traceback in the log; it is the judge's conflict now."""
    async with running_server(fuzz_settings(tmp_path / "var")) as (app, url):
        hearing = await open_session(app, HearingKind.HEARING)
        judge = FuzzClient(url, PRESIDING, *hearing.people[PRESIDING])
        await judge.connect()
        try:
            # (a hearing in session is recorded from its start, which may still be under way)
            reply = await judge.call("recording", {"action": "start"})
            assert reply["ok"] or reply["message"] == "the hearing is already being recorded"
            assert (await judge.call("recording", {"action": "pause"}))["ok"]
            reply = await judge.call("recording", {"action": "pause"})
            assert reply["code"] == "conflict", reply
            assert (await judge.call("recording", {"action": "resume"}))["ok"]
            reply = await judge.call("recording", {"action": "resume"})
            assert reply["code"] == "conflict", reply
        finally:
            await judge.close()
