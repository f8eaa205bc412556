"""Transcription benchmark (issue 6, item 7).

1. Engines, batch: every utterance of the synthetic set (flite voices kal, kal16, slt, rms,
   awb x the eight court sentences) and of the real-speech set (pocketsphinx-testdata) is
   given to the engine's ``recognize`` one at a time: real-time factor (engine seconds per
   audio second) and word error rate per voice / set.
2. Four speakers in turn, live: four participants (slt, kal16, awb, rms), every
   microphone sending 20 ms Opus-decoded frames in real time, each speaker saying the eight
   sentences in rounds, through the pipeline with the default engine: CPU used by the whole
   process (CPU-s per s), the engine's real-time factor, caption latency (end of speech ->
   final caption delivered to the caption callback) p50/p95, late captions, WER per voice.
3. The real-speech set through the pipeline (decoded frames in, as fast as possible): WER.

Run from the checkout (no network is used):

    /tmp/venv/bin/python -m bench.transcription.run [--rounds 8] [--skip-live]
        [--engines faster-whisper,pocketsphinx] [--model-dir DIR]

Writes bench/results/transcription.json and prints the markdown table for
docs/performance.md. Other work on the machine skews every figure: the load average before
and after is recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from transcription import (
    STT,
    Caption,
    HearingClock,
    Speaker,
    TranscriptionPipeline,
    TranscriptionSettings,
    TranscriptSegment,
    create_engine,
)
from transcription.engines import FasterWhisperSettings, FasterWhisperSTT
from transcription.settings import DEFAULT_PROMPT
from transcription.stt import SAMPLE_RATE
from transcription.testing import (
    COURT_SENTENCES,
    FrameSource,
    ManualClock,
    load_utterance,
    opus_frames,
    real_speech_set,
    silence,
    speech_frames,
    synthesize,
    to_16k,
)
from transcription.wer import WER, corpus_wer, wer

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results"
VOICES = ("kal", "kal16", "slt", "rms", "awb")
LIVE = (
    ("p-judge", "Judge", "judge", "slt"),
    ("p-party", "Party", "party", "kal16"),
    ("p-counsel", "Counsel", "counsel", "awb"),
    ("p-witness", "Witness", "witness", "rms"),
)


def cpu_seconds() -> float:
    """CPU time of this process and of its live children (the engine process)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    total = r.ru_utime + r.ru_stime
    tick = os.sysconf("SC_CLK_TCK")
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:  # ppid
            total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


def machine() -> dict[str, Any]:
    model = "unknown"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model,
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def make_engine(name: str, model_dir: Path | None) -> STT:
    if name == "faster-whisper" and model_dir is not None:
        return FasterWhisperSTT(
            FasterWhisperSettings(model_dir=model_dir, language="en", initial_prompt=DEFAULT_PROMPT)
        )
    return create_engine(TranscriptionSettings(engine=name))


async def batch(engine: STT, sets: dict[str, list[tuple[str, np.ndarray]]]) -> dict[str, Any]:
    await engine.prewarm()
    out: dict[str, Any] = {"engine": engine.name, "sets": {}}
    total_audio = total_time = 0.0
    for name, items in sets.items():
        pairs, audio_s, spent = [], 0.0, 0.0
        for ref, samples in items:
            padded = np.concatenate([silence(0.3), samples, silence(0.3)])
            t0 = time.perf_counter()
            ev = await engine.recognize(padded)
            spent += time.perf_counter() - t0
            audio_s += padded.size / SAMPLE_RATE
            pairs.append((ref, ev.text))
        w = corpus_wer(pairs)
        out["sets"][name] = {
            "wer": round(w.rate, 4),
            "errors": w.errors,
            "words": w.words,
            "rtf": round(spent / audio_s, 3),
            "audio_s": round(audio_s, 1),
        }
        total_audio += audio_s
        total_time += spent
    out["rtf"] = round(total_time / total_audio, 3)
    out["audio_s"] = round(total_audio, 1)
    return out


