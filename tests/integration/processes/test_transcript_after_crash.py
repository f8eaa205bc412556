"""The server is killed (SIGKILL) while it writes the transcript: first while live captions
of the judge's speech are being recognised and stored, then (after a restart on the same
data dir) while the clerk corrects segments through the API and the speech goes on. A third
server on the same data dir must hold:

- every transcript segment and audit entry that was read back before each kill, unchanged
  (same seq, same hash), none twice; every correction the API acknowledged, once, with its
  one audit entry (a correction and its audit entry are one transaction: neither without
  the other);
- both hash chains verifying (``verify_chain``, as the server itself checks them);
- the participants rejoining with the links they had: ``/api/me`` with the same join token,
  and a socket join.

Real processes, the real SQLite store, real aiortc peers, speech (flite) recognised by the
shipped engine (faster-whisper, tiny.en).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import aioice.ice
import numpy as np
import pytest

from hearing_server.core.audit import AuditEntry, verify_chain
from signaling.client import HearingClient
from support.cluster import (
    ADMIN_KEY,
    ServerProcess,
    judge_transition,
    open_hearing_with,
    start_server_process,
)
from support.waiting import eventually
from transcription.stt import SAMPLE_RATE
from transcription.testing import COURT_SENTENCES, SpeechTrack, have_flite, synthesize, to_16k

pytestmark = pytest.mark.skipif(not have_flite(), reason="needs Debian flite")

JUDGE, CLERK = "王法官", "赵书记员"
SETTINGS = {"transcription_enabled": "true", "transcription_language": "en"}
ADMIN = {"X-API-Key": ADMIN_KEY}


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """A minute of the judge speaking: court sentences with pauses between them."""
    gap = np.zeros(int(0.8 * SAMPLE_RATE), dtype=np.float32)
    parts: list[np.ndarray] = [gap]
    for text in COURT_SENTENCES:
        parts += [to_16k(*synthesize(text)), gap]
    return np.concatenate(parts * 3)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _get_json(url: str, headers: dict[str, str]) -> Any:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def _transcript(server: ServerProcess, hid: str) -> dict[str, Any]:
    return dict(await _get_json(f"{server.url}/api/hearings/{hid}/transcript/json", ADMIN))


async def _audit(server: ServerProcess, hid: str) -> list[dict[str, Any]]:
    doc = await _get_json(f"{server.url}/api/hearings/{hid}/audit", ADMIN)
    assert doc["verified"], doc["problems"]
    return list(doc["entries"])


async def _segments_at_least(server: ServerProcess, hid: str, n: int) -> dict[str, Any] | None:
    doc = await _transcript(server, hid)
    return doc if len(doc["segments"]) >= n else None


async def _join_and_speak(server: ServerProcess, tokens: dict[str, str], samples: np.ndarray
                          ) -> list[HearingClient]:  # fmt: skip
    """The judge and the clerk join with their links; the judge speaks."""
    clients = []
    for name in (JUDGE, CLERK):
        async with aiohttp.ClientSession() as http:
            resp = await http.get(f"{server.url}/api/me", headers=_bearer(tokens[name]))
            assert resp.status == 200, (name, await resp.text())
        client = HearingClient(server.url, tokens[name])
        clients.append(client)
        await client.connect()
        me = (await client.join())["me"]
        assert me["state"] == "in_hearing", me
    await clients[0].publish([SpeechTrack(samples, SAMPLE_RATE)])
    return clients


async def _close_all(clients: list[HearingClient]) -> None:
    for c in clients:
        with contextlib.suppress(Exception):
            await c.close()


def _read_chains(data: Path, hid: str) -> tuple[list[AuditEntry], list[AuditEntry]]:
    """The transcript and audit chains as the database holds them (no server running)."""
    with contextlib.closing(sqlite3.connect(data / "hearings.sqlite3")) as db:
        db.row_factory = sqlite3.Row
        out = []
        for table in ("transcript_log", "audit_log"):
            rows = db.execute(
                f"SELECT * FROM {table} WHERE hearing_id = ? ORDER BY seq", (hid,)
            ).fetchall()
            out.append([AuditEntry.from_dict({**dict(r), "data": json.loads(r["data"])})
                        for r in rows])  # fmt: skip
    return out[0], out[1]


async def test_the_transcript_survives_kills_during_captions_and_corrections(
    tmp_path: Path, speech: np.ndarray
) -> None:
    data = tmp_path / "var"
    seen_segments: dict[int, tuple[str, str]] = {}  # seq -> (participant, text) read back
    seen_audit: dict[int, str] = {}  # seq -> hash, read back
    acknowledged: dict[str, int] = {}  # correction text -> segment seq, answered 200

    # 1. Killed while the judge's speech is being recognised and stored.
    first = await start_server_process(data, tmp_path / "first.log", **SETTINGS)
    clients: list[HearingClient] = []
    try:
        hid, tokens = await open_hearing_with(first.url, ("judge", JUDGE), ("clerk", CLERK))
        await judge_transition(first.url, tokens[JUDGE], "start")
        clients = await _join_and_speak(first, tokens, speech)
        doc = await eventually(lambda: _segments_at_least(first, hid, 2), timeout=60,
                               what="two segments stored")  # fmt: skip
        audit = await _audit(first, hid)
    finally:
        await first.kill()  # the speech goes on: the next segment is being recognised
        await _close_all(clients)
    assert doc["chain"]["intact"], doc["chain"]
    seen_segments |= {s["seq"]: (s["participant_id"], s["original_text"]) for s in doc["segments"]}
    seen_audit |= {e["seq"]: e["hash"] for e in audit}

    # 2. Restarted: the two rejoin, the judge speaks on (the chain goes on after the old
    # entries); killed while the clerk corrects segments, the speech still being stored.
    second = await start_server_process(data, tmp_path / "second.log", **SETTINGS)
    clients = []
    workers: list[asyncio.Task[None]] = []
    try:
        clients = await _join_and_speak(second, tokens, speech)
        before = len(seen_segments)
        doc = await eventually(lambda: _segments_at_least(second, hid, before + 2), timeout=60,
                               what="speech stored after the restart")  # fmt: skip
        seqs = [s["seq"] for s in doc["segments"]]
        numbers = itertools.count(1)

        async def correct() -> None:
            async with aiohttp.ClientSession() as http:
                for n in numbers:
                    seq = seqs[n % len(seqs)]
                    text = f"corrected text number {n}"
                    async with http.post(
                        f"{second.url}/api/me/transcript/corrections",
                        json={"seq": seq, "text": text, "reason": "crash test"},
                        headers=_bearer(tokens[CLERK]),
                    ) as resp:
                        assert resp.status == 200, await resp.text()
                        acknowledged[text] = seq

        workers = [asyncio.create_task(correct()) for _ in range(3)]
        await eventually(lambda: _true(len(acknowledged) >= 20), timeout=60,
                         what="corrections acknowledged")  # fmt: skip
        doc = await _transcript(second, hid)
        audit = await _audit(second, hid)
    finally:
        await second.kill()  # corrections in flight, and speech
        for w in workers:
            w.cancel()
        for w in workers:
            with contextlib.suppress(BaseException):
                await w
        await _close_all(clients)
    assert doc["chain"]["intact"], doc["chain"]
    seen_segments |= {s["seq"]: (s["participant_id"], s["original_text"]) for s in doc["segments"]}
    seen_audit |= {e["seq"]: e["hash"] for e in audit}

    # 3. Restarted again: nothing read back is lost or changed, and the links still work.
    third = await start_server_process(data, tmp_path / "third.log", **SETTINGS)
    try:
        doc = await _transcript(third, hid)
        assert doc["chain"]["intact"], doc["chain"]
        audit = await _audit(third, hid)
        clients = await _join_and_speak(third, tokens, speech[:SAMPLE_RATE])
    finally:
        await _close_all(clients)
        await third.kill()
    lines = {s["seq"]: (s["participant_id"], s["original_text"]) for s in doc["segments"]}
    assert {seq: lines.get(seq) for seq in seen_segments} == seen_segments
    hashes = {e["seq"]: e["hash"] for e in audit}
    assert {seq: hashes.get(seq) for seq in seen_audit} == seen_audit

    # The chains as stored: each verifies; no segment and no correction is there twice; each
    # correction has its one audit entry, and every acknowledged one is there.
    transcript, audit_log = _read_chains(data, hid)
    assert verify_chain(transcript, hearing_id=hid) == []
    assert verify_chain(audit_log, hearing_id=hid) == []
    segments = [e for e in transcript if e.event == "segment"]
    said = [(e.data["participant_id"], e.data["start"]) for e in segments]
    assert len(said) == len(set(said)), "a segment was stored twice"
    corrections = {e.seq: e for e in transcript if e.event == "correction"}
    stored = [(e.data["text"], e.data["segment_seq"]) for e in corrections.values()]
    assert len(stored) == len(set(stored)), "a correction was stored twice"
    lost = set(acknowledged.items()) - set(stored)
    assert not lost, f"acknowledged corrections lost: {lost}"
    audited = [e for e in audit_log if e.event == "transcript_segment_corrected"]
    assert sorted(e.data["transcript_seq"] for e in audited) == sorted(corrections)
    for e in audited:
        entry = corrections[e.data["transcript_seq"]]
        assert e.data["transcript_hash"] == entry.hash
        assert (e.data["segment_seq"], e.data["text"]) == (
            entry.data["segment_seq"], entry.data["text"])  # fmt: skip
    print(f"segments {len(segments)}, corrections {len(corrections)} "
          f"({len(acknowledged)} acknowledged), audit entries {len(audit_log)}")  # fmt: skip


async def _true(value: bool) -> bool:
    return value
