"""The clerk's board (issue 14, item 7) through the real server: today's hearings with who is
connected, missing, waiting, their identity and network health; alerts from repeated
disconnects and failed self-tests, acknowledged by the clerk; staff only; bad input refused."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from hearing_server.core.actors import Actor
from hearing_server.core.hearing import HearingAction
from hearing_server.core.participant import Role
from hearing_server.keys import HEARINGS, STORE
from signaling.client import HearingClient, SignalingError
from support.hearing import make_hearing
from support.waiting import eventually

MakeClient = Callable[..., HearingClient]


async def _board(http: aiohttp.ClientSession, base: str, headers: dict[str, str]) -> Any:
    async with http.get(f"{base}/api/board", headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_the_board_shows_todays_hearings_and_the_alerts(
    server: TestServer, make_client: MakeClient, admin_headers: dict[str, str]
) -> None:
    base = f"http://127.0.0.1:{server.port}"
    live_id, live = await make_hearing(
        server.app,
        [
            (Role.JUDGE, "王法官"),
            (Role.CLERK, "赵书记员"),
            (Role.PARTY, "张三"),
            (Role.PARTY, "李四"),
        ],
        state="in_session",
    )
    open_id, waiting = await make_hearing(
        server.app, [(Role.JUDGE, "周法官"), (Role.PARTY, "钱五")], state="open"
    )
    # Yesterday's closed hearing is not on today's board.
    old_id, _ = await make_hearing(server.app, [(Role.JUDGE, "吴法官")], state="open")
    store = server.app[STORE]
    old = await store.get_hearing(old_id)
    yesterday = datetime.now(UTC) - timedelta(days=1)
    await store.update_hearing(
        replace(old, scheduled_start=yesterday, scheduled_end=yesterday + timedelta(hours=1))
    )
    await server.app[HEARINGS].transition(Actor.staff("t"), old_id, HearingAction.CLOSE)

    judge, zhang = make_client(live["王法官"].token), make_client(live["张三"].token)
    qian = make_client(waiting["钱五"].token)
    for client in (judge, zhang, qian):
        await client.connect()
        await client.join()
    await zhang.call("network_report", {"grade": "poor", "loss_pct": 12, "rtt_ms": 180})

    async with aiohttp.ClientSession() as http:
        board = await _board(http, base, admin_headers)
        ids = [h["id"] for h in board["hearings"]]
        assert live_id in ids and open_id in ids and old_id not in ids
        row = next(h for h in board["hearings"] if h["id"] == live_id)
        assert row["state"] == "in_session" and row["clerk_id"] == live["赵书记员"].id
        assert row["counts"]["connected"] == 2 and row["counts"]["missing"] == 2
        people = {p["display_name"]: p for p in row["participants"]}
        assert people["张三"]["network"] == "poor" and people["张三"]["loss_pct"] == 12
        assert people["李四"]["missing"] and not people["李四"]["connected"]
        assert people["张三"]["identity"] == "not_required"
        other = next(h for h in board["hearings"] if h["id"] == open_id)
        assert other["counts"]["waiting"] == 1

        # 张三's connection drops three times within minutes: one alert, however often.
        for _ in range(3):
            await zhang.close()
            await eventually(
                lambda: _state(server, live["张三"].id, "disconnected"),
                timeout=10,
                what="张三 disconnected",
            )
            zhang = make_client(live["张三"].token)
            await zhang.connect()
            await zhang.join()
        # A party whose self-test fails: the clerk is alerted.
        headers = {"Authorization": f"Bearer {waiting['钱五'].token}"}
        report = {"camera": "ok", "microphone": "fail", "speaker": "ok", "network": "good"}
        async with http.post(f"{base}/api/me/self-test", json=report, headers=headers) as resp:
            assert resp.status == 200 and (await resp.json())["problems"] == ["microphone"]
        board = await _board(http, base, admin_headers)
        kinds = {(a["kind"], a["display_name"]) for a in board["alerts"]}
        assert kinds == {("repeated_disconnects", "张三"), ("unable_to_join", "钱五")}

        # Acknowledged: off the open list, kept among the last acknowledged.
        alert = next(a for a in board["alerts"] if a["kind"] == "unable_to_join")
        ack = f"{base}/api/board/alerts/{alert['id']}/ack"
        async with http.post(ack, headers=admin_headers) as resp:
            assert resp.status == 200
            assert (await resp.json())["alert"]["acknowledged_by"] == "staff:admin"
        async with http.post(ack, headers=admin_headers) as resp:  # again: nothing more
            assert resp.status == 200
        board = await _board(http, base, admin_headers)
        assert [a["kind"] for a in board["alerts"]] == ["repeated_disconnects"]
        assert [a["id"] for a in board["acknowledged"]] == [alert["id"]]

        # Bad input, wrong callers.
        async with http.post(f"{base}/api/board/alerts/nope/ack", headers=admin_headers) as r:
            assert r.status == 404
        async with http.get(f"{base}/api/board") as r:
            assert r.status == 401
        async with http.get(f"{base}/api/board", headers=headers) as r:
            assert r.status == 401
        bad = {"microphone": "broken"}
        async with http.post(f"{base}/api/me/self-test", json=bad, headers=headers) as r:
            assert r.status == 422
        json_headers = {**headers, "Content-Type": "application/json"}
        async with http.post(f"{base}/api/me/self-test", data=b"{", headers=json_headers) as r:
            assert r.status == 400
    with pytest.raises(SignalingError) as info:
        await judge.call("network_report", {"grade": "bad", "loss_pct": 150})
    assert info.value.code == "invalid_value"
    with pytest.raises(SignalingError) as info:
        await judge.call("network_report", {"grade": "awful"})
    assert info.value.code == "invalid_field"
    log = await server.app[HEARINGS].audit_log(Actor.staff("t"), open_id)
    assert [e.data["problems"] for e in log if e.event == "self_test_reported"] == [["microphone"]]
    acked = [e for e in log if e.event == "alert_acknowledged"]
    assert [(e.actor, e.data["kind"], e.data["alert_id"]) for e in acked] == [
        ("staff:admin", "unable_to_join", alert["id"])
    ]
    await asyncio.sleep(0)


async def _state(server: TestServer, pid: str, state: str) -> bool:
    return (await server.app[STORE].get_participant(pid)).state.value == state


async def test_asking_for_help_reaches_the_clerks_console_and_the_board(
    server: TestServer, make_client: MakeClient, admin_headers: dict[str, str]
) -> None:
    base = f"http://127.0.0.1:{server.port}"
    hid, people = await make_hearing(
        server.app,
        [
            (Role.CLERK, "赵书记员"),
            (Role.PARTY, "钱五"),
            (Role.OBSERVER, "旁听者"),
            (Role.COURTROOM_DISPLAY, "法庭屏幕"),
        ],
        state="open",
    )
    clerk = make_client(people["赵书记员"].token)
    await clerk.connect()
    await clerk.join()
    url = f"{base}/api/me/help"

    def auth(name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {people[name].token}"}

    async with aiohttp.ClientSession() as http:
        # A party still in the self-test (not connected): the clerk's console hears at once.
        async with http.post(url, json={"reason": "media_blocked"}, headers=auth("钱五")) as r:
            assert r.status == 200 and (await r.json())["alerted"] is True
        alert = await clerk.wait_for_event(
            "help_request", lambda a: a["participant_id"] == people["钱五"].id
        )
        assert alert["reason"] == "media_blocked" and alert["display_name"] == "钱五"
        # Again at once: the clerk has been told; nobody is alerted twice.
        async with http.post(url, json={"reason": "media_blocked"}, headers=auth("钱五")) as r:
            assert r.status == 200 and (await r.json())["alerted"] is False
        board = await _board(http, base, admin_headers)
        asks = [a for a in board["alerts"] if a["kind"] == "help_requested"]
        assert [a["display_name"] for a in asks] == ["钱五"]
        # An observer may ask too; the courtroom display may not (the permission table).
        async with http.post(url, json={"reason": "other"}, headers=auth("旁听者")) as r:
            assert r.status == 200
        async with http.post(url, json={"reason": "other"}, headers=auth("法庭屏幕")) as r:
            assert r.status == 403
        # Bad input: a clear 4xx, nothing recorded.
        async with http.post(url, json={"reason": "bored"}, headers=auth("旁听者")) as r:
            assert r.status == 422
        async with http.post(url, json={}, headers=auth("旁听者")) as r:
            assert r.status == 422
        async with http.post(url, json={"reason": "other"}) as r:
            assert r.status == 401
        # The court's number comes with the participant's view ("" when none is set).
        async with http.get(f"{base}/api/me", headers=auth("钱五")) as r:
            assert (await r.json())["help_phone"] == ""
    log = await server.app[HEARINGS].audit_log(Actor.staff("t"), hid)
    asked = [e.data["reason"] for e in log if e.event == "help_requested"]
    assert asked == ["media_blocked", "other"]
