"""The disk that holds the recordings fills up during a hearing: real server processes whose
recordings directory is a small tmpfs in a mount namespace of the test's own (``unshare -m``;
the servers enter it with ``nsenter``), two aiortc participants publishing audio and video.

While it is full the judge is alerted (``recording_alert`` on their socket, ``recording_failed``
in the audit log), the hearing goes on (both stay connected, the party still receives the
judge's video, a raised hand still reaches the judge), and what was written before is intact:
every segment the manifest lists keeps its hash, and the recording verifies but for what a
recording cut short has. The server is then killed and started again on the full disk; space
is made and the judge records again; the disk fills again and the judge stops the recording
on it: each step is alerted, and nothing written before is damaged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import aioice.ice
import pytest

from recording import ProblemKind, Severity, inspect_recording
from recording.manifest import sha256_file
from signaling.client import HearingClient
from support.cluster import (
    ADMIN_KEY,
    ServerProcess,
    judge_transition,
    open_hearing_with,
    start_server_process,
)
from support.media import ColourVideoTrack, ToneAudioTrack, TrackConsumer
from support.waiting import eventually, wait_until

pytestmark = pytest.mark.skipif(
    shutil.which("unshare") is None or shutil.which("mount") is None,
    reason="needs util-linux unshare and mount (and root, as the suite runs)",
)

TMPFS_BYTES = 256 * 1024
JUDGE, PARTY = "王法官", "张三"
ADMIN = {"X-API-Key": ADMIN_KEY}


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


@contextlib.asynccontextmanager
async def _small_disk(mount_point: Path, size: int) -> AsyncIterator[asyncio.subprocess.Process]:
    """A mount namespace of the test's own where ``mount_point`` is a tmpfs of ``size``
    bytes, held by a process (yielded) until the end: the machine never sees that mount, and
    servers started in the namespace (``nsenter -t <pid> -m``) outlive each other on it."""
    script = 'mount -t tmpfs -o size="$1",mode=0700 tmpfs "$0" && exec sleep 600'
    holder = await asyncio.create_subprocess_exec(
        "unshare", "-m", "--propagation", "private", "sh", "-c", script,
        str(mount_point), str(size),
    )  # fmt: skip
    try:
        inside = _inside(holder, mount_point)
        await wait_until(
            lambda: inside.stat().st_dev != mount_point.stat().st_dev, what="the tmpfs mounted"
        )
        yield holder
    finally:
        if holder.returncode is None:
            holder.kill()
        await holder.wait()


def _inside(holder: asyncio.subprocess.Process, path: Path) -> Path:
    """``path`` as the processes in ``holder``'s mount namespace see it."""
    return Path(f"/proc/{holder.pid}/root") / path.relative_to("/")


async def _resize(holder: asyncio.subprocess.Process, mount_point: Path, size: int) -> None:
    await _run("nsenter", "-t", str(holder.pid), "-m",
               "mount", "-o", f"remount,size={size}", str(mount_point))  # fmt: skip


@dataclass
class _People:
    """The judge and the party, in the hearing room, each publishing audio and video; the
    party decodes the judge's video."""

    judge: HearingClient
    party: HearingClient
    judge_video: TrackConsumer

    async def media_flows(self) -> None:
        frames = self.judge_video.state.frames
        await wait_until(
            lambda: self.judge_video.state.frames >= frames + 30,
            timeout=30,
            what="the judge's video reaching the party",
        )
        assert self.judge.connected and self.party.connected

    async def close(self) -> None:
        await self.judge_video.stop()
        for c in (self.judge, self.party):
            await c.close()


async def _come_in(server: ServerProcess, tokens: dict[str, str]) -> _People:
    """The judge and the party come in with their links (``/api/me``, a socket join)."""
    async with aiohttp.ClientSession() as http:
        for name in (JUDGE, PARTY):
            headers = {"Authorization": f"Bearer {tokens[name]}"}
            async with http.get(f"{server.url}/api/me", headers=headers) as resp:
                assert resp.status == 200, await resp.text()
    judge = HearingClient(server.url, tokens[JUDGE])
    party = HearingClient(server.url, tokens[PARTY])
    for c in (judge, party):
        await c.connect()
        await c.join()
    me = party.join_info["me"]
    if me["state"] == "waiting":
        await judge.call("admit", {"participant_id": me["id"]})
        await party.wait_for_event("me_updated", lambda d: d["state"] == "in_hearing", timeout=10)
    await judge.publish([ColourVideoTrack((220, 40, 40)), ToneAudioTrack(440.0)])
    await party.publish([ColourVideoTrack((40, 40, 220)), ToneAudioTrack(660.0)])
    video = await party.wait_for_track(judge.join_info["me"]["id"], "video", timeout=30)
    return _People(judge, party, TrackConsumer(video))


