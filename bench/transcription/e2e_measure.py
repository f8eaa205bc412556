"""What the end-to-end benchmark observes and how it turns that into figures.

- :class:`CaptionLog`: every ``caption`` push a client receives, stamped with its arrival
  (``loop.time()``, CLOCK_MONOTONIC: the same clock as ``SpeechTrack.started``).
- :class:`Drain`: reads and drops the audio a client receives (aiortc decodes every received
  track into an unbounded queue whether or not anyone reads it).
- :class:`CpuSnapshot`: CPU time of the server, its children (the speech-to-text process),
  this process and the whole machine, from /proc.
- :func:`analyse`: captions and transcript against the script's turns.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from bench.sfu.numbers import percentile, rounded
from bench.sfu.procstat import MachineCpu, descendants, process_cpu_seconds
from signaling.client import HearingClient
from transcription.wer import WER, wer

LATE_AFTER_S = 4.0  # the pipeline's own threshold for a late caption (PipelineSettings)


@dataclass(frozen=True, slots=True)
class Received:
    """A push and the loop time it reached the client."""

    at: float
    data: dict[str, Any]


@dataclass
class CaptionLog:
    """Captions in arrival order; ``follow(client)`` fills it until cancelled."""

    items: list[Received] = field(default_factory=list)
    last_at: float = 0.0

    async def follow(self, client: HearingClient) -> None:
        """Stamp each caption as the client records it (wakes on every new push)."""
        loop = asyncio.get_running_loop()
        seen = 0
        while True:
            await client.wait_for_event("caption", timeout=24 * 3600, start=seen)
            now = loop.time()
            events = client.events
            for name, data in events[seen:]:
                if name == "caption" and isinstance(data, dict):
                    self.items.append(Received(now, data))
                    self.last_at = now
            seen = len(events)

    @property
    def finals(self) -> list[Received]:
        """Final captions with text."""
        return [c for c in self.items if c.data.get("final") and c.data.get("text", "").strip()]

    @property
    def interim(self) -> int:
        """How many interim captions arrived."""
        return sum(1 for c in self.items if not c.data.get("final"))


class Drain:
    """Reads every track a client receives and drops the frames."""

    def __init__(self, client: HearingClient) -> None:
        self._client = client
        self._readers: dict[int, asyncio.Task[None]] = {}
        self._task = asyncio.get_running_loop().create_task(self._watch(), name="drain")

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            for received in list(self._client.received.values()):
                key = id(received.track)
                if key not in self._readers:
                    self._readers[key] = loop.create_task(_discard(received.track))
            await asyncio.sleep(0.25)

    async def stop(self) -> None:
        """Stop reading (idempotent)."""
        tasks = [self._task, *self._readers.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _discard(track: MediaStreamTrack) -> None:
    with contextlib.suppress(MediaStreamError):
        while True:
            await track.recv()


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds used so far, read at monotonic time ``at``."""

    at: float
    server: float
    children: dict[int, float]
    client: float
    machine: MachineCpu

    @classmethod
    def take(cls, server_pid: int) -> CpuSnapshot:
        """Read /proc now (the server and every live descendant, this process, the machine)."""
        children: dict[int, float] = {}
        for pid in descendants(server_pid):
            with contextlib.suppress(OSError):
                children[pid] = process_cpu_seconds(pid)
        me = resource.getrusage(resource.RUSAGE_SELF)
        return cls(
            at=time.monotonic(),
            server=process_cpu_seconds(server_pid),
            children=children,
            client=me.ru_utime + me.ru_stime,
            machine=MachineCpu.read(),
        )

    def rates_since(self, earlier: CpuSnapshot, nproc: int) -> dict[str, float]:
        """CPU-s per s of each part between ``earlier`` and this snapshot. A child that
        started in between counts from zero; one that ended in between is missing."""
        wall = self.at - earlier.at
        server = (self.server - earlier.server) / wall
        children = sum(v - earlier.children.get(pid, 0.0) for pid, v in self.children.items())
        children /= wall
        client = (self.client - earlier.client) / wall
        busy = self.machine.busy_fraction_since(earlier.machine) * nproc
        return {
            "window_s": round(wall, 1),
            "server_process": round(server, 3),
            "server_children": round(children, 3),
            "server_total": round(server + children, 3),
            "client_process": round(client, 3),
            "machine_busy": round(busy, 3),
            "other_processes": round(max(0.0, busy - server - children - client), 3),
        }


@dataclass(frozen=True, slots=True)
class WallTurn:
    """A turn placed on the monotonic clock, with its speaker's participant id."""

    speaker: str
    participant_id: str
    text: str
    start: float
    end: float


class HearingTime:
    """Maps the hearing clock (seconds since the hearing's actual start, the clock of
    caption and transcript times) to this machine's monotonic clock."""

    def __init__(self, actual_start: datetime) -> None:
        # The server's HearingClock reads the wall clock once and the monotonic clock after;
        # one machine, so the wall-minus-monotonic offset read here is the server's.
        self._offset = actual_start.timestamp() - (time.time() - time.monotonic())

    def monotonic(self, hearing_seconds: float) -> float:
        """The monotonic time of ``hearing_seconds``."""
        return hearing_seconds + self._offset


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return min(a1, b1) - max(a0, b0)


