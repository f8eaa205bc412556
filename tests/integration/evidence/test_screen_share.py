"""A shared screen as evidence (issue 26, item 3), with real aiortc peers through the real
server: the party publishes a screen next to the camera; nobody receives a packet of it until
it is presented; once the judge has given the floor and the party presents it, the others
receive it in its own stream (not in place of the camera) and the composite shows it large;
when the judge stops it, its packets stop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import replace

import pytest
from aiohttp.test_utils import TestServer
from aiortc import RTCSessionDescription
from av import VideoFrame

from hearing_server.config import Settings
from hearing_server.core.participant import PartySide, Role
from hearing_server.keys import COMPOSITES, HEARINGS, STORE
from signaling.client import HearingClient, SignalingError
from support.hearing import STAFF, Person, make_hearing
from support.media import ColourVideoTrack, ToneAudioTrack, close_colour
from support.waiting import wait_until

MakeClient = Callable[..., HearingClient]
GREY, BLUE = (128, 128, 128), (30, 60, 200)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, composite_enabled=True)


def mostly(frame: VideoFrame, colour: tuple[int, int, int], share: float = 0.5) -> bool:
    rgb = frame.reformat(format="rgb24")
    plane = rgb.planes[0]
    data = bytes(plane)
    points = [(x, y) for y in range(0, rgb.height, 8) for x in range(0, rgb.width, 8)]
    hits = sum(
        close_colour(tuple(data[y * plane.line_size + 3 * x : y * plane.line_size + 3 * x + 3]),
                     colour, tol=40)
        for x, y in points
    )  # fmt: skip
    return hits / len(points) >= share


async def test_a_shared_screen_reaches_the_room_only_while_presented(
    server: TestServer, make_client: MakeClient
) -> None:
    hid, people = await make_hearing(
        server.app,
        [(Role.JUDGE, "王法官"), (Role.PARTY, "张三"), (Role.COURTROOM_DISPLAY, "第一法庭")],
        state="in_session",
    )
    li = await server.app[HEARINGS].add_participant(
        STAFF, hid, role=Role.PARTY, display_name="李四", side=PartySide.DEFENDANT
    )
    _, token, _ = await server.app[HEARINGS].issue_link(STAFF, li.id)
    people["李四"] = Person(li.id, Role.PARTY, "李四", token)
    judge, zhang, lisi, display = (
        make_client(people[n].token) for n in ("王法官", "张三", "李四", "第一法庭")
    )
    for client in (judge, zhang, lisi, display):
        await client.connect()
        await client.join()
    pid = people["张三"].id
    pc = await zhang.publish([ColourVideoTrack(GREY), ToneAudioTrack(440.0)])
    await lisi.wait_for_track(pid, "video", timeout=20)

    # The screen: a second video section, named as the screen in the offer.
    transceiver = pc.addTransceiver(ColourVideoTrack(BLUE), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    reply = await zhang.call(
        "publish_offer",
        {"type": "offer", "sdp": pc.localDescription.sdp, "screen_mid": transceiver.mid},
    )
    await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
    screen = await lisi.wait_for_track(f"{pid}~screen", "video", timeout=20)
    # The camera is still the camera.
    assert lisi.received[(pid, "video")].track is not screen

    async def next_frame(timeout: float) -> VideoFrame | None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                return await screen.recv()
        return None

    # Not presented: not a packet of it reaches anyone.
    assert await next_frame(2.0) is None
    with pytest.raises(SignalingError) as refused:
        await zhang.call("present_screen", {})
    assert refused.value.code == "not_granted"
    await judge.call("grant_presenting", {"participant_id": pid})
    state = await zhang.call("present_screen", {})
    assert state["showing"]["screen"]["stream_id"] == f"{pid}~screen"
    await lisi.wait_for_event("presentation", lambda d: d["showing"] and d["showing"]["screen"])

    # Presented: the others receive it (blue), and the composite shows it in the large tile.
    async def blue_arrives() -> None:
        while True:
            frame = await next_frame(5.0)
            if frame is not None and mostly(frame, BLUE):
                return

    await asyncio.wait_for(blue_arrives(), 20)
    compositor = server.app[COMPOSITES].compositor(hid)
    await wait_until(
        lambda: any(t.pid == "exhibit" and t.focus and t.kind == "exhibit"
                    and t.video_rect is not None for t in compositor.tile_states()),
        20,
        "the screen in the composite's large tile",
    )  # fmt: skip

    # The judge stops it: no more packets of the screen, the composite's own layout again.
    await judge.call("stop_presenting", {})
    await asyncio.sleep(0.5)
    while await next_frame(0.2) is not None:  # drain what was already on its way
        pass
    assert await next_frame(2.0) is None
    await wait_until(
        lambda: all(t.pid != "exhibit" for t in compositor.tile_states()), 10, "layout back"
    )
    entries = await server.app[STORE].list_audit(hid)
    shown = [e.data for e in entries if e.event == "evidence_presented"]
    assert shown == [{"screen": True, "presenter": "张三"}]
