"""Mandarin benchmark (issue 25): Whisper base from its PyPI packages on real Mandarin speech.

1. Batch, per pass: every recording of the shared Mandarin set (``mandarin_speech_set``:
   AISHELL-1/-2 read speech and WenetSpeech spontaneous speech, with reference text), 0.3 s
   of silence each side, given to ``recognize`` alone with the hearing's prompt
   (:func:`transcription.chinese.court_prompt`): the live pass (beam 1) and the final pass
   (beam 5). Character error rate per set (punctuation removed, after t2s), RTF per pass,
   and whether every output is in Simplified characters.
2. Live through the pipeline: the read set spoken by one participant, 20 ms Opus-decoded
   frames paced in real time, language "zh" and the prompt, interim captions every 1 s:
   caption latency (end of speech to the final caption), the engine's RTF, and the CER of
   the pipeline's segments against batch recognition of the same audio by the same pass.

Run from the checkout (no network is used; the model is joined into a temporary data dir
unless ``--data-dir``):

    python -m bench.transcription.mandarin [--compute-types int8,float32] [--skip-live]

Writes bench/results/transcription-mandarin.json and prints the tables for
docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from transcription import (
    STT,
    Caption,
    Decoding,
    HearingClock,
    PipelineSettings,
    Speaker,
    TranscriptionPipeline,
    TranscriptSegment,
)
from transcription.chinese import ChineseText, cer, court_prompt
from transcription.engines import FasterWhisperSettings
from transcription.engines.process import ProcessSTT
from transcription.settings import TranscriptionSettings
from transcription.stt import SAMPLE_RATE
from transcription.testing import (
    FrameSource,
    MandarinUtterance,
    mandarin_speech_set,
    opus_frames,
    read_wav,
    silence,
    to_16k,
)
from transcription.wer import WER

from .run import cpu_seconds, machine, percentile

ROOT = Path(__file__).resolve().parents[2]
NAMES = ("张三", "李四", "王法官", "赵书记员")
PROMPT = court_prompt(NAMES, court="北京市朝阳区人民法院")


def engine(data_dir: Path, compute_type: str, threads: int = 2) -> STT:
    """Whisper base in a child process at nice 5, as the server runs it."""
    return ProcessSTT(("faster-whisper", FasterWhisperSettings(
        model="base", data_dir=data_dir, compute_type=compute_type, language="zh",
        cpu_threads=threads, initial_prompt=None, guard_hallucinations=True)), nice=5)


def audio_of(u: MandarinUtterance) -> np.ndarray:
    return to_16k(*read_wav(u.path))


async def batch(stt: STT, utterances: list[MandarinUtterance], beam: int) -> dict[str, Any]:
    await stt.prewarm()
    conv = ChineseText()
    per_set: dict[str, WER] = {}
    rows = []
    proc = audio_s = 0.0
    simplified = True
    for u in utterances:
        audio = np.concatenate([silence(0.3), audio_of(u), silence(0.3)])
        t0 = time.perf_counter()
        event = await stt.recognize(audio, language="zh",
                                    decoding=Decoding(prompt=PROMPT, beam_size=beam))
        spent = time.perf_counter() - t0
        proc += spent
        audio_s += audio.size / SAMPLE_RATE
        score = cer(u.reference, event.text, conv)
        per_set[u.kind] = per_set.get(u.kind, WER(0, 0)) + score
        simplified = simplified and conv.simplified(event.text) == event.text
        # The references stay with the recordings (shared test data), not in the results.
        rows.append({"file": u.name, "set": u.kind,
                     "hypothesis": event.text, "cer": round(score.rate, 3),
                     "seconds": round(spent, 2)})
    return {
        "beam": beam,
        "rtf": round(proc / audio_s, 3),
        "seconds_per_call": round(proc / len(utterances), 2),
        "cer": {k: {"rate": round(v.rate, 3), "errors": v.errors, "chars": v.words}
                for k, v in per_set.items()},
        "all_simplified": simplified,
        "utterances": rows,
    }


async def live(stt: STT, utterances: list[MandarinUtterance]) -> dict[str, Any]:
    """The read set, one speaker, frames in real time through the pipeline (beam 1)."""
    read = [u for u in utterances if u.kind == "read"]
    chunks: list[np.ndarray] = [silence(0.5)]
    turns: list[tuple[float, float]] = []
    t = 0.5
    for u in read:
        audio = audio_of(u)
        chunks += [audio, silence(1.2)]
        turns.append((t, t + audio.size / SAMPLE_RATE))
        t += audio.size / SAMPLE_RATE + 1.2
    frames = opus_frames(np.concatenate(chunks), SAMPLE_RATE)
    await stt.prewarm()
    clock = HearingClock()
    finals: list[tuple[Caption, float]] = []
    segments: list[TranscriptSegment] = []

    async def on_segment(seg: TranscriptSegment) -> int:
        segments.append(seg)
        return len(segments)

    async def on_caption(cap: Caption) -> None:
        if cap.final:
            finals.append((cap, clock.now()))

    base = TranscriptionSettings().pipeline_settings()
    settings = PipelineSettings(language="zh", decoding=Decoding(prompt=PROMPT),
                                late_after_s=base.late_after_s, stream=base.stream)
    pipeline = TranscriptionPipeline("bench-zh", stt, clock, on_segment=on_segment,
                                     on_caption=on_caption, settings=settings)
    before = (stt.stats.processing_s, stt.stats.audio_s)
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    origin = clock.now()
    handle = pipeline.add_participant(FrameSource(frames, realtime=True),
                                      Speaker("p-party", "张三", "party"))
    await handle.wait()
    await pipeline.aclose()
    cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
    latencies = []
    for cap, at in finals:
        ends = [origin + e for s, e in turns if origin + s <= cap.end]
        if ends:
            latencies.append(at - max(ends))
    conv = ChineseText()
    hyp = "".join(s.text for s in sorted(segments, key=lambda s: s.start))
    score = cer("".join(u.reference for u in read), hyp, conv)
    proc = stt.stats.processing_s - before[0]
    audio_s = stt.stats.audio_s - before[1]
    return {
        "audio_s": round(t, 1),
        "wall_s": round(wall, 1),
        "cpu_s_per_s": round(cpu / wall, 3),
        "engine_rtf_of_recognised_audio": round(proc / audio_s, 3) if audio_s else None,
        "caption_latency_p50_s": round(percentile(latencies, 0.5), 3),
        "caption_latency_p95_s": round(percentile(latencies, 0.95), 3),
        "caption_latency_max_s": round(max(latencies), 3) if latencies else None,
        "finals": len(finals),
        "interim": pipeline.stats.interim,
        "late": pipeline.stats.late,
        "cer": round(score.rate, 3),
        "errors": score.errors,
        "chars": score.words,
        "hypothesis": hyp,
    }


def tables(result: dict[str, Any]) -> str:
    lines = ["| compute | pass | RTF | s per call | CER read | CER spontaneous | Simplified |",
             "|---|---|---|---|---|---|---|"]
    for ct, passes in result["batch"].items():
        for name, p in passes.items():
            c = p["cer"]
            read = c.get("read", {})
            spon = c.get("spontaneous", {})
            lines.append(
                f"| {ct} | {name} (beam {p['beam']}) | {p['rtf']} | {p['seconds_per_call']} | "
                f"{read.get('rate')} ({read.get('errors')}/{read.get('chars')}) | "
                f"{spon.get('rate')} ({spon.get('errors')}/{spon.get('chars')}) | "
                f"{'yes' if p['all_simplified'] else 'NO'} |")
    lv = result.get("live")
    if lv:
        lines += ["", "| live, read set through the pipeline | value |", "|---|---|",
                  f"| audio / wall | {lv['audio_s']} s / {lv['wall_s']} s |",
                  f"| engine RTF on recognised audio | {lv['engine_rtf_of_recognised_audio']} |",
                  f"| CPU-s per s (server + engine) | {lv['cpu_s_per_s']} |",
                  f"| caption latency p50 / p95 / max | {lv['caption_latency_p50_s']} / "
                  f"{lv['caption_latency_p95_s']} / {lv['caption_latency_max_s']} s |",
                  f"| finals / interim / late | {lv['finals']} / {lv['interim']} / "
                  f"{lv['late']} |",
                  f"| CER through the pipeline (batch, same pass) | {lv['cer']} "
                  f"({lv['errors']}/{lv['chars']}) |"]
    return "\n".join(lines)


async def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--compute-types", default="int8,float32")
    ap.add_argument("--skip-live", action="store_true")
    ap.add_argument("--skip-batch", action="store_true")
    ap.add_argument("--data-dir", type=Path)
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/transcription-mandarin.json")
    args = ap.parse_args(argv)
    utterances = mandarin_speech_set()
    if not utterances:
        print("no Mandarin test data (../shared/testdata/mandarin)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir or Path(tmp)
        result: dict[str, Any] = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "load_before": os.getloadavg(),
            "prompt": PROMPT,
            "batch": {},
        }
        for ct in args.compute_types.split(","):
            stt = engine(data_dir, ct)
            try:
                if not args.skip_batch:
                    result["batch"][ct] = {
                        "live": await batch(stt, utterances, 1),
                        "final": await batch(stt, utterances, 5),
                    }
                if not args.skip_live and ct == args.compute_types.split(",")[0]:
                    result["live"] = await live(stt, utterances)
            finally:
                await stt.aclose()
        result["load_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    print(tables(result))
    print(f"load {result['load_before']} -> {result['load_after']}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
