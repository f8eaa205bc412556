"""The disk that holds the recordings fills up during a hearing: a real server process whose
recordings directory is a small tmpfs of its own (mounted in a mount namespace of the
server's, ``unshare -m``), two aiortc participants publishing audio and video into it.

The judge is alerted (``recording_alert`` on their socket, the recording listed as failing),
the hearing goes on (both stay connected, the party still receives the judge's video and
a raised hand still reaches the judge), and what was written before the disk filled is
intact: every segment the manifest lists verifies against its hash, the manifest's chain is
unbroken, and the only problems are those of a recording that has not stopped yet.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import aioice.ice
import pytest

from recording import ProblemKind, Severity, inspect_recording, verify_recording
from recording.manifest import sha256_file
from signaling.client import HearingClient
from support.cluster import ADMIN_KEY, judge_transition, open_hearing_with, start_server_process
from support.media import ColourVideoTrack, ToneAudioTrack, TrackConsumer
from support.waiting import eventually, wait_until

pytestmark = pytest.mark.skipif(
    shutil.which("unshare") is None or shutil.which("mount") is None,
    reason="needs util-linux unshare and mount (and root, as the suite runs)",
)

TMPFS_BYTES = 256 * 1024
ADMIN = {"X-API-Key": ADMIN_KEY}


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


def _tmpfs_wrapper(mount_point: Path, size: int) -> list[str]:
    """Runs the server in a mount namespace of its own where ``mount_point`` is a tmpfs of
    ``size`` bytes: the test's machine never sees that mount, and it goes with the server."""
    script = 'mount -t tmpfs -o size="$1",mode=0700 tmpfs "$0" && shift && exec "$@"'
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", script,
            str(mount_point), str(size)]  # fmt: skip


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
    server = await start_server_process(
        data,
        tmp_path / "server.log",
        wrapper=_tmpfs_wrapper(recordings, TMPFS_BYTES),
        recordings_dir=str(recordings),
        recording_segment_seconds="1",
    )
    # The tmpfs as the server sees it: through its own root, in its mount namespace.
    seen = Path(f"/proc/{server.proc.pid}/root") / recordings.relative_to("/")
    clients: list[HearingClient] = []
    consumer: TrackConsumer | None = None
    try:
        hid, tokens = await open_hearing_with(server.url, ("judge", "王法官"), ("party", "张三"))
        await judge_transition(server.url, tokens["王法官"], "start")
        judge = HearingClient(server.url, tokens["王法官"])
        party = HearingClient(server.url, tokens["张三"])
        clients += [judge, party]
        for c in clients:
            await c.connect()
            await c.join()
        party_me = party.join_info["me"]
        if party_me["state"] == "waiting":
            await judge.call("admit", {"participant_id": party_me["id"]})
            await party.wait_for_event(
                "me_updated", lambda d: d["state"] == "in_hearing", timeout=10
            )
        judge_id = judge.join_info["me"]["id"]
        await judge.publish([ColourVideoTrack((220, 40, 40)), ToneAudioTrack(440.0)])
        await party.publish([ColourVideoTrack((40, 40, 220)), ToneAudioTrack(660.0)])
        video = await party.wait_for_track(judge_id, "video", timeout=30)
        consumer = TrackConsumer(video)

        # The disk fills: the judge is told, on their socket, and the failure is in the
        # hearing's audit log.
        await judge.wait_for_event("recording_alert", timeout=90)
        [directory] = list((seen / hid).glob("rec-*"))
        written = {s["file"]: (s["sha256"], s["bytes"]) for s in _segments(directory)}
        assert written, "no segment was finished before the disk filled"

        # The hearing goes on: media still flows, both are connected, the judge is answered.
        frames = consumer.state.frames
        await wait_until(
            lambda: consumer is not None and consumer.state.frames >= frames + 45,
            timeout=30,
            what="the judge's video still reaching the party",
        )
        assert judge.connected and party.connected
        await party.call("raise_hand", {"raised": True})
        await judge.wait_for_event(
            "participant_updated",
            lambda d: d["id"] == party_me["id"] and d.get("hand_raised"),
            timeout=10,
        )

        # The judge is told once per track, not at every retry, and never that recording works
        # again while the disk is still full (a packet the muxer took is not on disk).
        alerts = [d for ev, d in judge.events if ev == "recording_alert"]
        assert not [a for a in alerts if a["kind"] == "recovered"], alerts
        per_track = Counter(a["track"] for a in alerts if a["kind"] == "write_failed")
        assert per_track and max(per_track.values()) == 1, per_track

        # Nothing already written is damaged.
        for name, (sha, size) in written.items():
            assert sha256_file(directory / name) == (sha, size), name
        report = inspect_recording(directory)
        assert {p.kind for p in report.problems} <= {
            ProblemKind.NOT_FINALIZED,
            ProblemKind.UNFINISHED_SEGMENT,
        }, report.problems
        assert all(p.severity is Severity.WARNING for p in report.problems), report.problems

        # Space is made (the operator grows the volume): recording works again, the entries
        # kept in memory reach the manifest, and the recording stops signed and whole.
        await _run("nsenter", "-t", str(server.proc.pid), "-m",
                   "mount", "-o", "remount,size=16m", str(recordings))  # fmt: skip
        await judge.wait_for_event(
            "recording_alert",
            lambda d: d["kind"] == "recovered" and d["track"] is None,
            timeout=30,
        )
        stopped = await judge.call("recording", {"action": "stop"})
        assert stopped["recording"]["state"] in ("stopping", "not_recording"), stopped

        async def signed_final() -> bool:
            sig = directory / "manifest.sig"
            return sig.exists() and bool(json.loads(sig.read_bytes()).get("final"))

        await eventually(signed_final, timeout=30, what="the recording signed final")
        assert verify_recording(directory) == []
        for name, (sha, size) in written.items():
            assert sha256_file(directory / name) == (sha, size), name
        entries = _entries(directory)
        losses = [e for e in entries if e["type"] == "loss"]
        assert losses and all("No space left" in e["data"]["reason"] for e in losses), losses

        # The judge records again and the disk fills again; the judge stops the recording
        # while it is full: they are told that it could not be signed (however recently
        # they heard of the full disk) and what was lost, and so is the audit log.
        started = await judge.call("recording", {"action": "start"})
        second = started["recording"]["recording_id"]
        used = os.statvfs(seen)
        size = (used.f_blocks - used.f_bfree) * used.f_frsize + 128 * 1024
        await _run("nsenter", "-t", str(server.proc.pid), "-m",
                   "mount", "-o", f"remount,size={size}", str(recordings))  # fmt: skip
        await judge.wait_for_event(
            "recording_alert",
            lambda d: d["recording_id"] == second and d["kind"] == "write_failed",
            timeout=60,
        )
        await judge.call("recording", {"action": "stop"})
        last = await judge.wait_for_event(
            "recording_alert",
            lambda d: d["recording_id"] == second and "stopped" in d["message"],
            timeout=30,
        )
        assert last["kind"] == "sign_failed" and "could not be written" in last["message"], last
        audit = await _audit(server.url, hid)

        async def second_stopped() -> dict[str, Any] | None:
            for e in await _audit(server.url, hid):
                if e["event"] == "recording_stopped" and e["data"]["recording_id"] == second:
                    return dict(e["data"])
            return None

        summary = await eventually(second_stopped, timeout=10, what="the stop in the audit log")
        assert summary["signed"] is False and summary["unwritten_entries"] >= 1, summary
        report = inspect_recording(seen / hid / second)
        assert {p.kind for p in report.problems} <= {
            ProblemKind.NOT_FINALIZED,
            ProblemKind.UNFINISHED_SEGMENT,
        }, report.problems
        assert any(e["event"] == "recording_failed" for e in audit)
    finally:
        if consumer is not None:
            await consumer.stop()
        for c in clients:
            await c.close()
        await server.kill()
