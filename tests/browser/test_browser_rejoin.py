"""Chromium receives a publisher that leaves and comes back (routed out and in again, then
reconnected on a new publish connection): every subscriber offer applies (Chromium refuses
a whole offer that repeats an msid) and the video plays again each time, on the same two
media sections.

The pages are plain JavaScript served by the test, talking to a ``MediaRouter`` directly
over three HTTP calls; nothing of the app is involved.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Page

from hearing_server.media import (
    MediaEvent,
    MediaRouter,
    MediaSettings,
    SubscriberOffer,
    TrackUnpublished,
)
from support.waiting import eventually

pytestmark = pytest.mark.browser

PAGE = """<!doctype html><html><head><meta charset="utf-8"></head><body>
<video id="v" autoplay muted playsinline width="320" height="180"></video>
<script>
window.errors = [];
window.applied = 0;
window.tracks = 0;
const gathered = (pc) => new Promise((resolve) => {
  if (pc.iceGatheringState === 'complete') return resolve();
  pc.addEventListener('icegatheringstatechange', () => {
    if (pc.iceGatheringState === 'complete') resolve();
  });
});
async function post(url, body) {
  const r = await fetch(url, {method: 'POST', body});
  const text = await r.text();
  if (!r.ok) throw new Error(`${url}: ${r.status} ${text}`);
  return text;
}
window.publish = async (pid) => {
  const stream = await navigator.mediaDevices.getUserMedia(
    {video: {width: {ideal: 640}, height: {ideal: 360}}, audio: true});
  const pc = new RTCPeerConnection({bundlePolicy: 'max-bundle'});
  for (const t of stream.getTracks()) {
    pc.addTransceiver(t, {direction: 'sendonly', streams: [stream]});
  }
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const answer = await post(`/publish?pid=${pid}`, pc.localDescription.sdp);
  await pc.setRemoteDescription({type: 'answer', sdp: answer});
  window.pubPc = pc;
};
window.unpublish = () => { window.pubPc.close(); window.pubPc = null; };
window.subscribe = async (pid) => {
  let pc = null;
  let after = 0;
  for (;;) {
    const r = await fetch(`/offer?pid=${pid}&after=${after}`);
    if (r.status !== 200) continue;
    const offer = await r.json();
    after = offer.revision;
    try {
      if (!pc || offer.restart) {
        if (pc) pc.close();
        pc = new RTCPeerConnection({bundlePolicy: 'max-bundle'});
        window.subPc = pc;
        pc.ontrack = (ev) => {
          if (ev.track.kind !== 'video') return;
          window.tracks += 1;
          const v = document.getElementById('v');
          v.srcObject = new MediaStream([ev.track]);
          v.play().catch(() => {});
        };
      }
      await pc.setRemoteDescription({type: 'offer', sdp: offer.sdp});
      await pc.setLocalDescription(await pc.createAnswer());
      await gathered(pc);
      await post(`/answer?pid=${pid}&revision=${offer.revision}`, pc.localDescription.sdp);
      window.applied = offer.revision;
    } catch (err) {
      window.errors.push(`offer ${offer.revision}: ${err}`);
    }
  }
};
// Frames presented by the <video> within ~2 s, and inbound video counters.
window.playing = async () => {
  const v = document.getElementById('v');
  const t0 = v.currentTime;
  let frames = 0;
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, 2000);
    const step = () => {
      frames += 1;
      if (frames >= 8) { clearTimeout(timer); resolve(); } else v.requestVideoFrameCallback(step);
    };
    v.requestVideoFrameCallback(step);
  });
  return {frames, width: v.videoWidth, advanced: v.currentTime - t0};
};
window.sections = () => {
  const sdp = window.subPc && window.subPc.remoteDescription && window.subPc.remoteDescription.sdp;
  if (!sdp) return [];
  return sdp.split(/\\r?\\nm=/).slice(1).map((block) => ({
    kind: block.split(' ')[0],
    direction: (block.match(/^a=(sendonly|sendrecv|recvonly|inactive)\\r?$/m) || [])[1],
  }));
};
</script></body></html>"""


class Signals:
    """The test's signaling: HTTP endpoints in front of a MediaRouter."""

    def __init__(self) -> None:
        self.router = MediaRouter(MediaSettings(announced_host_addresses=["127.0.0.1"]), self._on)
        self.events: list[MediaEvent] = []
        self._changed = asyncio.Condition()

    async def _on(self, event: MediaEvent) -> None:
        self.events.append(event)
        async with self._changed:
            self._changed.notify_all()

    def offers(self, pid: str) -> list[SubscriberOffer]:
        return [e for e in self.events if isinstance(e, SubscriberOffer) and e.pid == pid]

    async def page(self, _request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def publish(self, request: web.Request) -> web.Response:
        answer = await self.router.publish(request.query["pid"], await request.text())
        return web.Response(text=answer)

    async def offer(self, request: web.Request) -> web.Response:
        pid, after = request.query["pid"], int(request.query["after"])

        def newer() -> list[SubscriberOffer]:
            return [o for o in self.offers(pid) if o.revision > after]

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(newer), 10)
            except TimeoutError:
                return web.Response(status=204)
        offer = newer()[-1]
        return web.json_response(
            {"sdp": offer.sdp, "revision": offer.revision, "restart": offer.restart}
        )

    async def answer(self, request: web.Request) -> web.Response:
        await self.router.subscriber_answer(
            request.query["pid"], await request.text(), int(request.query["revision"])
        )
        return web.Response(text="ok")