def _alerts(client: HearingClient, recording_id: str) -> list[dict[str, Any]]:
    return [d for ev, d in client.events
            if ev == "recording_alert" and d["recording_id"] == recording_id]  # fmt: skip


def _only_unfinished(directory: Path, *, signed: bool) -> None:
    """The recording verifies but for what a recording cut short has: ``.part`` files outside
    the record and, unless ``signed``, no final signature."""
    allowed = {ProblemKind.UNFINISHED_SEGMENT} | (set() if signed else {ProblemKind.NOT_FINALIZED})
    problems = inspect_recording(directory).problems
    assert {p.kind for p in problems} <= allowed, problems
    assert all(p.severity is Severity.WARNING for p in problems), problems


def _entries(directory: Path) -> list[dict[str, Any]]:
    lines = (directory / "manifest.jsonl").read_bytes().split(b"\n")
    return [json.loads(x) for x in lines if x.endswith(b"}")]


def _segments(directory: Path) -> list[dict[str, Any]]:
    return [e["data"] for e in _entries(directory) if e["type"] == "segment"]


async def _audit(base: str, hearing_id: str) -> list[dict[str, Any]]:
    """The hearing's audit log, verified by the server."""
    async with aiohttp.ClientSession() as http:
        resp = await http.get(f"{base}/api/hearings/{hearing_id}/audit", headers=ADMIN)
        doc = await resp.json()
    assert doc["verified"], doc["problems"]
    return list(doc["entries"])


