"""A silent microphone costs the server almost nothing: the publish answer asks Chromium for
Opus DTX (``usedtx=1``), and Chromium honours it, sending a frame every 400 ms or so instead
of 50 a second while its microphone hears silence (issue 29: eight silent microphones were
most of a nine-party hearing's audio packets). Someone speaking is sent in full."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from hearing_server.core.participant import Role
from hearing_server.keys import MEDIA
from support.hearing import make_hearing
from support.journey import SERVER_MS

pytestmark = pytest.mark.browser

AUDIO_FPS = 50  # 20 ms Opus frames
WINDOW_S = 6.0


async def _audio_rate(server: TestServer, pid: str) -> float:
    """Audio frames per second the server receives from ``pid``, once it receives any."""
    media = server.app[MEDIA]
    for _ in range(SERVER_MS // 200):  # polled: the router has no event for a first frame
        if media.frames_received(pid, "audio"):
            break
        await asyncio.sleep(0.2)
    else:
        pytest.fail(f"no audio from {pid} in {SERVER_MS} ms")
    await asyncio.sleep(2.0)  # past the first frames and the encoder's start
    before = media.frames_received(pid, "audio")
    await asyncio.sleep(WINDOW_S)
    return (media.frames_received(pid, "audio") - before) / WINDOW_S


async def test_silent_microphone_is_sent_with_dtx_and_speech_in_full(
    server: TestServer, launch: Any
) -> None:
    base = f"http://127.0.0.1:{server.port}"
    _, people = await make_hearing(
        server.app, [(Role.JUDGE, "王法官"), (Role.CLERK, "李书记员")], state="in_session"
    )
    quiet = await launch("judge", "silent", width=1024, height=700)
    speaking = await launch("clerk", "judge", width=1024, height=700)
    for person, name in ((quiet, "王法官"), (speaking, "李书记员")):
        await person.page.goto(f"{base}/join#token={people[name].token}")
        await expect(person.page.locator(".screen.console")).to_be_visible(timeout=SERVER_MS)

    silent_rate, speech_rate = await asyncio.gather(
        _audio_rate(server, people["王法官"].id), _audio_rate(server, people["李书记员"].id)
    )
    # Chromium's DTX: a comfort-noise frame every 400 ms (2.5/s), a few more around starts
    assert 0 < silent_rate <= 10, f"silence sent at {silent_rate:.1f} frames/s"
    # the fake microphone's speech file loops with 0.3 s of silence: nearly every frame
    assert speech_rate >= 0.7 * AUDIO_FPS, f"speech sent at {speech_rate:.1f} frames/s"
