"""Speech fixtures for tests and benchmarks: synthetic speech (Debian ``flite``), real speech
(Debian ``pocketsphinx-testdata``; Mandarin: recordings from public speech corpora in the
workplace's shared test data, see :func:`mandarin_speech_set`), and decoded frames as the
media layer's decoded tap yields them (Opus-encoded then decoded: s16 stereo 48 kHz,
960-sample frames, pts in 1/48000), so what the tests feed has been through the same codec
as WebRTC audio."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiortc import MediaStreamTrack

from .audio import pcm16_to_samples
from .stt import SAMPLE_RATE, STT, Decoding, Samples, SpeechEvent

POCKETSPHINX_TESTDATA = Path("/usr/share/pocketsphinx/test/data")
FLITE_VOICES = ("kal", "slt", "rms", "awb")

# Short courtroom sentences: plain words, no numerals or compounds whose spelling is a
# matter of style, so the word error rate measures recognition.
COURT_SENTENCES = (
    "the witness arrived at the court on monday morning and spoke to the clerk",
    "please state your full name and address for the record",
    "the defendant signed the contract in the presence of two witnesses",
    "we ask the court to adjourn the hearing until next week",
    "i was standing near the door when the car stopped outside",
    "the plaintiff claims the goods were never delivered",
    "my client does not accept the valuation of the house",
    "the judge asked the expert to explain the report in simple words",
)


def have_flite() -> bool:
    return shutil.which("flite") is not None


def synthesize(text: str, voice: str = "slt") -> tuple[Samples, int]:
    """Speech for ``text`` from flite: (mono samples, their sample rate)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(out)], check=True,
                       capture_output=True, timeout=60)
        return read_wav(out)


def read_wav(path: Path) -> tuple[Samples, int]:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM")
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        if w.getnchannels() > 1:
            data = data.reshape(-1, w.getnchannels()).mean(axis=1).astype("<i2")
        return pcm16_to_samples(data), w.getframerate()


def read_raw16k(path: Path) -> tuple[Samples, int]:
    return pcm16_to_samples(path.read_bytes()), 16000


def silence(seconds: float, rate: int = SAMPLE_RATE) -> Samples:
    return np.zeros(int(seconds * rate), dtype=np.float32)


@dataclass(frozen=True, slots=True)
class Utterance:
    name: str
    reference: str
    path: Path


def real_speech_set() -> list[Utterance]:
    """Every recording in pocketsphinx-testdata that has a reference transcription:
    five LibriVox read-speech sentences, five 'cards' commands and 'go forward ten meters'."""
    base = POCKETSPHINX_TESTDATA
    out: list[Utterance] = []
    for folder, listing in (("librivox", "transcription"), ("cards", "cards.transcription")):
        for line in (base / folder / listing).read_text().splitlines():
            line = line.strip()
            if not line:
                continue
            text, _, rest = line.rpartition("(")
            name = rest.rstrip(")").strip()
            words = text.replace("<s>", "").replace("</s>", "").strip()
            out.append(Utterance(f"{folder}/{name}", words, base / folder / f"{name}.wav"))
    out.append(Utterance("goforward", "go forward ten meters", base / "goforward.raw"))
    return out


def _mandarin_testdata() -> Path:
    # As the face photos (facekit.testing.faces_dir): $HEARING_TEST_MANDARIN, else beside the
    # checkout, else beside the main checkout (a clone or worktree elsewhere).
    configured = os.environ.get("HEARING_TEST_MANDARIN")
    if configured:
        return Path(configured)
    beside = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "mandarin"
    return beside if beside.is_dir() else Path("/work/shared/testdata/mandarin")


MANDARIN_TESTDATA = _mandarin_testdata()
"""Real Mandarin recordings with their reference text (``references.tsv``), provenance and
licences in ``PROVENANCE.md``; beside the project's checkout, never inside it."""


