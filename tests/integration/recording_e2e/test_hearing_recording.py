"""A hearing in session is recorded: real server, real clients, real files, ffprobe."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from hearing_server.app import create_app
from hearing_server.config import Settings
from hearing_server.core.participant import Role
from hearing_server.keys import STORE
from recording import verify_recording
from signaling.client import HearingClient
from support.hearing import make_hearing
from support.media import ColourVideoTrack, ToneAudioTrack

MakeClient = Callable[..., HearingClient]
PEOPLE = [
    (Role.JUDGE, "王法官"),
    (Role.PARTY, "张三"),
    (Role.PARTY, "李四"),
    (Role.CLERK, "赵书记员"),
]


def _ffprobe_duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return float(json.loads(out.stdout)["format"]["duration"])


async def _verify_cli(directory: Path) -> tuple[int, str]:
    """Run ``hearing-server verify-recording`` as a user would; returns (exit code, output)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hearing_server",
        "verify-recording",
        str(directory),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, recording_segment_seconds=2.0)


async def test_in_session_hearing_is_recorded_and_verifies(
    server: TestServer, make_client: MakeClient, settings: Settings
) -> None:
    hid, people = await make_hearing(server.app, PEOPLE, state="open")
    judge = make_client(people["王法官"].token)
    zhang = make_client(people["张三"].token)
    li = make_client(people["李四"].token)  # stays in the waiting room: never recorded
    clerk = make_client(people["赵书记员"].token)
    for c, colour, tone in (
        (judge, (220, 40, 40), 440.0),
        (zhang, (40, 200, 40), 700.0),
        (li, (40, 40, 220), 1100.0),
    ):
        await c.connect()
        await c.join()
        await c.publish([ColourVideoTrack(colour), ToneAudioTrack(tone)])
    await clerk.connect()
    info = await clerk.join()
    assert info["recording"] == {"state": "not_recording"}
    await judge.call("hearing_action", {"action": "start"})
    await judge.call("admit", {"participant_id": people["张三"].id})
    state = await zhang.wait_for_event("recording_state", lambda d: d["state"] == "recording")
    assert state["recording_id"]
    # Everyone in the hearing learns they are recorded; the waiting party too.
    await li.wait_for_event("recording_state")
    await asyncio.sleep(7)
    await judge.call("hearing_action", {"action": "close"})
    await clerk.wait_for_event("recording_state", lambda d: d["state"] == "not_recording")

    root = settings.effective_recordings_dir / hid
    (rec_dir,) = [d for d in root.iterdir() if d.is_dir()]
    assert verify_recording(rec_dir) == []
    track_dirs = sorted(d.name for d in rec_dir.iterdir() if d.is_dir())
    recorded_pids = {name.split("-", 2)[2] for name in track_dirs}
    assert recorded_pids == {people["王法官"].id, people["张三"].id}, track_dirs
    manifest = [json.loads(line) for line in (rec_dir / "manifest.jsonl").read_text().splitlines()]
    segments = [e for e in manifest if e["type"] == "segment"]
    assert len(segments) >= 8  # 2 people x audio+video x several 2 s segments
    for entry in segments:
        path = rec_dir / entry["data"]["file"]
        recorded_s = entry["data"]["duration_us"] / 1e6
        assert abs(_ffprobe_duration(path) - recorded_s) <= 0.5, entry

    audit = [e.event for e in await server.app[STORE].list_audit(hid)]
    assert "recording_started" in audit and "recording_stopped" in audit

    # The CLI agrees, and a flipped byte is found.
    ok_code, ok_out = await _verify_cli(rec_dir)
    assert ok_code == 0, ok_out
    victim = rec_dir / segments[0]["data"]["file"]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    bad_code, bad_out = await _verify_cli(rec_dir)
    assert bad_code == 1 and victim.name in bad_out


async def test_only_judge_clerk_and_staff_see_recordings(
    server: TestServer, admin_headers: dict[str, str], aiohttp_client: Any
) -> None:
    hid, people = await make_hearing(server.app, PEOPLE)
    client = await aiohttp_client(server)
    for name, expected in (("王法官", 200), ("赵书记员", 200), ("张三", 403)):
        resp = await client.get(
            "/api/me/recordings", headers={"Authorization": f"Bearer {people[name].token}"}
        )
        assert resp.status == expected, (name, await resp.text())
    resp = await client.get(f"/api/hearings/{hid}/recordings", headers=admin_headers)
    assert resp.status == 200 and (await resp.json())["recordings"] == []
    resp = await client.get(
        "/api/me/recordings/x/files/..%2F..%2Fjwt_signing.key",
        headers={"Authorization": f"Bearer {people['王法官'].token}"},
    )
    assert resp.status == 404
    resp = await client.get("/api/recordings/public-key")
    assert "BEGIN PUBLIC KEY" in (await resp.json())["public_key_pem"]


async def test_recording_failure_alerts_judge_and_clerk(
    aiohttp_server: Any, settings: Settings, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the recordings directory should be")
    app = create_app(replace(settings, recordings_dir=blocker / "recordings"))
    server = await aiohttp_server(app, host="127.0.0.1")
    hid, people = await make_hearing(server.app, PEOPLE)
    clients = []
    try:
        for name in ("王法官", "赵书记员", "张三"):
            c = HearingClient(f"http://127.0.0.1:{server.port}", people[name].token)
            clients.append(c)
            await c.connect()
            await c.join()
        judge, clerk, party = clients
        await judge.call("hearing_action", {"action": "start"})
        for staff in (judge, clerk):
            alert = await staff.wait_for_event("recording_alert", timeout=10)
            assert alert["message"]
        await asyncio.sleep(0.5)
        assert not any(ev == "recording_alert" for ev, _ in party.events)
        audit = [e.event for e in await server.app[STORE].list_audit(hid)]
        assert "recording_failed" in audit
    finally:
        for c in clients:
            await c.close()
