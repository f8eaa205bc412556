"""A client process of ``bench.workers``: whole hearings, each a judge who publishes a camera
(``bench.overload.sources.EncodedCamera``: 320x180@15 VP8 at 500 kbit/s, encoded once) and a
silent microphone (Opus DTX), and K parties who only receive, counting packets at the DTLS
transport without decoding (``bench.overload.observe``).

``python -m bench.workers.clients SPEC_JSON``, the spec being
``{"server_url": ..., "hearings": [{"judge": TOKEN, "parties": [TOKEN, ...]}, ...]}``.
It emits ``joined`` (with any failures) once every client has joined; each ``{"cmd":
"sample"}`` is answered with ``sample``: the video frames every camera sent, and per party
the video frames and packets (audio packets apart) it received so far. ``{"cmd": "stop"}``
closes every client and emits ``result``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from typing import Any

from bench.overload.observe import count_at_transport, count_instead_of_decoding, counter_of
from bench.overload.sources import EncodedCamera, microphone
from bench.sfu.control import commands, die_with_parent, emit, next_command
from bench.sfu.loopback import use_loopback_only
from signaling.client import HearingClient

log = logging.getLogger("bench.workers.clients")


class Hearing:
    def __init__(self, server_url: str, spec: dict[str, Any], seed: int) -> None:
        self.judge = HearingClient(server_url, spec["judge"])
        self.parties = [HearingClient(server_url, token) for token in spec["parties"]]
        self.camera = EncodedCamera(seed)
        self.mic = microphone(False, 1.0, dtx=True)

    async def join(self) -> None:
        await self.judge.connect()
        info = await self.judge.join()
        if info["hearing"]["state"] != "in_session":
            await self.judge.call("hearing_action", {"action": "start"})
        await self.judge.publish([self.camera, self.mic])
        for party in self.parties:
            await party.connect()
            await party.join()

    def received(self) -> list[dict[str, int]]:
        """Per party: video frames and packets, audio packets, received so far."""
        out = []
        for party in self.parties:
            row = {"video_frames": 0, "video_packets": 0, "audio_packets": 0}
            pc = party.subscribe_pc
            if pc is not None:
                for transceiver in pc.getTransceivers():
                    counter = counter_of(transceiver.receiver)
                    if counter is None:
                        continue
                    if counter.kind == "video":
                        row["video_frames"] += counter.frames
                        row["video_packets"] += counter.packets
                    else:
                        row["audio_packets"] += counter.packets
            out.append(row)
        return out

    async def close(self) -> None:
        await asyncio.gather(
            *(c.close() for c in [*self.parties, self.judge]), return_exceptions=True
        )


async def run(spec: dict[str, Any]) -> None:
    reader = await commands()
    hearings = [
        Hearing(spec["server_url"], h, seed=spec.get("seed", 0) + i)
        for i, h in enumerate(spec["hearings"])
    ]
    failures: list[str] = []

    async def join(h: Hearing) -> None:
        try:
            await h.join()
        except Exception as exc:
            log.exception("a hearing's clients failed to join")
            failures.append(repr(exc))

    await asyncio.gather(*(join(h) for h in hearings))
    emit("joined", failures=failures)
    try:
        while True:
            cmd = await next_command(reader)
            if cmd["cmd"] == "sample":
                emit(
                    "sample",
                    sent=[h.camera.sent for h in hearings],
                    received=[h.received() for h in hearings],
                )
            elif cmd["cmd"] == "stop":
                break
    finally:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(15):
                await asyncio.gather(*(h.close() for h in hearings))
    emit("result")


def main() -> None:
    die_with_parent()
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    spec = json.loads(sys.argv[1])
    if spec.get("nice"):
        os.nice(spec["nice"])
    use_loopback_only()
    count_instead_of_decoding()
    count_at_transport()
    asyncio.run(run(spec))


if __name__ == "__main__":
    main()
