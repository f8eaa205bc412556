"""A receiver process: one or more receivers of the publisher's video, each measured.

A receiver is either an SFU subscriber (a ``HearingClient`` with a party's join token)
or the direct call. ``python -m bench.sfu.receivers SPEC_JSON`` where the spec is::

    {"publisher_id": "...", "server_url": "http://127.0.0.1:PORT",
     "receivers": [{"name": "sub-01", "kind": "sfu", "token": "...", "start_after_s": 0.5},
                   {"name": "direct", "kind": "direct", "url": "http://...", ...}]}

Once loaded the process says ``loaded`` and waits for ``{"cmd": "join", "t0": T}``:
receiver i starts joining at wall-clock time ``T + start_after_s``, so joins are
staggered across processes and no join competes with process start-up. Then events:
``first_frame`` (per receiver), ``failed``, ``mark``, ``result``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiortc import RTCPeerConnection

from signaling.client import HearingClient

from .control import commands, emit, next_command, run_child
from .meter import FrameMeter
from .p2p import VP8, call_directly
from .rtpstats import inbound_video_packets
from .timeline import Timeline, watch_connection, watch_first_packet

log = logging.getLogger("bench.receivers")


class Receiver:
    """One measured receiver; ``join`` connects it and starts its meter."""

    def __init__(self, spec: dict[str, Any], server_url: str, publisher_id: str) -> None:
        self.name: str = spec["name"]
        self.spec = spec
        self._server_url = server_url
        self._publisher_id = publisher_id
        self.meter: FrameMeter | None = None
        self.client: HearingClient | None = None
        self.direct_pc: RTCPeerConnection | None = None
        self.timeline = Timeline(time.monotonic())

    @property
    def pc(self) -> RTCPeerConnection | None:
        if self.client is not None:
            return self.client.subscribe_pc
        return self.direct_pc

    async def join(self, t0: float) -> None:
        delay = t0 + self.spec["start_after_s"] - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        timeline = self.timeline = Timeline(time.monotonic())
        meter = self.meter = FrameMeter(self.name, timeline.started)
        if self.spec["kind"] == "direct":
            self.direct_pc = pc = await call_directly(self.spec["url"])
            timeline.step("answered")
            receiver = pc.getTransceivers()[0].receiver
        else:
            client = self.client = HearingClient(
                self._server_url, self.spec["token"], video_codec=VP8
            )
            await client.connect()
            timeline.step("signaling_connected")
            await client.join()
            timeline.step("joined")
            track = await client.wait_for_track(self._publisher_id, "video", timeout=30)
            timeline.step("offer_received")
            subscribe_pc = client.subscribe_pc
            assert subscribe_pc is not None
            pc = subscribe_pc
            receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
        watch_connection(pc, timeline)
        watch_first_packet(receiver, timeline)
        meter.start(receiver.track)
        await asyncio.wait_for(meter.first_frame.wait(), 30)
        timeline.step("first_frame")

    async def close(self) -> None:
        if self.meter is not None:
            await self.meter.stop()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                if self.client is not None:
                    await self.client.close()
                if self.direct_pc is not None:
                    await self.direct_pc.close()


def _errors(client: HearingClient | None) -> list[str]:
    """The codes of the ``error`` events the server pushed to ``client``."""
    if client is None:
        return []
    return [
        f"{data.get('event')}: {data.get('code')}"
        for name, data in client.events
        if name == "error" and isinstance(data, dict)
    ]


async def _join(receiver: Receiver, t0: float) -> None:
    try:
        await receiver.join(t0)
    except Exception as exc:
        log.exception("%s failed to join", receiver.name)
        emit("failed", name=receiver.name, error=repr(exc))
        return
    meter = receiver.meter
    assert meter is not None
    emit(
        "first_frame",
        name=receiver.name,
        join_to_first_frame_ms=meter.join_to_first_frame_ms,
        steps_ms=receiver.timeline.steps_ms,
    )


async def _mark(receivers: list[Receiver], label: str) -> None:
    packets: dict[str, int] = {}
    for r in receivers:
        if r.meter is not None:
            if label == "start":
                r.meter.begin_window()
            elif label == "end":
                r.meter.end_window()
        packets[r.name] = await inbound_video_packets(r.pc)
    emit("mark", label=label, t=time.monotonic(), packets=packets)


async def run(spec: dict[str, Any]) -> None:
    receivers = [Receiver(s, spec["server_url"], spec["publisher_id"]) for s in spec["receivers"]]
    reader = await commands()
    joins: list[asyncio.Task[None]] = []
    emit("loaded")
    try:
        while True:
            cmd = await next_command(reader)
            if cmd["cmd"] == "join":
                joins = [asyncio.create_task(_join(r, cmd["t0"])) for r in receivers]
            elif cmd["cmd"] == "mark":
                await _mark(receivers, cmd["label"])
            elif cmd["cmd"] == "stop":
                break
        results = []
        for r in receivers:
            result: dict[str, Any] = r.meter.result() if r.meter is not None else {"name": r.name}
            result["kind"] = r.spec["kind"]
            result["steps_ms"] = r.timeline.steps_ms
            result["signaling_errors"] = _errors(r.client)
            results.append(result)
        emit("result", receivers=results)
    finally:
        for task in joins:
            task.cancel()
        await asyncio.gather(*joins, return_exceptions=True)
        await asyncio.gather(*(r.close() for r in receivers))


def main() -> None:
    run_child(run)


if __name__ == "__main__":
    main()
