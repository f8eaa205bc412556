"""The evidence layout (issue 26, item 2): when an exhibit is presented, the courtroom
composite (so the display, the recording and the livestream) shows its page in the large tile,
rendered by PDFium and following the page turns; the people stay in the strip; when it stops,
the hearing's own layout is back. Checked on the pixels the courtroom display receives."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import replace

import pytest
from aiohttp.test_utils import TestServer
from av import VideoFrame

from hearing_server.config import Settings
from hearing_server.core.participant import Role
from hearing_server.keys import COMPOSITES
from signaling.client import HearingClient
from support import exhibits as files
from support.exhibits import upload_exhibit
from support.hearing import make_hearing
from support.media import ColourVideoTrack, ToneAudioTrack, close_colour
from support.waiting import wait_until

MakeClient = Callable[..., HearingClient]
GREY, WHITE = (128, 128, 128), (235, 235, 235)
PEOPLE = [(Role.JUDGE, "王法官"), (Role.PARTY, "张三"), (Role.COURTROOM_DISPLAY, "第一法庭")]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, composite_enabled=True)


def share_of(frame: VideoFrame, colour: tuple[int, int, int]) -> float:
    """The share of sample points (every 16 px) of ``colour`` in the frame."""
    rgb = frame.reformat(format="rgb24")
    plane = rgb.planes[0]
    data = bytes(plane)
    hits = total = 0
    for y in range(0, rgb.height, 16):
        for x in range(0, rgb.width, 16):
            i = y * plane.line_size + 3 * x
            total += 1
            hits += close_colour((data[i], data[i + 1], data[i + 2]), colour, tol=40)
    return hits / total


async def test_the_presented_page_fills_the_large_tile_of_the_composite(
    server: TestServer, make_client: MakeClient
) -> None:
    hid, people = await make_hearing(server.app, PEOPLE, state="in_session")
    exhibit = await upload_exhibit(server, people["张三"], files.pdf(3), "借款合同")
    judge = make_client(people["王法官"].token)
    party = make_client(people["张三"].token)
    display = make_client(people["第一法庭"].token)
    for client, colour in ((judge, GREY), (party, WHITE)):
        await client.connect()
        await client.join()
        await client.publish([ColourVideoTrack(colour), ToneAudioTrack(440.0)])
    await display.connect()
    await display.join()
    track = await display.wait_for_track(f"composite-{hid[:32]}", "video", timeout=20)
    latest: list[VideoFrame] = []

    async def read() -> None:
        while True:
            latest[:] = [await track.recv()]

    reader = asyncio.create_task(read())
    _, green, blue = files.PAGE_COLOURS[:3]
    try:
        await wait_until(lambda: bool(latest), 20, "the composite's first frame")
        assert share_of(latest[0], blue) < 0.02
        # The judge shows page 3 (blue): it takes the large tile.
        await judge.call("present", {"exhibit_id": exhibit["id"], "page": 3})
        await wait_until(
            lambda: share_of(latest[0], blue) > 0.15,
            20,
            "page 3 in the composite",
            lambda: f"blue {share_of(latest[0], blue):.2f}",
        )
        tiles = {t.pid: t for t in server.app[COMPOSITES].compositor(hid).tile_states()}
        assert tiles["exhibit"].kind == "exhibit" and tiles["exhibit"].focus
        assert not tiles[people["王法官"].id].focus  # the people are in the strip
        # A page turn follows: page 2 (green) replaces page 3.
        await judge.call("presentation_move", {"page": 2})
        await wait_until(
            lambda: share_of(latest[0], green) > 0.15 and share_of(latest[0], blue) < 0.02,
            20,
            "page 2 in the composite",
        )
        # Stopped: the hearing's own layout again.
        await judge.call("stop_presenting", {})
        await wait_until(
            lambda: share_of(latest[0], green) < 0.02, 20, "the exhibit gone from the composite"
        )
        assert "exhibit" not in {
            t.pid for t in server.app[COMPOSITES].compositor(hid).tile_states()
        }
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