async def live(engine: STT, rounds: int) -> dict[str, Any]:
    """Four participants speaking in turn, frames paced in real time."""
    tracks: dict[str, list[np.ndarray]] = {pid: [silence(0.5)] for pid, *_ in LIVE}
    said: dict[str, list[str]] = {pid: [] for pid, *_ in LIVE}
    turns: list[tuple[str, float, float]] = []
    t = 0.5
    for k in range(rounds):
        for i, (pid, _, _, voice) in enumerate(LIVE):
            text = COURT_SENTENCES[(k + 2 * i) % len(COURT_SENTENCES)]
            audio = to_16k(*synthesize(text, voice))
            dur = audio.size / SAMPLE_RATE
            for other, chunks in tracks.items():
                chunks.append(audio if other == pid else silence(dur))
                chunks.append(silence(1.0))
            said[pid].append(text)
            turns.append((pid, t, t + dur))
            t += dur + 1.0
    frames = {
        pid: opus_frames(np.concatenate(chunks), SAMPLE_RATE) for pid, chunks in tracks.items()
    }
    await engine.prewarm()
    clock = HearingClock()
    finals: list[tuple[Caption, float]] = []
    segments: list[TranscriptSegment] = []

    async def on_segment(seg: TranscriptSegment) -> int:
        segments.append(seg)
        return len(segments)

    async def on_caption(cap: Caption) -> None:
        if cap.final:
            finals.append((cap, clock.now()))

    settings = TranscriptionSettings().pipeline_settings()
    pipeline = TranscriptionPipeline(
        "bench", engine, clock, on_segment=on_segment, on_caption=on_caption, settings=settings
    )
    engine_before = (engine.stats.processing_s, engine.stats.audio_s)
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    origin = clock.now()
    handles = [
        pipeline.add_participant(FrameSource(frames[pid], realtime=True), Speaker(pid, name, role))
        for pid, name, role, _ in LIVE
    ]
    lags: list[float] = []
    while not all(h.done for h in handles):
        t0 = time.perf_counter()
        await asyncio.sleep(0.05)
        lags.append(time.perf_counter() - t0 - 0.05)
    await pipeline.aclose()
    cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0

    # Caption latency: from the end of the speech (the turn's end on the hearing clock) to
    # the final caption's delivery. Captions are matched to turns by speaker and order.
    by_pid: dict[str, list[tuple[Caption, float]]] = {}
    for cap, at in sorted(finals, key=lambda x: x[0].start):
        by_pid.setdefault(cap.participant_id, []).append((cap, at))
    latencies: list[float] = []
    per_pid_turns: dict[str, list[tuple[float, float]]] = {}
    for pid, start, end in turns:
        per_pid_turns.setdefault(pid, []).append((start, end))
    for pid, caps in by_pid.items():
        for cap, at in caps:
            # The turn this caption's speech ends in (closest turn end before caption end).
            ends = [origin + e for s, e in per_pid_turns[pid] if origin + s <= cap.end]
            if ends:
                latencies.append(at - max(ends))
    per_voice: dict[str, Any] = {}
    ordered = sorted(segments, key=lambda s: s.start)
    for pid, _, _, voice in LIVE:
        w = wer(" ".join(said[pid]), " ".join(s.text for s in ordered if s.participant_id == pid))
        per_voice[voice] = {"wer": round(w.rate, 4), "errors": w.errors, "words": w.words}
    attributed = [s.participant_id for s in ordered] == [pid for pid, _, _ in turns]
    proc = engine.stats.processing_s - engine_before[0]
    audio = engine.stats.audio_s - engine_before[1]
    return {
        "speakers": len(LIVE),
        "turns": len(turns),
        "audio_s": round(t, 1),
        "wall_s": round(wall, 1),
        "cpu_s_per_s": round(cpu / wall, 3),
        "engine_rtf_of_recognised_audio": round(proc / audio, 3) if audio else None,
        "engine_s_per_hearing_s": round(proc / wall, 3),
        "caption_latency_p50_s": round(percentile(latencies, 0.5), 3),
        "caption_latency_p95_s": round(percentile(latencies, 0.95), 3),
        "caption_latency_max_s": round(max(latencies), 3) if latencies else None,
        "finals": len(finals),
        "late": pipeline.stats.late,
        "interim": pipeline.stats.interim,
        "attributed_correctly": attributed,
        "segments": len(segments),
        "wer_per_voice": per_voice,
        "loop_lag_max_s": round(max(lags), 3) if lags else None,
        "loop_lag_p99_s": round(percentile(lags, 0.99), 3) if lags else None,
    }


