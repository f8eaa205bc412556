"""The judge's action never waits for the recording's disk work (issue 24).

Someone who leaves the hearing room stops being recorded at once; finishing their track (its
last segment written, hashed and signed into the manifest) is background work. Here that
finishing is held back on purpose, for as long as the test wants, so what is shown does not
depend on the machine's speed: the judge's answer comes while it is still held.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import replace

import pytest
from aiohttp.test_utils import TestServer

import recording.session
from hearing_server.config import Settings
from hearing_server.core.participant import Role
from recording import verify_recording
from signaling.client import HearingClient
from support.hearing import make_hearing
from support.media import ColourVideoTrack, ToneAudioTrack
from support.waiting import wait_until

MakeClient = Callable[..., HearingClient]
PEOPLE = [(Role.JUDGE, "王法官"), (Role.PARTY, "张三"), (Role.CLERK, "赵书记员")]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, recording_segment_seconds=2.0)


async def test_returning_a_party_to_the_waiting_room_does_not_wait_for_their_recording(
    server: TestServer,
    make_client: MakeClient,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    held = asyncio.Event()
    release = asyncio.Event()
    close_source = recording.session._close_source

    async def held_close(frames: object) -> None:
        # A track finishes by closing its source, then writing its last segment: hold it.
        held.set()
        await release.wait()
        await close_source(frames)

    monkeypatch.setattr(recording.session, "_close_source", held_close)

    hid, people = await make_hearing(server.app, PEOPLE, state="open")
    judge = make_client(people["王法官"].token)
    zhang = make_client(people["张三"].token)
    clerk = make_client(people["赵书记员"].token)
    for c, colour, tone in ((judge, (220, 40, 40), 440.0), (zhang, (40, 200, 40), 700.0)):
        await c.connect()
        await c.join()
        await c.publish([ColourVideoTrack(colour), ToneAudioTrack(tone)])
    await clerk.connect()
    await clerk.join()
    await judge.call("hearing_action", {"action": "start"})
    await judge.call("admit", {"participant_id": people["张三"].id})
    await zhang.wait_for_event("recording_state", lambda d: d["state"] == "recording")
    root = settings.effective_recordings_dir / hid
    zhang_id = people["张三"].id

    def zhang_recorded() -> bool:
        segments = [p for p in root.rglob("*") if p.is_file() and zhang_id in p.parent.name]
        return len(segments) >= 2  # a segment of audio and one of video written

    await wait_until(zhang_recorded, 60, "a segment of the party's tracks")

    try:
        async with asyncio.timeout(30):  # waiting for the release would wait for ever
            await judge.call("return_to_waiting", {"participant_id": zhang_id})
        await wait_until(held.is_set, 30, "the party's track to begin finishing")
        assert not release.is_set()  # answered while their recording was still being finished
    finally:
        release.set()  # whatever happened: the recording may finish now
    await judge.call("hearing_action", {"action": "close"})
    await clerk.wait_for_event("recording_state", lambda d: d["state"] == "not_recording")
    (rec_dir,) = [d for d in root.iterdir() if d.is_dir()]
    assert verify_recording(rec_dir) == []
    manifest = [json.loads(line) for line in (rec_dir / "manifest.jsonl").read_text().splitlines()]
    reasons = {
        e["data"]["track"]: e["data"]["reason"] for e in manifest if e["type"] == "track_ended"
    }
    zhang_tracks = {k: v for k, v in reasons.items() if k.endswith(zhang_id)}
    assert sorted(zhang_tracks.values()) == ["removed", "removed"], reasons
