"""The composite: composed once, shown on the courtroom display, recorded."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import replace

import pytest
from aiohttp.test_utils import TestServer
from av import VideoFrame

from hearing_server.config import Settings
from hearing_server.core.participant import Role
from hearing_server.keys import MEDIA
from recording import verify_recording
from signaling.client import HearingClient
from support.hearing import make_hearing
from support.media import ColourVideoTrack, ToneAudioTrack, close_colour
from support.waiting import wait_until

MakeClient = Callable[..., HearingClient]
RED, GREEN = (220, 40, 40), (40, 200, 40)
PEOPLE = [(Role.JUDGE, "王法官"), (Role.PARTY, "张三"), (Role.COURTROOM_DISPLAY, "第一法庭")]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, composite_enabled=True, recording_segment_seconds=2.0)


def _colours_present(frame: VideoFrame) -> set[tuple[int, int, int]]:
    """Which of RED and GREEN fill some 8x8-sampled area of the frame."""
    rgb = frame.reformat(format="rgb24")
    plane = rgb.planes[0]
    data = bytes(plane)
    found: set[tuple[int, int, int]] = set()
    for y in range(40, rgb.height - 40, 24):
        for x in range(24, rgb.width - 24, 24):
            i = y * plane.line_size + 3 * x
            px = (data[i], data[i + 1], data[i + 2])
            for colour in (RED, GREEN):
                if close_colour(px, colour, tol=40):
                    found.add(colour)
    return found


async def test_display_receives_composite_and_it_is_recorded(
    server: TestServer, make_client: MakeClient, settings: Settings
) -> None:
    hid, people = await make_hearing(server.app, PEOPLE, state="in_session")
    judge = make_client(people["王法官"].token)
    party = make_client(people["张三"].token)
    display = make_client(people["第一法庭"].token)
    for client, colour, tone in ((judge, RED, 440.0), (party, GREEN, 700.0)):
        await client.connect()
        await client.join()
        await client.publish([ColourVideoTrack(colour), ToneAudioTrack(tone)])
    await display.connect()
    await display.join()

    composite_pid = f"composite-{hid[:32]}"
    track = await display.wait_for_track(composite_pid, "video", timeout=20)
    # The display receives the composite only, not individual tiles.
    assert {pid for pid, _ in display.received} == {composite_pid}
    seen: set[tuple[int, int, int]] = set()
    size = (0, 0)

    async def read() -> None:
        nonlocal size
        while True:
            frame = await track.recv()
            size = (frame.width, frame.height)
            seen.update(_colours_present(frame))

    reader = asyncio.create_task(read())
    try:
        await wait_until(
            lambda: seen == {RED, GREEN},
            20,
            "both tiles in the composite",
            lambda: f"seen {seen}, size {size}",
        )
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    assert size == (1280, 720)
    # Forwarding still decodes nothing; the composite decodes each input once.
    stats = server.app[MEDIA].stats()
    assert stats["decoded_frames"] == 0 and stats["active_decoders"] <= 4, stats

    await asyncio.sleep(3)
    await judge.call("hearing_action", {"action": "close"})
    await judge.wait_for_event(
        "recording_state", lambda d: d["state"] == "not_recording", timeout=20
    )
    (rec_dir,) = [d for d in (settings.effective_recordings_dir / hid).iterdir() if d.is_dir()]
    assert verify_recording(rec_dir) == []
    entries = [json.loads(x) for x in (rec_dir / "manifest.jsonl").read_text().splitlines()]
    composite_segments = [
        e for e in entries if e["type"] == "segment" and "composite" in e["data"]["file"]
    ]
    assert composite_segments, [e["type"] for e in entries]
