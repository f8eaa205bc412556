"""CPU, memory and latency of one livestream on top of the composite (issue 15, performance).

The composite's output is simulated by frames encoded beforehand exactly as the compositor
encodes them (1280x720, 25 fps, libx264 superfast baseline at 2.5 Mbit/s, an IDR every 2 s;
Opus 48 kHz mono in 20 ms packets), fed in real time with RTP timestamps and arrival times
as the composite's encoded taps deliver them. Two windows of equal length are measured: the
feeding loop alone (baseline), then the same loop feeding a ``livestream.LiveStream``
(remux, Opus → AAC, files, the delay and the playlist). Their difference is what one
livestream costs; the compositor's own cost is in docs/performance.md's composite section.

    python -m bench.livestream.cost [--seconds 30] [--delay 4] [--out bench/results/x.json]
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np

from bench.sfu.machine import describe_machine
from bench.sfu.procstat import process_runtime_seconds
from livestream import LiveStream, StreamOptions

FPS = 25
FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")


def encode_media(seconds: float) -> tuple[list[tuple[bytes, int, bool]], list[bytes]]:
    """H.264 access units (payload, rtp 90 kHz, keyframe) and Opus packets (20 ms)."""
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height = 1280, 720
    enc.pix_fmt = "yuv420p"
    enc.framerate = fractions.Fraction(FPS, 1)
    enc.time_base = fractions.Fraction(1, FPS)
    enc.bit_rate = 2_500_000
    enc.gop_size = 2 * FPS
    enc.options = {
        "preset": "superfast",
        "tune": "zerolatency",
        "profile": "baseline",
        "maxrate": "2500000",
        "bufsize": "1250000",
    }
    enc.open()
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    video: list[tuple[bytes, int, bool]] = []
    for i in range(round(seconds * FPS)):
        # Moving noise in a corner and a sliding bar: x264 has real work, like a courtroom.
        img = np.roll(noise, i * 7, axis=1)
        img[:, (i * 11) % 1280 :][:, :40] = 255
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        for p in enc.encode(frame):
            assert p.pts is not None
            video.append((bytes(p), p.pts * 90_000 // FPS, bool(p.is_keyframe)))
    opus = av.CodecContext.create("libopus", "w")
    opus.sample_rate = 48_000
    opus.layout = "mono"
    opus.format = "s16"
    opus.bit_rate = 48_000
    opus.open()
    audio: list[bytes] = []
    t = np.arange(960)
    for i in range(round(seconds * 50)):
        samples = (np.sin(2 * np.pi * 220 * (t + i * 960) / 48_000) * 8000).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 48_000
        frame.pts = i * 960
        audio.extend(bytes(p) for p in opus.encode(frame))
    return video, audio


async def feed(
    video: list[tuple[bytes, int, bool]],
    audio: list[bytes],
    seconds: float,
    on_video: Callable[[bytes, int, int, float, bool], None],
    on_audio: Callable[[bytes, int, int, float], None],
) -> None:
    """Real-time feed, looping the material with continuous timestamps."""
    span_v = len(video) * 90_000 // FPS
    start = time.monotonic()
    v = a = 0
    while (now := time.monotonic()) - start < seconds:
        while v / FPS <= now - start:
            payload, rtp, key = video[v % len(video)]
            on_video(payload, rtp + (v // len(video)) * span_v, 90_000, time.monotonic(), key)
            v += 1
        while a * 0.02 <= now - start:
            rtp = a * 960
            on_audio(audio[a % len(audio)], rtp, 48_000, time.monotonic())
            a += 1
        await asyncio.sleep(0.005)


def _rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


async def run(seconds: float, delay: float) -> dict[str, Any]:
    video, audio = encode_media(20.0)
    bitrate = sum(len(p) for p, _, _ in video) * 8 / 20.0
    pid = os.getpid()

    def noop_v(*_: Any) -> None:
        return None

    load_before = _loadavg()
    c0 = process_runtime_seconds(pid)
    w0 = time.monotonic()
    await feed(video, audio, seconds, noop_v, noop_v)
    base_cpu = process_runtime_seconds(pid) - c0
    base_wall = time.monotonic() - w0

    with tempfile.TemporaryDirectory() as tmp:
        failures: list[BaseException] = []
        stream = LiveStream(
            Path(tmp) / "stream",
            StreamOptions(delay_s=delay, target_s=2.0, font_path=FONT),
            request_keyframe=lambda: None,
            on_failure=failures.append,
        )
        rss0 = _rss_mib()
        await stream.start()
        c1 = process_runtime_seconds(pid)
        w1 = time.monotonic()
        await feed(video, audio, seconds, stream.video, stream.audio)
        live_cpu = process_runtime_seconds(pid) - c1
        live_wall = time.monotonic() - w1
        await asyncio.sleep(delay + 2.5)  # let the last segments be published
        rss1 = _rss_mib()
        # From the capture of a segment's first frame to its listing in the playlist.
        latencies = [
            e.published_at - (stream.started_at + e.start_s)
            for e in stream.publisher.entries
            if not e.slate
        ]
        durations = [e.duration_s for e in stream.publisher.entries]
        summary = await stream.stop()
    return {
        "bench": "livestream-cost",
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": describe_machine(),
        "loadavg_1m_before": load_before,
        "loadavg_1m_after": _loadavg(),
        "seconds": seconds,
        "delay_s": delay,
        "video_bitrate_bps": round(bitrate),
        "baseline_cpu_s_per_s": round(base_cpu / base_wall, 4),
        "with_livestream_cpu_s_per_s": round(live_cpu / live_wall, 4),
        "livestream_cores": round(live_cpu / live_wall - base_cpu / base_wall, 4),
        "rss_growth_mib": round(rss1 - rss0, 1),
        "segments": len(durations),
        "segment_s_median": round(statistics.median(durations), 3) if durations else None,
        "segment_s_max": round(max(durations), 3) if durations else None,
        "capture_to_publish_s": {
            "min": round(min(latencies), 3) if latencies else None,
            "median": round(statistics.median(latencies), 3) if latencies else None,
            "max": round(max(latencies), 3) if latencies else None,
        },
        "failures": [repr(f) for f in failures],
        "summary": summary,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--delay", type=float, default=4.0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    result = asyncio.run(run(args.seconds, args.delay))
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