@dataclass(frozen=True, slots=True)
class MandarinUtterance:
    name: str
    reference: str
    path: Path
    kind: str  # "read" (clear read speech) or "spontaneous"


def mandarin_speech_set(folder: Path = MANDARIN_TESTDATA) -> list[MandarinUtterance]:
    """The Mandarin recordings, each checked against the folder's SHA256SUMS; [] if the
    folder is absent (callers skip, saying where the data is expected)."""
    listing = folder / "references.tsv"
    if not listing.is_file():
        return []
    sums = {}
    for line in (folder / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        sums[name.strip()] = digest
    out = []
    for line in listing.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, kind, reference = line.split("\t")
        path = folder / name
        if hashlib.sha256(path.read_bytes()).hexdigest() != sums.get(name):
            raise ValueError(f"{path} does not match {folder / 'SHA256SUMS'}")
        out.append(MandarinUtterance(name, reference, path, kind))
    return out


def load_utterance(u: Utterance) -> tuple[Samples, int]:
    return read_raw16k(u.path) if u.path.suffix == ".raw" else read_wav(u.path)


def to_48k_stereo_s16(samples: Samples, rate: int) -> av.AudioFrame:
    pcm = (np.clip(samples, -1, 1 - 1 / 32768) * 32768).astype("<i2")
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate
    out = av.AudioResampler(format="s16", layout="stereo", rate=48000).resample(frame)
    parts = [f.to_ndarray().reshape(-1) for f in out]
    stereo = np.concatenate(parts).astype(np.int16) if parts else np.zeros(0, dtype=np.int16)
    result = av.AudioFrame.from_ndarray(stereo.reshape(1, -1), format="s16", layout="stereo")
    result.sample_rate = 48000
    return result


def opus_frames(samples: Samples, rate: int, *, start_pts: int = 0) -> list[av.AudioFrame]:
    """``samples`` through an Opus encoder and decoder, as 20 ms decoded frames with pts.

    The settings match aiortc's OpusEncoder/OpusDecoder (libopus, voip, 96 kb/s, s16 stereo
    48 kHz), so these are the frames a decoded tap yields for that audio.
    """
    enc = av.CodecContext.create("libopus", "w")
    enc.bit_rate = 96000
    enc.format = "s16"
    enc.layout = "stereo"
    enc.sample_rate = 48000
    enc.time_base = Fraction(1, 48000)
    enc.options = {"application": "voip"}
    dec = av.CodecContext.create("libopus", "r")
    dec.format = "s16"
    dec.layout = "stereo"
    dec.sample_rate = 48000
    big = to_48k_stereo_s16(samples, rate)
    chunker = av.AudioResampler(format="s16", layout="stereo", rate=48000, frame_size=960)
    pcm_frames = chunker.resample(big) + chunker.resample(None)
    out: list[av.AudioFrame] = []
    pts = start_pts
    packets: list[Any] = []
    for f in pcm_frames:
        f.pts = None
        packets += enc.encode(f)
    packets += enc.encode(None)
    for pkt in packets:
        pkt.pts = pts
        pkt.time_base = Fraction(1, 48000)
        for frame in dec.decode(pkt):
            frame.pts = pts
            frame.time_base = Fraction(1, 48000)
            out.append(frame)
        pts += 960
    return out


def speech_frames(parts: Sequence[tuple[Samples, int]], gap_s: float = 1.0,
                  *, start_pts: int = 0) -> list[av.AudioFrame]:
    """Several utterances separated by ``gap_s`` of silence, as one stream of frames."""
    pieces: list[Samples] = [silence(0.5)]
    for samples, rate in parts:
        pieces.append(to_16k(samples, rate))
        pieces.append(silence(gap_s))
    return opus_frames(np.concatenate(pieces), SAMPLE_RATE, start_pts=start_pts)


def to_16k(samples: Samples, rate: int) -> Samples:
    if rate == SAMPLE_RATE:
        return samples
    pcm = (np.clip(samples, -1, 1 - 1 / 32768) * 32768).astype("<i2")
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate
    r = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    out = r.resample(frame) + r.resample(None)
    return np.concatenate([f.to_ndarray().reshape(-1) for f in out]).astype(np.float32)


class FrameSource:
    """An async iterator of frames, like a decoded tap (with ``dropped`` and ``close``).

    ``realtime``: yield each frame at its pts (relative to the first), as a live publisher
    would; otherwise as fast as the consumer takes them (yielding to the loop every frame).
    """

    def __init__(self, frames: Iterable[av.AudioFrame], *, realtime: bool = False,
                 speed: float = 1.0) -> None:
        self._frames = list(frames)
        self._realtime = realtime
        self._speed = speed
        self.dropped = 0
        self.closed = False

    def __aiter__(self) -> AsyncIterator[av.AudioFrame]:
        return self._run()

    async def _run(self) -> AsyncIterator[av.AudioFrame]:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        first_pts: float | None = None
        for frame in self._frames:
            if self.closed:
                return
            if self._realtime and frame.pts is not None and frame.time_base is not None:
                t = float(frame.pts * frame.time_base)
                if first_pts is None:
                    first_pts = t
                due = t0 + (t - first_pts + frame.samples / frame.sample_rate) / self._speed
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)
            yield frame

    def close(self) -> None:
        self.closed = True


