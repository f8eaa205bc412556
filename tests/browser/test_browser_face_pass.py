"""The genuine person passes the camera step in a real browser and reaches the waiting room.

Chromium's fake camera plays a fixed file, but a person follows the prompts, whose order the
server draws at random. So this test is the person: the page's camera is a canvas (its
``captureStream``, replacing ``getUserMedia``'s video; the microphone stays Chromium's fake
device) showing another photo of the registered person, and the test changes the pose the
canvas shows when it reads a prompt on the screen: eyes closed for a blink, the head turned
for a turn. The poses are the same image warps the integration test uses (facekit/testing.py
explains why they are a fair stand-in for the motion); everything after the canvas is the
product: the browser encodes and sends the video over WebRTC, the server runs the face match
and liveness on it, the page shows progress and the result.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, expect

from facekit.testing import TURN, blink, turn
from hearing_server.core.actors import Actor
from hearing_server.core.participant import Role
from hearing_server.keys import IDENTITY
from support.faces import camera_of, face_bytes, jpeg
from support.identity import identity_hearing
from support.journey import pass_self_test

pytestmark = pytest.mark.browser

POLICY = '{"party": ["face", "liveness"]}'
WAIT_MS = 30_000  # waits that follow the server's work, on a loaded machine

# Replace the camera by a canvas that shows window.__pose (one of window.__poses, JPEG data
# URLs). The microphone is still Chromium's fake device.
CANVAS_CAMERA = """
(() => {
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  const poses = POSES;
  const images = {};
  for (const [name, url] of Object.entries(poses)) {
    const img = new Image(); img.src = url; images[name] = img;
  }
  window.__pose = 'base';
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    const audio = constraints && constraints.audio
      ? (await real({ audio: constraints.audio })).getAudioTracks() : [];
    if (!constraints || !constraints.video) return new MediaStream(audio);
    const canvas = document.createElement('canvas');
    canvas.width = 640; canvas.height = 360;
    const g = canvas.getContext('2d');
    const draw = () => {
      const img = images[window.__pose];
      if (img && img.complete) g.drawImage(img, 0, 0, 640, 360);
    };
    draw();
    setInterval(draw, 40);
    const video = canvas.captureStream(25).getVideoTracks();
    return new MediaStream([...video, ...audio]);
  };
})();
"""


def _poses() -> dict[str, str]:
    base, landmarks = camera_of("obama3.jpg")  # another photo of the registered person
    frames: dict[str, np.ndarray] = {"base": base, "blink": blink(base, landmarks)}
    for name, sign in (("turn_left", 1.0), ("turn_right", -1.0)):
        frames[f"{name}_half"] = turn(base, landmarks, sign * TURN / 2)
        frames[name] = turn(base, landmarks, sign * TURN)
    return {
        name: "data:image/jpeg;base64," + base64.b64encode(jpeg(rgb)).decode("ascii")
        for name, rgb in frames.items()
    }


async def _pose(page: Page, name: str, seconds: float) -> None:
    await page.evaluate("(p) => { window.__pose = p; }", name)
    await asyncio.sleep(seconds)


async def _act_out(page: Page, deadline: float) -> list[str]:
    """Follow the prompts as a person does: read the challenge, do it, do it again until the
    prompt moves on; stop when the prompt is gone (the check ended) or time is up."""
    prompt = page.locator("[data-testid='face-prompt']")
    done: list[str] = []
    while time.monotonic() < deadline:
        challenge = await prompt.get_attribute("data-challenge") if await prompt.count() else None
        if challenge not in ("blink", "turn_left", "turn_right"):
            if done:
                return done
            await asyncio.sleep(0.2)
            continue
        if not done or done[-1] != challenge:
            done.append(challenge)
        if challenge == "blink":
            await _pose(page, "blink", 0.6)
        else:
            await _pose(page, f"{challenge}_half", 0.3)
            await _pose(page, challenge, 1.0)
            await _pose(page, f"{challenge}_half", 0.3)
        await _pose(page, "base", 0.8)
    return done


async def test_the_genuine_person_passes_into_the_waiting_room(
    server: TestServer, launch: Any, artifacts: Path
) -> None:
    h = await identity_hearing(
        server.app, [(Role.CLERK, "赵书记员"), (Role.PARTY, "张三")], policy=POLICY
    )
    zhang = h.people["张三"]
    await server.app[IDENTITY].set_reference_photo(
        Actor.staff("clerk"), zhang.id, face_bytes("obama.jpg")
    )
    base = f"http://127.0.0.1:{server.port}"
    clerk, party = await asyncio.gather(
        launch("clerk", "judge", width=1440, height=900),
        launch("party", "party", width=390, height=844, mobile=True),
    )
    page = party.page
    await page.add_init_script(CANVAS_CAMERA.replace("POSES", json.dumps(_poses())))
    await clerk.page.goto(f"{base}/join#token={h.people['赵书记员'].token}")
    await expect(clerk.page.locator(".screen.console")).to_be_visible()
    row = clerk.page.locator(f".prow[data-participant-id='{zhang.id}']")

    await pass_self_test(page, base, zhang.token)

    await expect(page.locator("[data-testid='identity-face']")).to_be_visible()
    await page.click("[data-action='start-face']")
    prompt = page.locator("[data-testid='face-prompt']")
    await expect(prompt).to_have_attribute(
        "data-challenge", __import__("re").compile("blink|turn_left|turn_right"), timeout=WAIT_MS
    )
    await page.screenshot(path=str(artifacts / "identity-face-pass-1-prompt-390x844.png"))
    followed = await _act_out(page, time.monotonic() + 25.0)
    # Every challenge was asked for, in the server's order, and done.
    assert sorted(followed) == ["blink", "turn_left", "turn_right"], followed

    # Passed: on to the rules and the waiting room; the clerk sees the match and liveness.
    await expect(page.locator(".screen.flow[data-step='rules']")).to_be_visible(timeout=WAIT_MS)
    await page.screenshot(path=str(artifacts / "identity-face-pass-2-rules-390x844.png"))
    await page.check("[data-action='declare']")
    await page.click("[data-action='enter-waiting']")
    await expect(page.locator("[data-testid='waiting-room']")).to_be_visible(timeout=WAIT_MS)
    await expect(row.locator(".pstate[data-state='waiting']")).to_be_visible(timeout=WAIT_MS)
    distance = row.locator(".id-badge[data-badge='face-distance'][data-decision='same']")
    await expect(distance).to_be_visible()
    await expect(row.locator(".id-badge[data-badge='liveness-failed']")).to_have_count(0)
    await clerk.page.screenshot(path=str(artifacts / "identity-face-pass-3-console-1440x900.png"))
    body = await server.app[IDENTITY].view(zhang.id)
    assert "liveness" in body["passed"] and "face" in body["passed"], body
    for person in (clerk, party):
        assert not [line for line in person.logs if "[pageerror]" in line], person.logs
