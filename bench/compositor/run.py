"""``python -m bench.compositor.run``: CPU of the courtroom compositor + its encoders.

N inputs (640x360, 25 fps, moving textured content, plus a 48 kHz tone each) are fed as
decoded frames into one ``Compositor`` (1280x720, 25 fps, H.264 + Opus), in this process.
The input frames are made before the clock starts and replayed in a loop, so the process
CPU is the compositor's (the event loop's share is shown apart). Nothing goes on a network.

Per run: CPU-seconds per second of the whole process (getrusage) and of each thread
(/proc/self/task), output fps, dropped output frames, bitrate, the load average and how
busy the rest of the machine was (from /proc/stat, minus this process).
Writes ``bench/results/compositor.json`` and prints the markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import resource
import sys
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import numpy as np

from hearing_server.media.compositor import Compositor, CompositorConfig
from hearing_server.media.taps import EncodedFrame

RESULTS = Path(__file__).resolve().parents[1] / "results"
TARGET_CPU = 0.75  # CPU-s/s for 9 inputs at 25 fps (issue 5)
BUSY_OTHERS = 0.5  # CPU-s/s used by other processes above which a run does not count
TICKS = os.sysconf("SC_CLK_TCK")
ROLES = [
    ("judge", None, "王建国"),
    ("clerk", None, "赵书记员"),
    ("party", "plaintiff", "张三"),
    ("party", "defendant", "李四"),
    ("counsel", None, "钱律师"),
    ("counsel", None, "孙律师"),
    ("witness", None, "周证人"),
    ("expert", None, "吴鉴定人"),
    ("interpreter", None, "郑翻译"),
]


# --- inputs ------------------------------------------------------------------------------


def make_clip(index: int, frames: int, w: int = 640, h: int = 360) -> list[av.VideoFrame]:
    """A loop of ``frames`` pictures: a textured gradient panning right and a bright box
    bouncing around, different per input (motion everywhere, like a camera that moves)."""
    rng = np.random.default_rng(index)
    texture = rng.integers(0, 60, (h, w * 2, 1), dtype=np.uint8)
    xs = np.linspace(0, 1, w * 2, dtype=np.float32)[None, :, None]
    ys = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    hue = np.array([(index * 67) % 256, (index * 131 + 80) % 256, (index * 29 + 160) % 256])
    base = (xs * hue + ys * (255 - hue)) * 0.7
    wide = np.clip(base + texture, 0, 255).astype(np.uint8)
    clip = []
    for k in range(frames):
        shift = (k * 8) % w
        rgb = np.ascontiguousarray(wide[:, shift : shift + w])
        bx = int((w - 120) * (0.5 + 0.5 * np.sin(2 * np.pi * k / frames + index)))
        by = int((h - 120) * (0.5 + 0.5 * np.cos(2 * np.pi * k / frames + index)))
        rgb[by : by + 120, bx : bx + 120] = (250, 250, 250)
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        clip.append(frame)
    return clip


def make_tone(index: int) -> list[av.AudioFrame]:
    """One second of a quiet tone (s16 stereo 48 kHz, 20 ms frames) like a decoded tap."""
    freq = 300 + 90 * index
    t = np.arange(48_000) / 48_000
    pcm = (np.sin(2 * np.pi * freq * t) * 0.05 * 32767).astype(np.int16)
    out = []
    for start in range(0, 48_000, 960):
        block = np.repeat(pcm[start : start + 960], 2).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(block, format="s16", layout="stereo")
        frame.sample_rate = 48_000
        out.append(frame)
    return out


async def paced(frames: list[Any], fps: float, phase: float) -> AsyncIterator[Any]:
    """Yield ``frames`` in a loop at ``fps`` on a deadline clock (no drift)."""
    start = time.monotonic() + phase
    i = 0
    while True:
        delay = start + i / fps - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        yield frames[i % len(frames)]
        i += 1


# --- measurement -----------------------------------------------------------------------


def thread_cpu() -> dict[int, float]:
    """CPU seconds of every thread of this process, by native thread id."""
    out: dict[int, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as fh:
                text = fh.read()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / TICKS
    return out


def machine_jiffies() -> tuple[int, int]:
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, total


def process_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def wait_quiet(below: float, max_wait: float) -> float:
    """Wait until the machine (all CPUs) is less than ``below`` busy over 2 s, at most
    ``max_wait`` s; returns the last busy fraction seen."""
    deadline = time.monotonic() + max_wait
    while True:
        b0, t0 = machine_jiffies()
        time.sleep(2)
        b1, t1 = machine_jiffies()
        busy = (b1 - b0) / max(1, t1 - t0)
        if busy < below or time.monotonic() > deadline:
            return busy


@dataclass
class RunConfig:
    inputs: int
    layout: str
    seconds: float
    warmup: float
    fps: int
    preset: str
    threads: int


async def run_once(cfg: RunConfig) -> dict[str, Any]:
    clips = [make_clip(i, 50) for i in range(cfg.inputs)]
    tones = [make_tone(i) for i in range(cfg.inputs)]
    comp = Compositor(
        CompositorConfig(
            fps=cfg.fps,
            layout=cfg.layout,  # type: ignore[arg-type]
            court="北京市朝阳区人民法院",
            case_number="(2026)京0105民初1234号",
            title="张三诉李四民间借贷纠纷",
            x264_preset=cfg.preset,
            x264_threads=cfg.threads,
        )
    )
    counts = {"video": 0, "audio": 0, "video_bytes": 0}

    def sink(frame: EncodedFrame) -> None:
        counts[frame.kind] += 1
        if frame.kind == "video":
            counts["video_bytes"] += len(frame.payload)

    comp.add_sink(sink)
    for i in range(cfg.inputs):
        role, side, name = ROLES[i % len(ROLES)]
        comp.add_participant(
            f"p{i}",
            name,
            role,
            paced(clips[i], 25, i * 0.004),
            paced(tones[i], 50, i * 0.002),
            side=side,
        )
    await comp.start()
    await asyncio.sleep(cfg.warmup)

    main_tid = threading.get_native_id()
    comp_tids = {t.native_id for t in comp._threads}  # bench-only peek: the worker threads
    st0 = (comp.stats.video_frames_out, comp.stats.video_frames_dropped)
    c0, th0, m0, w0 = process_cpu(), thread_cpu(), machine_jiffies(), time.monotonic()
    n0 = dict(counts)
    load0 = os.getloadavg()
    await asyncio.sleep(cfg.seconds)
    c1, th1, m1, w1 = process_cpu(), thread_cpu(), machine_jiffies(), time.monotonic()
    n1 = dict(counts)
    st1 = (comp.stats.video_frames_out, comp.stats.video_frames_dropped)
    load1 = os.getloadavg()
    stats = comp.stats
    await comp.close()

    wall = w1 - w0
    per_thread = {tid: th1[tid] - th0.get(tid, 0.0) for tid in th1}
    event_loop = per_thread.get(main_tid, 0.0) / wall
    workers = sum(v for tid, v in per_thread.items() if tid in comp_tids) / wall
    other_threads = (
        sum(v for tid, v in per_thread.items() if tid not in comp_tids and tid != main_tid) / wall
    )
    cpus = os.cpu_count() or 1
    machine_busy = (m1[0] - m0[0]) / max(1, m1[1] - m0[1]) * cpus  # CPU-s/s, all processes
    cpu = (c1 - c0) / wall
    return {
        "inputs": cfg.inputs,
        "layout": cfg.layout,
        "fps_target": cfg.fps,
        "preset": cfg.preset,
        "x264_threads": cfg.threads,
        "window_s": round(wall, 2),
        "cpu_s_per_s": round(cpu, 3),
        "event_loop_cpu_s_per_s": round(event_loop, 3),
        "compositor_threads_cpu_s_per_s": round(workers, 3),
        "other_threads_cpu_s_per_s": round(other_threads, 3),
        "output_fps": round((n1["video"] - n0["video"]) / wall, 2),
        "audio_packets_per_s": round((n1["audio"] - n0["audio"]) / wall, 2),
        "video_kbps": round((n1["video_bytes"] - n0["video_bytes"]) * 8 / wall / 1000, 1),
        "dropped_frames": st1[1] - st0[1],
        "dropped_frames_total": stats.video_frames_dropped,
        "compose_ms": round(stats.compose_ms, 2),
        "encode_ms": round(stats.encode_ms, 2),
        "errors": stats.errors,
        "loadavg_before": [round(v, 2) for v in load0],
        "loadavg_after": [round(v, 2) for v in load1],
        "other_processes_cpu_s_per_s": round(max(0.0, machine_busy - cpu), 3),
        # the rest of the machine took more than a quarter of it: figures are skewed
        "machine_busy": machine_busy - cpu > BUSY_OTHERS,
    }


def markdown(runs: list[dict[str, Any]]) -> str:
    lines = [
        "| inputs | layout | preset | CPU-s/s (process) | of which: compositor threads "
        "(compose, encode, audio) / other threads / event loop | output fps | dropped "
        "| video kbit/s | compose / encode ms | other processes CPU-s/s "
        "| load avg (1 min, before) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r['inputs']} | {r['layout']} | {r['preset']} | **{r['cpu_s_per_s']:.2f}** | "
            f"{r['compositor_threads_cpu_s_per_s']:.2f} / "
            f"{r['other_threads_cpu_s_per_s']:.2f} / "
            f"{r['event_loop_cpu_s_per_s']:.2f} | {r['output_fps']:.1f} | "
            f"{r['dropped_frames']} | {r['video_kbps']:.0f} | "
            f"{r['compose_ms']:.1f} / {r['encode_ms']:.1f} | "
            f"{r['other_processes_cpu_s_per_s']:.2f}{' (busy)' if r['machine_busy'] else ''} | "
            f"{r['loadavg_before'][0]:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--inputs", type=int, nargs="+", default=[4, 9])
    parser.add_argument("--layouts", nargs="+", default=["grid"])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--preset", default=CompositorConfig().x264_preset)
    parser.add_argument("--threads", type=int, default=CompositorConfig().x264_threads)
    parser.add_argument(
        "--quiet-below",
        type=float,
        default=0.25,
        help="wait for the machine to be less busy than this (0..1)",
    )
    parser.add_argument("--max-wait", type=float, default=120.0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "compositor.json")
    args = parser.parse_args()

    runs = []
    for _repeat, layout, n in itertools.product(range(args.repeats), args.layouts, args.inputs):
        busy = wait_quiet(args.quiet_below, args.max_wait)
        print(f"run {n} inputs, {layout} (machine {busy:.0%} busy before)", file=sys.stderr)
        cfg = RunConfig(n, layout, args.seconds, args.warmup, args.fps, args.preset, args.threads)
        result = asyncio.run(run_once(cfg))
        result["machine_busy_before"] = round(busy, 3)
        runs.append(result)
        print(json.dumps(result), file=sys.stderr)
    nine = [r for r in runs if r["inputs"] == 9 and r["fps_target"] == 25]
    counted = [r for r in nine if not r["machine_busy"]]
    target = {
        "what": "9 inputs (640x360) composed at 25 fps to 720p within 0.75 CPU-s/s, "
        "no dropped frames",
        "runs_counted": len(counted),
        "runs_not_counted_machine_busy": len(nine) - len(counted),
        "met": bool(counted)
        and all(
            r["cpu_s_per_s"] <= TARGET_CPU and r["dropped_frames"] == 0 and r["output_fps"] >= 24.5
            for r in counted
        ),
    }
    report = {
        "benchmark": "compositor",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.compositor.run " + " ".join(sys.argv[1:]),
        "machine": {
            "nproc": os.cpu_count(),
            "cpu_model": _cpu_model(),
            "kernel": platform.release(),
            "python": platform.python_version(),
            "pyav": av.__version__,
            "ffmpeg": ".".join(map(str, av.ffmpeg_version_info))
            if isinstance(av.ffmpeg_version_info, tuple)
            else str(av.ffmpeg_version_info),
        },
        "runs": runs,
        "target": target,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(markdown(runs))
    verdict = "met" if target["met"] else "NOT met"
    if not counted:
        verdict = "not measured (the machine was busy in every 9-input run: run again)"
    print(f"\ntarget {verdict}: {target['what']}")
    print(f"results: {args.out}")


def _cpu_model() -> str:
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


if __name__ == "__main__":
    main()
