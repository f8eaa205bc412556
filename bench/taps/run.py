"""CPU cost of taps on one 640x360 30 fps VP8 track (~1 Mbps), in one process, no network.

Pre-encoded frames are fed as RTP packets into a ``TrackForwarder`` (the forwarding entry
point aiortc's receive loop calls) at 30 fps in real time, with: no tap, one encoded tap,
one decoded tap, two decoded taps. Reported per mode: the process's CPU-s/s (utime+stime
of every thread, from getrusage), the tap decoder thread's own CPU-s/s (from
/proc/self/task/<tid>/stat), frames decoded. Network, SRTP and aiortc's receive path cost
the same in every mode and are left out, so the differences are the taps' cost.

    /tmp/venv/bin/python -m bench.taps.run [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import os
import resource
import sys
import time
from typing import Any

import av
import numpy as np
from aiortc import RTCRtpSender
from aiortc.rtp import RtpPacket

from hearing_server.media.codecs import TrackCodec
from hearing_server.media.encoded import Packetizer
from hearing_server.media.forwarder import TrackForwarder
from hearing_server.media.stats import MediaCounters
from hearing_server.media.taps_impl import DecoderRegistry
from hearing_server.media.tasks import TaskOwner

W, H, FPS = 640, 360, 30
TICKS = os.sysconf("SC_CLK_TCK")


def encode(seconds: int) -> list[bytes]:
    """A camera-like picture (gradient, a moving textured box, sensor noise), VP8 1 Mbps."""
    ctx: Any = av.CodecContext.create("libvpx", "w")
    ctx.width, ctx.height, ctx.pix_fmt = W, H, "yuv420p"
    ctx.time_base = fractions.Fraction(1, FPS)
    ctx.bit_rate = 1_000_000
    ctx.gop_size = 3000
    ctx.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    rng = np.random.default_rng(1)
    base = np.zeros((H, W, 3), np.uint8)
    base[..., 0] = np.linspace(40, 200, W, dtype=np.uint8)[None, :]
    base[..., 1] = np.linspace(60, 160, H, dtype=np.uint8)[:, None]
    base[..., 2] = 120
    texture = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    out: list[bytes] = []
    for i in range(seconds * FPS):
        img = base.copy()
        x = (i * 6) % (W - 160)
        img[120:240, x : x + 160] = texture
        img = np.clip(img.astype(np.int16) + rng.integers(-3, 4, img.shape), 0, 255)
        frame = av.VideoFrame.from_ndarray(img.astype(np.uint8), format="rgb24")
        frame = frame.reformat(format="yuv420p")
        frame.pts, frame.time_base = i, ctx.time_base
        out.extend(bytes(p) for p in ctx.encode(frame))
    return out


def thread_cpu(native_id: int | None) -> float:
    if native_id is None:
        return 0.0
    try:
        with open(f"/proc/self/task/{native_id}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def process_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def run_mode(mode: str, frames: list[bytes], seconds: float) -> dict[str, Any]:
    async def no_pli(_ssrc: int) -> None:
        return None

    cap = next(c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/VP8")
    counters = MediaCounters()
    registry = DecoderRegistry()
    tasks = TaskOwner("bench")
    fwd = TrackForwarder(
        publisher_pid="cam",
        track_id="cam-video-0",
        codec=TrackCodec(kind="video", capability=cap, rtx=None),
        counters=counters,
        tasks=tasks,
        send_pli=no_pli,
        keyframe_throttle_s=0.3,
        gap_timeout_s=0.5,
        decoders=registry,
    )
    packer = Packetizer("VP8", 90000)
    taps: list[Any] = []
    if mode == "encoded tap":
        taps.append(fwd.taps.open_encoded(1000))
    elif mode == "decoded tap":
        taps.append(fwd.taps.open_decoded(60))
    elif mode == "2 decoded taps":
        taps += [fwd.taps.open_decoded(60), fwd.taps.open_decoded(60)]
    received = [0] * len(taps)

    async def consume(i: int) -> None:
        async for _ in taps[i]:
            received[i] += 1

    consumers = [asyncio.create_task(consume(i)) for i in range(len(taps))]
    seq, ts = 0, 0
    start = time.monotonic()
    cpu0, dec0 = process_cpu(), 0.0
    decoder = fwd.taps.decoder
    tid = decoder.thread.native_id if decoder and decoder.thread else None
    dec0 = thread_cpu(tid)
    n = 0
    packets = 0
    while time.monotonic() - start < seconds:
        # the first frame is the only keyframe in the loop; a decoder asks for one: resend it
        payload = frames[n % len(frames)]
        frame = packer.packetize(payload, ts, n == 0)
        for j, p in enumerate(frame.payloads):
            pkt = RtpPacket(payload_type=97, sequence_number=seq, timestamp=frame.timestamp)
            pkt.ssrc, pkt.marker, pkt.payload = 1, int(j == len(frame.payloads) - 1), p
            fwd.on_rtp(pkt)
            seq = (seq + 1) % 65536
            packets += 1
        n += 1
        ts += 90000 // FPS
        await asyncio.sleep(max(0.0, start + n / FPS - time.monotonic()))
    elapsed = time.monotonic() - start
    cpu = process_cpu() - cpu0
    dec = thread_cpu(tid) - dec0
    fwd.close()
    await asyncio.gather(*consumers)
    await registry.join(5)
    await tasks.close()
    return {
        "mode": mode,
        "seconds": round(elapsed, 2),
        "frames_fed": n,
        "rtp_packets": packets,
        "frames_received_per_tap": received,
        "tap_decoded_frames": counters.tap_decoded_frames,
        "tap_dropped_frames": counters.tap_dropped_frames,
        "process_cpu_s_per_s": round(cpu / elapsed, 4),
        "decoder_thread_cpu_s_per_s": round(dec / elapsed, 4),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    frames = encode(10)
    kbps = sum(map(len, frames)) * 8 / 10 / 1000
    print(f"# {len(frames)} VP8 frames, {kbps:.0f} kbit/s", file=sys.stderr)
    rows = []
    for mode in ("no tap", "encoded tap", "decoded tap", "2 decoded taps"):
        rows.append(await run_mode(mode, frames, args.seconds))
        print(json.dumps(rows[-1]), file=sys.stderr)
    base = rows[0]["process_cpu_s_per_s"]
    print("| mode | process CPU-s/s | over no tap | decoder thread CPU-s/s | frames out per tap |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['mode']} | {r['process_cpu_s_per_s']:.3f} | "
            f"{r['process_cpu_s_per_s'] - base:+.3f} | {r['decoder_thread_cpu_s_per_s']:.3f} | "
            f"{r['frames_received_per_tap']} |"
        )


if __name__ == "__main__":
    asyncio.run(main())
