"""Two participants publishing a moving picture and a tone; the judge starts the livestream.

    python -m bench.livestream.publishers URL JUDGE_TOKEN PARTY_TOKEN
Runs until SIGTERM.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import signal
import sys

import aioice.ice
import numpy as np
from aiortc import AudioStreamTrack, VideoStreamTrack
from av import AudioFrame, VideoFrame

from signaling.client import HearingClient, SignalingError


class MovingPicture(VideoStreamTrack):
    def __init__(self, colour: tuple[int, int, int]) -> None:
        super().__init__()
        self._img = np.zeros((360, 640, 3), np.uint8)
        self._img[:] = colour
        self._n = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        img = self._img.copy()
        x = (self._n * 8) % 600
        img[100:260, x : x + 40] = 255
        self._n += 1
        frame = VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class Tone(AudioStreamTrack):
    def __init__(self, hz: float) -> None:
        super().__init__()
        self._hz = hz
        self._t = 0

    async def recv(self) -> AudioFrame:
        frame = await super().recv()  # paced silence: 20 ms at 48 kHz
        n = frame.samples
        t = np.arange(self._t, self._t + n)
        self._t += n
        data = (np.sin(2 * math.pi * self._hz * t / 48_000) * 6000).astype(np.int16)
        out = AudioFrame.from_ndarray(data.reshape(1, -1), format="s16", layout="mono")
        out.sample_rate = 48_000
        out.pts, out.time_base = frame.pts, fractions.Fraction(1, 48_000)
        return out


async def main(url: str, judge_token: str, party_token: str) -> None:
    # Loopback only (aioice skips it when gathering on its own).
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    clients = []
    for token, colour, hz in (
        (judge_token, (200, 40, 40), 440.0),
        (party_token, (40, 180, 40), 660.0),
    ):
        c = HearingClient(url, token)
        await c.connect()
        await c.join()
        await c.publish([MovingPicture(colour), Tone(hz)])
        clients.append(c)
    for _ in range(120):
        try:
            await clients[0].call("livestream", {"action": "start", "delay_seconds": 4})
            break
        except SignalingError as exc:
            if exc.code != "no_composite":
                raise
            await asyncio.sleep(0.5)
    print("livestream started", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    for c in clients:
        await c.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