async def real_through_pipeline(engine: STT) -> dict[str, Any]:
    utterances = real_speech_set()
    segments: list[TranscriptSegment] = []

    async def on_segment(seg: TranscriptSegment) -> int:
        segments.append(seg)
        return len(segments)

    pipeline = TranscriptionPipeline(
        "bench-real",
        engine,
        ManualClock(),
        on_segment=on_segment,
        settings=TranscriptionSettings().pipeline_settings(),
    )
    frames = speech_frames([load_utterance(u) for u in utterances], gap_s=1.2)
    handle = pipeline.add_participant(FrameSource(frames), Speaker("p", "Reader", "witness"))
    await handle.wait()
    await pipeline.aclose()
    hyp = " ".join(s.text for s in sorted(segments, key=lambda s: s.start))
    w: WER = wer(" ".join(u.reference for u in utterances), hyp)
    return {
        "wer": round(w.rate, 4),
        "errors": w.errors,
        "words": w.words,
        "utterances": len(utterances),
        "hypothesis": hyp,
    }


def synthetic_sets() -> dict[str, list[tuple[str, np.ndarray]]]:
    sets = {f"flite-{v}": [(s, to_16k(*synthesize(s, v))) for s in COURT_SENTENCES] for v in VOICES}
    sets["real"] = [(u.reference, to_16k(*load_utterance(u))) for u in real_speech_set()]
    return sets


def table(result: dict[str, Any]) -> str:
    lines = ["| engine | set | RTF | WER | errors/words |", "|---|---|---|---|---|"]
    for eng in result["engines"]:
        for name, s in eng["sets"].items():
            lines.append(
                f"| {eng['engine']} | {name} | {s['rtf']:.3f} | {s['wer']:.3f} | "
                f"{s['errors']}/{s['words']} |"
            )
        lines.append(f"| {eng['engine']} | **all** | **{eng['rtf']:.3f}** | | |")
    out = "\n".join(lines)
    if "live" in result:
        lv = result["live"]
        out += "\n\n| 4 speakers in turn, real time (default engine) | value |\n|---|---|\n"
        rows = [
            ("audio / wall", f"{lv['audio_s']} s / {lv['wall_s']} s"),
            ("CPU, server + engine process (CPU-s per s)", lv["cpu_s_per_s"]),
            ("engine RTF (recognised audio)", lv["engine_rtf_of_recognised_audio"]),
            (
                "caption latency p50 / p95 / max",
                f"{lv['caption_latency_p50_s']} / {lv['caption_latency_p95_s']} / "
                f"{lv['caption_latency_max_s']} s",
            ),
            ("final captions / late / interim", f"{lv['finals']} / {lv['late']} / {lv['interim']}"),
            ("every turn attributed to its speaker", lv["attributed_correctly"]),
            (
                "WER per voice",
                ", ".join(f"{v} {d['wer']:.3f}" for v, d in lv["wer_per_voice"].items()),
            ),
            ("event-loop lag p99 / max", f"{lv['loop_lag_p99_s']} / {lv['loop_lag_max_s']} s"),
        ]
        out += "\n".join(f"| {k} | {v} |" for k, v in rows)
    if "real_pipeline" in result:
        rp = result["real_pipeline"]
        out += (
            f"\n\nReal speech through the pipeline (decoded Opus frames in): WER "
            f"{rp['wer']:.3f} ({rp['errors']}/{rp['words']})"
        )
    return out


async def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engines", default="faster-whisper,pocketsphinx")
    ap.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="a faster-whisper model directory instead of the bundled one",
    )
    ap.add_argument("--rounds", type=int, default=8, help="rounds of the live scenario")
    ap.add_argument("--skip-live", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS / "transcription.json")
    args = ap.parse_args(argv)

    result: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(
            [
                Path(sys.executable).name,
                "-m",
                "bench.transcription.run",
                *(argv if argv is not None else sys.argv[1:]),
            ]
        ),
        "machine": machine(),
        "load_before": os.getloadavg(),
        "engines": [],
    }
    sets = synthetic_sets()
    for name in args.engines.split(","):
        engine = make_engine(name, args.model_dir)
        result["engines"].append(await batch(engine, sets))
        await engine.aclose()
        print(f"batch {name} done", file=sys.stderr)
    default = create_engine(TranscriptionSettings())
    if not args.skip_live:
        result["live"] = await live(default, args.rounds)
        print("live done", file=sys.stderr)
    result["real_pipeline"] = await real_through_pipeline(default)
    await default.aclose()
    result["load_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(table(result))
    print(f"\nload average before {result['load_before']}, after {result['load_after']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
