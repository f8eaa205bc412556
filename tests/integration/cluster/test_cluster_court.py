"""A small court's cluster, as deploy/compose.yaml runs it, in one test: two real server
processes on one PostgreSQL, one Redis and one coturn, sharing the recordings directory and
the keys. Two relay-only parties (all their media crosses coturn) meet in a recorded hearing
through different nodes; the node serving it is killed with SIGKILL mid-recording; the hearing
comes back on the other node, the parties see each other again, and the recording goes on
there: the cut recording is closed with at most its unfinished segment lost, the new one
names it and the time lost between them, and both verify."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import aioice.ice
import pytest

from recording import ProblemKind, Severity, verify_recording
from signaling.client import HearingClient, SignalingError
from support.cluster import (
    ADMIN_KEY,
    ServerProcess,
    judge_transition,
    node_processes,
    open_hearing_with,
)
from support.media import ColourVideoTrack, ToneAudioTrack, TrackConsumer, close_colour
from support.turn import TurnServer, start_or_skip
from support.waiting import eventually, wait_until

SECRET = "cluster-turn-secret-of-at-least-32-characters"
LEASE_S = 2.0
SEGMENT_S = 2
COLOUR = {"王法官": (220, 40, 40), "张三": (40, 200, 40)}


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


@pytest.fixture
def turn() -> Iterator[TurnServer]:
    server = start_or_skip(SECRET)
    yield server
    server.stop()


@pytest.fixture
async def court(
    redis_url: str, postgres_url: str, turn: TurnServer, tmp_path: Path
) -> AsyncIterator[tuple[dict[str, ServerProcess], Path]]:
    shared = tmp_path / "shared"  # compose.yaml: the keys volume and the recordings volume
    shared.mkdir()
    secret = shared / "turn_secret"
    secret.write_text(SECRET, encoding="utf-8")
    secret.chmod(0o600)
    recordings = shared / "recordings"
    async with node_processes(
        tmp_path,
        database_url=postgres_url,
        redis_url=redis_url,
        hearing_lease_seconds=str(LEASE_S),
        signing_key_path=str(shared / "jwt_signing.key"),
        recording_key_path=str(shared / "recording_ed25519.key"),
        recordings_dir=str(recordings),
        recording_segment_seconds=str(SEGMENT_S),
        turn_urls=turn.url("udp"),
        turn_secret_path=str(secret),
    ) as nodes:
        yield nodes, recordings


def _entries(directory: Path) -> list[dict[str, object]]:
    text = (directory / "manifest.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.endswith("}")]


async def _served(base: str) -> list[str]:
    async with aiohttp.ClientSession() as http:
        resp = await http.get(f"{base}/api/node", headers={"X-API-Key": ADMIN_KEY})
        assert resp.status == 200, await resp.text()
        return list((await resp.json())["hearings"])


async def _join(base: str, token: str, colour: tuple[int, int, int]) -> HearingClient:
    """A relay-only client joined through ``base`` (following ``moved``) and publishing."""
    client = HearingClient(base, token, relay_only=True)
    await client.connect()
    info = await client.join()
    assert [s["urls"] for s in info["ice_servers"]] != [], info
    await client.publish([ColourVideoTrack(colour), ToneAudioTrack(440.0)])
    return client


async def _rejoin(base: str, token: str, colour: tuple[int, int, int]) -> HearingClient:
    """Like a page after its node died: retries ``base`` until the hearing is served."""
    deadline = time.monotonic() + LEASE_S * 3 + 20
    while True:
        try:
            return await _join(base, token, colour)
        except SignalingError as exc:
            assert exc.code in {"connect_failed", "unavailable"}, exc
            assert time.monotonic() < deadline, exc
            await asyncio.sleep(0.2)


async def _sees(client: HearingClient, pid: str, name: str) -> None:
    video = await client.wait_for_track(pid, "video", timeout=30)
    consumer = TrackConsumer(video)
    try:
        await wait_until(
            lambda: (
                consumer.state.frames >= 10 and close_colour(consumer.state.colour, COLOUR[name])
            ),
            30,
            f"{name}'s camera, relayed",
        )
    finally:
        await consumer.stop()


async def test_a_cluster_with_postgres_redis_and_coturn_survives_its_owner_killed_mid_recording(
    court: tuple[dict[str, ServerProcess], Path], turn: TurnServer
) -> None:
    nodes, recordings = court
    a, b = nodes["a"], nodes["b"]
    hid, tokens = await open_hearing_with(b.url, ("judge", "王法官"), ("party", "张三"))
    await judge_transition(b.url, tokens["王法官"], "start")
    judge = await _join(a.url, tokens["王法官"], COLOUR["王法官"])  # placed on a
    party = await _join(b.url, tokens["张三"], COLOUR["张三"])  # sent on to a
    people = {"王法官": judge, "张三": party}
    try:
        assert party.base_url == a.url and await _served(a.url) == [hid]
        pid = {name: c.join_info["me"]["id"] for name, c in people.items()}
        await _sees(judge, pid["张三"], "张三")
        await _sees(party, pid["王法官"], "王法官")
        root = recordings / hid

        async def segments_written() -> Path | None:
            dirs = list(root.glob("rec-*"))
            if len(dirs) == 1 and sum(e["type"] == "segment" for e in _entries(dirs[0])) >= 2:
                return dirs[0]
            return None

        old = await eventually(segments_written, timeout=40, what="two segments recorded on a")
        a.proc.send_signal(signal.SIGKILL)
        await a.proc.wait()
        killed = time.monotonic()
    finally:
        for client in people.values():
            await client.close()

    judge = await _rejoin(b.url, tokens["王法官"], COLOUR["王法官"])
    party = await _rejoin(b.url, tokens["张三"], COLOUR["张三"])
    people = {"王法官": judge, "张三": party}
    try:
        assert judge.base_url == b.url and party.base_url == b.url
        assert await _served(b.url) == [hid]
        await _sees(judge, pid["张三"], "张三")
        await _sees(party, pid["王法官"], "王法官")
        print(f"media relayed again through b {time.monotonic() - killed:.1f} s after a died")

        async def recorded_on_b() -> Path | None:
            new = [d for d in root.glob("rec-*") if d != old]
            if new and sum(e["type"] == "segment" for e in _entries(new[0])) >= 1:
                return new[0]
            return None

        new = await eventually(recorded_on_b, timeout=40, what="the recording going on on b")
    finally:
        for client in people.values():
            await client.close()
        b.proc.terminate()  # a clean stop finishes and signs b's recording
        await b.proc.wait()

    # Both recordings, one node's each, in the shared directory.
    assert sorted(root.glob("rec-*")) == sorted([old, new])
    closing = _entries(old)[-1]
    assert closing["type"] == "recording_stopped"
    cut = closing["data"]
    assert isinstance(cut, dict) and cut["interrupted"] is True and cut["continued_in"] == new.name
    # at most the segment in flight of each track: its .part file
    tracks = [Path(f).parent.name for f in cut["unfinished_files"]]
    assert len(tracks) == len(set(tracks)) and len(tracks) <= 4, cut["unfinished_files"]
    problems = verify_recording(old)
    assert all(p.severity is Severity.WARNING for p in problems), problems
    assert {p.kind for p in problems} <= {ProblemKind.UNFINISHED_SEGMENT}
    assert sum(e["type"] == "segment" for e in _entries(old)) >= 2

    started = _entries(new)[0]["data"]
    assert isinstance(started, dict)
    continues = started["metadata"]["continues"]
    assert continues["recording_id"] == old.name and continues["closed"] is True
    assert 0 < continues["gap_us"] < (LEASE_S * 3 + 30) * 1_000_000
    assert verify_recording(new) == []
    # Every party's media crossed coturn, on both nodes.
    assert turn.log().count("incoming packet ALLOCATE processed, success") >= 8, turn.log_tail()