@dataclass(frozen=True, slots=True)
class Turn:
    """One utterance of a :class:`Script`: ``start``/``end`` bound the speech itself (not the
    silence around it in the source audio), in seconds from the start of the script."""

    speaker: str
    text: str
    start: float
    end: float


@dataclass
class Script:
    """What several microphones say: one 16 kHz mono signal per speaker, all the same length
    (silence while someone else speaks), and the turns taken."""

    signals: dict[str, Samples] = field(default_factory=dict)
    turns: list[Turn] = field(default_factory=list)

    @classmethod
    def silent(cls, speakers: Iterable[str], seconds: float) -> Script:
        """Every speaker's microphone starts with ``seconds`` of silence."""
        return cls({s: silence(seconds) for s in speakers})

    @classmethod
    def alongside(cls, scripts: Iterable[Script]) -> Script:
        """Scripts played at the same time (people talking over each other), padded with
        silence to the longest."""
        parts = list(scripts)
        longest = max(s.size for p in parts for s in p.signals.values())
        signals = {
            k: np.concatenate([s, np.zeros(longest - s.size, np.float32)])
            for p in parts
            for k, s in p.signals.items()
        }
        turns = sorted((t for p in parts for t in p.turns), key=lambda t: t.start)
        return cls(signals, turns)

    @property
    def duration(self) -> float:
        """Length of the script in seconds."""
        return max((s.size for s in self.signals.values()), default=0) / SAMPLE_RATE

    def said_by(self, speaker: str) -> str:
        """Everything ``speaker`` says, in order: the reference for their WER."""
        return " ".join(t.text for t in self.turns if t.speaker == speaker)

    def say(self, speaker: str, audio: Samples, text: str, *, trim_s: float | None = None) -> None:
        """``speaker`` says ``audio`` (16 kHz) now; everyone else is silent for as long.

        ``trim_s``: cut the source's leading and trailing silence down to this much (flite
        pads each sentence with ~0.2 s), so the gaps between turns are the script's own.
        """
        start, end = speech_bounds(audio)
        if trim_s is not None:
            lo = max(0, int((start - trim_s) * SAMPLE_RATE))
            hi = min(audio.size, int((end + trim_s) * SAMPLE_RATE))
            audio = audio[lo:hi]
            start, end = start - lo / SAMPLE_RATE, end - lo / SAMPLE_RATE
        t = self.duration
        for key, signal in self.signals.items():
            part = audio if key == speaker else np.zeros(audio.size, np.float32)
            self.signals[key] = np.concatenate([signal, part])
        self.turns.append(Turn(speaker, text, t + start, t + end))

    def pause(self, seconds: float) -> None:
        """Everyone is silent for ``seconds``."""
        for key, signal in self.signals.items():
            self.signals[key] = np.concatenate([signal, silence(seconds)])