async def _run(*command: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, (command, out.decode(errors="replace"))


async def test_a_full_disk_alerts_the_judge_and_the_hearing_goes_on(tmp_path: Path) -> None:
    data = tmp_path / "var"
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    settings = {"recordings_dir": str(recordings), "recording_segment_seconds": "1"}
    servers: list[ServerProcess] = []
    people: list[_People] = []
    async with _small_disk(recordings, TMPFS_BYTES) as disk:
        wrapper = ["nsenter", "-t", str(disk.pid), "-m", "--"]
        seen = _inside(disk, recordings)
        try:
            servers.append(await start_server_process(
                data, tmp_path / "first.log", wrapper=wrapper, **settings))  # fmt: skip
            url = servers[0].url
            hid, tokens = await open_hearing_with(url, ("judge", JUDGE), ("party", PARTY))
            await judge_transition(url, tokens[JUDGE], "start")
            people.append(await _come_in(servers[0], tokens))
            judge, party = people[0].judge, people[0].party

            # 1. The disk fills: the judge is told on their socket, once per track, and never
            # that recording works again while it is still full (a packet the muxer took is
            # not on disk yet). The hearing goes on; what was written is intact.
            await judge.wait_for_event("recording_alert", timeout=90)
            [first] = list((seen / hid).glob("rec-*"))
            written = {s["file"]: (s["sha256"], s["bytes"]) for s in _segments(first)}
            assert written, "no segment was finished before the disk filled"
            await people[0].media_flows()
            await party.call("raise_hand", {"raised": True})
            await judge.wait_for_event(
                "participant_updated", lambda d: d["id"] == party.join_info["me"]["id"]
                and d.get("hand_raised"), timeout=10,
            )  # fmt: skip
            alerts = _alerts(judge, first.name)
            assert not [a for a in alerts if a["kind"] == "recovered"], alerts
            per_track = Counter(a["track"] for a in alerts if a["kind"] == "write_failed")
            assert per_track and max(per_track.values()) == 1, per_track
            _intact(first, written)
            _only_unfinished(first, signed=False)

            # 2. The server is killed and started again on the disk still full; the two come
            # back with their links. The judge hears that the recording left behind could not
            # be closed (nor a new one started); the hearing goes on.
            await servers[0].kill()
            await people.pop().close()
            servers.append(await start_server_process(
                data, tmp_path / "second.log", wrapper=wrapper, **settings))  # fmt: skip
            people.append(await _come_in(servers[1], tokens))
            judge = people[0].judge
            # (raised as the judge came in, before their socket could receive it: the join
            # gives it to the judge and clerk, and to nobody else)
            recording = judge.join_info["recording"]
            assert recording["state"] == "not_recording", recording
            assert recording["alert"]["severity"] == "error", recording
            assert "alert" not in people[0].party.join_info["recording"]
            audit = await _audit(servers[1].url, hid)
            assert [e["data"]["recording_id"] for e in audit if e["event"] == "recording_failed"
                    and e["data"]["kind"] == "finish_failed"] == [first.name]  # fmt: skip
            await people[0].media_flows()
            _intact(first, written)

            # 3. Space is made; the judge records again: the recording left behind is closed
            # first (signed final, marked interrupted), its segments untouched.
            await _resize(disk, recordings, 16 << 20)
            started = await judge.call("recording", {"action": "start"})
            second = seen / hid / started["recording"]["recording_id"]
            stop = _entries(first)[-1]
            assert stop["type"] == "recording_stopped", stop
            assert stop["data"]["interrupted"] is True
            assert stop["data"]["continued_in"] == second.name
            _only_unfinished(first, signed=True)
            _intact(first, written)

            # 4. The disk fills again, and space is made again: recording goes on by itself,
            # the entries kept in memory reach the manifest and the gap is a loss entry.
            await _fill(disk, recordings, seen)
            await _fills_alerted(judge, second.name, 1)
            await _resize(disk, recordings, 16 << 20)

            async def gap_written() -> list[dict[str, Any]]:
                return [e for e in _entries(second) if e["type"] == "loss"]

            losses = await eventually(gap_written, timeout=30, what="the gap in the manifest")
            for loss in losses:  # one per track that failed
                assert "No space left" in loss["data"]["reason"] and loss["data"]["recovered"]
            assert [a for a in _alerts(judge, second.name) if a["kind"] == "recovered"]

            # 5. It fills once more and the judge stops the recording on the full disk: they
            # hear that it could not be signed (however recently they heard of the full disk)
            # and what was lost, and so does the audit log.
            await _fill(disk, recordings, seen)
            await _fills_alerted(judge, second.name, 2)
            await judge.call("recording", {"action": "stop"})
            last = await judge.wait_for_event(
                "recording_alert",
                lambda d: d["recording_id"] == second.name and "stopped" in d["message"],
                timeout=30,
            )
            assert last["kind"] == "sign_failed", last
            assert "could not be written" in last["message"], last

            async def stopped() -> dict[str, Any] | None:
                for e in await _audit(servers[1].url, hid):
                    if e["event"] == "recording_stopped" and not e["data"].get("interrupted"):
                        return dict(e["data"])
                return None

            summary = await eventually(stopped, timeout=10, what="the stop in the audit log")
            assert summary["recording_id"] == second.name, summary
            assert summary["signed"] is False and summary["unwritten_entries"] >= 1, summary
            _only_unfinished(second, signed=False)
            _intact(first, written)
            failed = [
                e for e in await _audit(servers[1].url, hid) if e["event"] == "recording_failed"
            ]
            assert {e["data"]["kind"] for e in failed} >= {"write_failed", "finish_failed"}
        finally:
            for p in people:
                await p.close()
            for server in servers:
                await server.kill()


async def _fill(disk: asyncio.subprocess.Process, mount_point: Path, seen: Path) -> None:
    """Shrink the volume to what it holds and 128 KiB more."""
    vfs = os.statvfs(seen)
    await _resize(disk, mount_point, (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize + 128 * 1024)


async def _fills_alerted(judge: HearingClient, recording_id: str, outages: int) -> None:
    """Until the judge has been told of ``outages`` outages of some track of the recording."""
    await wait_until(
        lambda: max(Counter(a["track"] for a in _alerts(judge, recording_id)
                            if a["kind"] == "write_failed").values(), default=0) >= outages,
        timeout=60,
        what=f"write failure {outages} alerted",
    )  # fmt: skip


def _intact(directory: Path, written: dict[str, tuple[str, int]]) -> None:
    for name, (sha, size) in written.items():
        assert sha256_file(directory / name) == (sha, size), name
