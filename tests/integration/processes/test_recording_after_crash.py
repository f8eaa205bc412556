"""The server is killed (SIGKILL) while it records a hearing in session; a new server on the
same data dir closes that recording when the first participant comes back (intact entries
kept, signed final, marked interrupted; it verifies) and records the hearing again in a new
recording whose first entry names the one it continues and the time lost between them."""

from __future__ import annotations

import json
from pathlib import Path

import aioice.ice
import pytest

from recording import ProblemKind, Severity, verify_recording
from signaling.client import HearingClient
from support.cluster import judge_transition, open_hearing_with, start_server_process
from support.media import ColourVideoTrack, ToneAudioTrack
from support.waiting import eventually


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


def _entries(directory: Path) -> list[dict[str, object]]:
    text = (directory / "manifest.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.endswith("}")]


async def test_a_recording_cut_by_a_crash_is_closed_and_the_hearing_recorded_again(
    tmp_path: Path,
) -> None:
    data = tmp_path / "var"
    settings = {"recording_segment_seconds": "2"}
    first = await start_server_process(data, tmp_path / "first.log", **settings)
    hid, tokens = await open_hearing_with(first.url, ("judge", "王法官"))
    await judge_transition(first.url, tokens["王法官"], "start")
    judge = HearingClient(first.url, tokens["王法官"])
    try:
        await judge.connect()
        await judge.join()
        await judge.publish([ColourVideoTrack((220, 40, 40)), ToneAudioTrack(440.0)])
        root = data / "recordings" / hid

        async def segments_written() -> bool:
            dirs = list(root.glob("rec-*"))
            return len(dirs) == 1 and sum(e["type"] == "segment" for e in _entries(dirs[0])) >= 2

        await eventually(segments_written, timeout=30, what="two segments recorded")
    finally:
        await first.kill()
        await judge.close()
    [old] = list(root.glob("rec-*"))
    assert not json.loads((old / "manifest.sig").read_text())["final"]

    second = await start_server_process(data, tmp_path / "second.log", **settings)
    back = HearingClient(second.url, tokens["王法官"])
    try:
        await back.connect()
        await back.join()  # the first one back: the hearing is recorded again

        async def recorded_again() -> Path | None:
            new = [d for d in root.glob("rec-*") if d != old]
            return new[0] if new and (new[0] / "manifest.jsonl").exists() else None

        new = await eventually(recorded_again, timeout=30, what="a new recording")
    finally:
        await back.close()
        second.proc.terminate()  # a clean stop finishes and signs the new recording
        await second.proc.wait()

    closing = _entries(old)[-1]
    assert closing["type"] == "recording_stopped"
    data_old = closing["data"]
    assert isinstance(data_old, dict)
    assert data_old["interrupted"] is True and data_old["continued_in"] == new.name
    problems = verify_recording(old)
    assert all(p.severity is Severity.WARNING for p in problems), problems
    assert {p.kind for p in problems} <= {ProblemKind.UNFINISHED_SEGMENT}

    started = _entries(new)[0]["data"]
    assert isinstance(started, dict)
    continues = started["metadata"]["continues"]
    assert continues["recording_id"] == old.name and continues["closed"] is True
    assert continues["ended_at"] == data_old["stopped_at"]
    assert continues["gap_us"] > 0
    assert verify_recording(new) == []