@pytest.fixture
async def signals() -> AsyncIterator[tuple[Signals, str]]:
    sig = Signals()
    app = web.Application()
    app.router.add_get("/", sig.page)
    app.router.add_post("/publish", sig.publish)
    app.router.add_get("/offer", sig.offer)
    app.router.add_post("/answer", sig.answer)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield sig, f"http://127.0.0.1:{server.port}/"
    finally:
        await sig.router.close()
        await server.close()


async def assert_playing(page: Page, what: str) -> None:
    async def playing() -> Any:
        r = await page.evaluate("window.playing()")
        return r if r["width"] > 0 and r["frames"] >= 5 and r["advanced"] > 0.1 else None

    await eventually(playing, timeout=20, what=f"video playing ({what})", interval=0.5)


async def applied_latest(sig: Signals, page: Page, pid: str, what: str) -> None:
    """Until the page has applied the router's latest offer to ``pid``."""

    async def caught_up() -> bool:
        errors = await page.evaluate("window.errors")
        assert errors == [], f"{pid}'s page failed to apply an offer ({what}): {errors}"
        offers = sig.offers(pid)
        applied = await page.evaluate("window.applied")
        return bool(offers) and applied == offers[-1].revision

    await eventually(caught_up, timeout=15, what=f"the offer to be applied ({what})")
    await asyncio.wait_for(sig.router.wait_negotiated(pid), 15)
    await eventually(caught_up, timeout=15, what=f"the last offer to be applied ({what})")


async def test_returning_publisher_plays_again_in_chromium(
    signals: tuple[Signals, str], launch: Any
) -> None:
    sig, url = signals
    person = await launch("rejoin", "party", width=800, height=600)
    alice, bob = person.page, await person.context.new_page()
    bob.on("console", lambda msg: person.logs.append(f"[bob {msg.type}] {msg.text}"))
    await alice.goto(url)
    await bob.goto(url)

    await alice.evaluate("window.publish('alice')")
    sig.router.set_routes("bob", {"alice"})
    await bob.evaluate("() => { window.subscribe('bob'); }")  # runs on in the page
    await assert_playing(bob, "first time")

    for n in range(2):
        sig.router.set_routes("bob", set())  # alice returned to the waiting room
        await applied_latest(sig, bob, "bob", f"route out {n}")
        assert {s["direction"] for s in await bob.evaluate("window.sections()")} == {"inactive"}
        sig.router.set_routes("bob", {"alice"})  # and admitted again
        await applied_latest(sig, bob, "bob", f"route in {n}")
        await assert_playing(bob, f"readmitted {n}")

    # alice's connection goes away and she publishes again on a new one: a new
    # source (its own SSRC, timestamps, picture ids) on bob's reused sections
    unpublished = sum(isinstance(e, TrackUnpublished) for e in sig.events)
    await alice.evaluate("window.unpublish()")
    await eventually(
        lambda: _async(sum(isinstance(e, TrackUnpublished) for e in sig.events) > unpublished),
        timeout=15,
        what="alice's tracks to be unpublished",
    )
    await applied_latest(sig, bob, "bob", "alice gone")
    await alice.evaluate("window.publish('alice')")
    await applied_latest(sig, bob, "bob", "alice back")
    await assert_playing(bob, "reconnected")

    assert await bob.evaluate("window.errors") == []
    offers = sig.offers("bob")
    for offer in offers:
        msids = Counter(re.findall(r"^a=msid:(.*?)\r?$", offer.sdp, flags=re.M))
        assert all(n == 1 for n in msids.values()), (offer.revision, msids)
    sections = await bob.evaluate("window.sections()")
    assert sorted((s["kind"], s["direction"]) for s in sections) == [
        ("audio", "sendonly"),
        ("video", "sendonly"),
    ]
    assert len(offers) >= 7


async def _async(value: bool) -> bool:
    return value