def speech_bounds(samples: Samples, rate: int = SAMPLE_RATE) -> tuple[float, float]:
    """(first, last) moment of speech in ``samples``, in seconds: 10 ms frames louder than
    -30 dB of the loudest frame and three times the noise floor (10th percentile), so a
    recording's room noise and flite's padding do not count as speech."""
    n = rate // 100
    usable = samples[: samples.size // n * n].reshape(-1, n)
    rms = np.sqrt(np.mean(usable.astype(np.float64) ** 2, axis=1))
    threshold = max(0.03 * float(rms.max()), 3.0 * float(np.percentile(rms, 10)))
    loud = np.nonzero(rms > threshold)[0]
    if loud.size == 0:
        return 0.0, samples.size / rate
    return float(loud[0] * n / rate), float((loud[-1] + 1) * n / rate)


class SpeechTrack(MediaStreamTrack):
    """A microphone for an aiortc client: plays ``samples`` (any rate, mono) as 20 ms s16
    48 kHz frames in real time, then silence for as long as it is asked for frames.

    ``started`` is the monotonic time the first frame was handed to the sender, so the wall
    time of any point of the script is ``started + seconds``; ``done`` is set once the last
    sample has been sent.
    """

    kind = "audio"
    FRAME = 960  # 20 ms at 48 kHz

    def __init__(self, samples: Samples, rate: int) -> None:
        super().__init__()
        pcm = (np.clip(samples, -1, 1 - 1 / 32768) * 32767).astype("<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = rate
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
        parts = resampler.resample(frame) + resampler.resample(None)
        self._pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in parts]).astype(np.int16)
        self._count = 0
        self.started: float | None = None
        self.done = asyncio.Event()

    @property
    def duration(self) -> float:
        return self._pcm.size / 48000

    async def recv(self) -> av.AudioFrame:
        loop = asyncio.get_running_loop()
        if self.started is None:
            self.started = loop.time()
        delay = self.started + self._count * 0.02 - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        n = self.FRAME
        chunk = self._pcm[self._count * n : (self._count + 1) * n]
        if chunk.size < n:
            chunk = np.concatenate([chunk, np.zeros(n - chunk.size, np.int16)])
            self.done.set()
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 48000
        frame.pts = self._count * n
        frame.time_base = Fraction(1, 48000)
        self._count += 1
        return frame


class ManualClock:
    """A hearing clock that tests move by hand (or that follows the loop's clock)."""

    def __init__(self, origin: datetime | None = None, start: float = 0.0) -> None:
        self._origin = origin or datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
        self.t = start

    @property
    def origin(self) -> datetime:
        return self._origin

    def now(self) -> float:
        return self.t


class DelayedSTT(STT):
    """A real engine made slow on purpose: each recognition waits ``delay_s`` first.

    For tests that need recognition to fall behind (a backlog at the close of a hearing)
    without depending on how fast the machine is.
    """

    def __init__(self, inner: STT, delay_s: float) -> None:
        super().__init__(name=f"delayed({inner.name})", capabilities=inner.capabilities)
        self.inner = inner
        self.delay_s = delay_s

    def _recognize_blocking(self, audio: Samples, language: str | None) -> SpeechEvent:
        raise AssertionError("DelayedSTT.recognize delegates")  # pragma: no cover

    async def prewarm(self) -> None:
        await self.inner.prewarm()

    @property
    def pending_requests(self) -> int:
        return self.inner.pending_requests

    async def recognize(
        self, audio: Samples, *, language: str | None = None, decoding: Decoding | None = None
    ) -> SpeechEvent:
        await asyncio.sleep(self.delay_s)
        return await self.inner.recognize(audio, language=language, decoding=decoding)

    async def aclose(self) -> None:
        await self.inner.aclose()
        await super().aclose()