def best_turn(turns: Sequence[WallTurn], start: float, end: float) -> int:
    """Index of the turn overlapping [start, end] most (the nearest one if none does)."""
    return max(range(len(turns)), key=lambda i: _overlap(start, end, turns[i].start, turns[i].end))


def assign(
    turns: Sequence[WallTurn], finals: Sequence[Received], clock: HearingTime
) -> tuple[dict[int, list[Received]], int]:
    """Each final caption to the turn of its own speaker it overlaps most; also how many
    captions overlap some other speaker's turn more than any of their own speaker's turns
    (misattributed)."""
    by_turn: dict[int, list[Received]] = {}
    wrong = 0
    for cap in finals:
        start = clock.monotonic(float(cap.data["start"]))
        end = clock.monotonic(float(cap.data["end"]))
        pid = cap.data["participant_id"]
        if turns[best_turn(turns, start, end)].participant_id != pid:
            wrong += 1
        own = [i for i, t in enumerate(turns) if t.participant_id == pid]
        if own:
            i = own[best_turn([turns[j] for j in own], start, end)]
            by_turn.setdefault(i, []).append(cap)
    return by_turn, wrong


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50 / p95 / max, rounded to ms (None when empty)."""
    return {
        "p50_s": rounded(percentile(values, 50), 3),
        "p95_s": rounded(percentile(values, 95), 3),
        "max_s": rounded(max(values), 3) if values else None,
        "n": len(values),
    }


def _wer_json(w: WER) -> dict[str, Any]:
    return {"wer": round(w.rate, 4), "errors": w.errors, "words": w.words}


def analyse(
    turns: Sequence[WallTurn],
    captions: CaptionLog,
    transcript: dict[str, Any],
    clock: HearingTime,
    voices: dict[str, str],
) -> dict[str, Any]:
    """Latency, attribution and WER of one scenario.

    ``voices`` maps participant id to the label the WER is reported under (a flite voice).
    Latency of a turn: arrival of its last final caption at the client minus the end of its
    speech as sent (``SpeechTrack.started`` + the turn's end in the script).
    """
    finals = captions.finals
    by_turn, wrong = assign(turns, finals, clock)
    latencies: list[float] = []
    per_turn: list[dict[str, Any]] = []
    parts: dict[str, list[float]] = {"speech_end_to_segment_end": [], "server": [], "delivery": []}
    for i, caps in by_turn.items():
        last = max(caps, key=lambda c: c.at)
        latencies.append(last.at - turns[i].end)
        per_turn.append(
            {
                "turn": i,
                "speaker": turns[i].speaker,
                "speech_s": round(turns[i].end - turns[i].start, 2),
                "finals": len(caps),
                "latency_s": round(last.at - turns[i].end, 3),
            }
        )
        if last.data.get("latency") is not None:
            # Where the time went: the end the server gives the segment (its VAD keeps a
            # pad of audio after the last speech), the server's own latency from there,
            # and the push's way to the client.
            seg_end = clock.monotonic(float(last.data["end"]))
            sent = clock.monotonic(float(last.data["end"]) + float(last.data["latency"]))
            parts["speech_end_to_segment_end"].append(seg_end - turns[i].end)
            parts["server"].append(sent - seg_end)
            parts["delivery"].append(last.at - sent)
    server_latencies = [float(c.data["latency"]) for c in finals if c.data.get("latency")]
    segments = [
        s for s in transcript.get("segments", []) if s.get("status") == "ok" and s.get("text")
    ]
    per_voice: dict[str, Any] = {}
    total_caps, total_tr = WER(0, 0), WER(0, 0)
    for pid, label in voices.items():
        reference = " ".join(t.text for t in turns if t.participant_id == pid)
        said = sorted(
            (c for c in finals if c.data["participant_id"] == pid),
            key=lambda c: float(c.data["start"]),
        )
        stored = sorted(
            (s for s in segments if s["participant_id"] == pid), key=lambda s: float(s["start"])
        )
        w_caps = wer(reference, " ".join(c.data["text"] for c in said))
        w_tr = wer(reference, " ".join(s["text"] for s in stored))
        total_caps, total_tr = total_caps + w_caps, total_tr + w_tr
        per_voice[label] = {"captions": _wer_json(w_caps), "transcript": _wer_json(w_tr)}
    chain = transcript.get("chain", {})
    return {
        "turns": len(turns),
        "caption_latency": percentiles(latencies),
        "server_reported_latency": percentiles(server_latencies),
        "latency_parts": {k: percentiles(v) for k, v in parts.items()},
        "turns_without_final_caption": len(turns) - len(by_turn),
        "late_client": sum(1 for v in latencies if v > LATE_AFTER_S),
        "late_flagged": sum(1 for c in finals if c.data.get("late")),
        "finals": len(finals),
        "interim": captions.interim,
        "misattributed_finals": wrong,
        "all_attributed_correctly": wrong == 0 and len(by_turn) == len(turns),
        "wer": {
            "captions": _wer_json(total_caps),
            "transcript": _wer_json(total_tr),
            "per_voice": per_voice,
        },
        "transcript_segments": len(segments),
        "transcript_lines": len(transcript.get("segments", [])),
        "transcript_chain_intact": chain.get("intact"),
        "per_turn": sorted(per_turn, key=lambda d: int(d["turn"])),
    }
