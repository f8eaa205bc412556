"""The audio thread: every 20 ms of the shared clock, take each participant's queued audio,
mix it (resample, sum the unmuted inputs, limit: ``audio.AudioMixer``), follow the
speaker, and encode the block with Opus for the sinks (the block itself goes to the mix
sinks too).
"""

from __future__ import annotations

import logging
import time
from fractions import Fraction

import av

from lifeline.priority import lower_this_thread

from ..taps import EncodedFrame
from .audio import BLOCK, SAMPLE_RATE, AudioMixer, SpeakerTracker
from .clock import TickClock
from .config import AUDIO_CODEC, CompositorConfig, CompositorStats
from .participants import Room
from .sinks import Sinks

log = logging.getLogger(__name__)

_MAX_LATE_BLOCKS = 2  # 40 ms late: skip ahead (the receivers conceal the gap)


def open_audio_encoder(bitrate: int) -> av.AudioCodecContext:
    enc = av.CodecContext.create("libopus", "w")
    enc.sample_rate = SAMPLE_RATE
    enc.layout = "mono"
    enc.format = "s16"
    enc.bit_rate = bitrate
    enc.time_base = Fraction(1, SAMPLE_RATE)
    enc.open()
    return enc


class AudioLoop:
    def __init__(
        self,
        config: CompositorConfig,
        *,
        room: Room,
        clock: TickClock,
        sinks: Sinks,
        stats: CompositorStats,
    ) -> None:
        self.config = config
        self._room = room
        self._clock = clock
        self._sinks = sinks
        self._stats = stats

    def run(self) -> None:
        """The audio thread."""
        lower_this_thread()
        try:
            enc = open_audio_encoder(self.config.audio_bitrate)
        except Exception:
            log.exception("cannot open the Opus encoder")
            self._stats.errors += 1
            self._clock.ready(False)
            return
        self._clock.ready(True)
        mixer = AudioMixer()
        tracker = SpeakerTracker()
        period = BLOCK / SAMPLE_RATE
        block = 0
        last_error_log = 0.0
        while (late := self._clock.wait_for_tick(block, period)) is not None:
            now, behind = late
            if behind >= _MAX_LATE_BLOCKS:
                self._stats.audio_blocks_dropped += behind
                block += behind
            try:
                self._block(enc, mixer, tracker, block, now)
            except Exception:
                self._stats.errors += 1
                if time.monotonic() - last_error_log > 5:
                    last_error_log = time.monotonic()
                    log.exception("composite audio block failed")
            block += 1

    def _block(
        self,
        enc: av.AudioCodecContext,
        mixer: AudioMixer,
        tracker: SpeakerTracker,
        block: int,
        now: float,
    ) -> None:
        slots = list(self._room.snapshot().values())
        present, unmuted = set(), set()
        for slot in slots:
            if not slot.has_audio:
                continue
            present.add(slot.pid)
            if not slot.muted:
                unmuted.add(slot.pid)
            queue = slot.audio_queue
            frames = []
            while queue:
                try:
                    frames.append(queue.popleft())
                except IndexError:
                    break
            mixer.feed(slot.pid, frames)
        pcm, _ = mixer.mix(present, unmuted)
        levels = mixer.levels()
        self._room.speaker = tracker.update({p: levels[p] for p in unmuted if p in levels}, now)
        st = self._stats
        st.audio_underruns = mixer.stats.underruns
        st.audio_limited_blocks = mixer.stats.limited_blocks

        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = block * BLOCK
        frame.time_base = Fraction(1, SAMPLE_RATE)
        self._sinks.emit_mix(frame)
        for packet in enc.encode(frame):
            payload = bytes(packet)
            if not payload:
                continue
            st.audio_packets_out += 1
            self._sinks.emit(
                EncodedFrame(
                    pid=self.config.pid,
                    track_id=f"{self.config.pid}-audio",
                    kind="audio",
                    codec=AUDIO_CODEC,
                    payload=payload,
                    rtp_timestamp=block * BLOCK,
                    clock_rate=SAMPLE_RATE,
                    keyframe=True,
                    arrival=time.monotonic(),
                )
            )
