"""Per-track fan-out: one publisher track's frames to every subscriber of it."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import RtpPacket

from .codecs import TrackCodec
from .events import MediaKind
from .frames import AudioSequencer, ForwardedFrame, VideoFrameAssembler, inspector_for
from .stats import MediaCounters
from .taps_impl import DecoderRegistry, TrackTaps
from .tasks import TaskOwner

logger = logging.getLogger(__name__)


FrameSink = Callable[[ForwardedFrame], bool]
"""Takes one forwarded frame; False if it could not be sent."""


class ForwardedOutput:
    """One forwarder's frames for one subscriber: handed on by a direct call to the sink
    connected to it (the subscriber's sender), nothing queued.

    Nothing is delivered until a sink is connected, so a subscriber that is still
    connecting gets no stale frames; the first connection calls ``on_start`` (the forwarder
    asks for a keyframe then).
    """

    def __init__(
        self, kind: MediaKind, track_id: str, on_start: Callable[[], None] | None = None
    ) -> None:
        self.kind = kind
        self.track_id = track_id
        self._on_start = on_start
        self._sink: FrameSink | None = None
        self._started = False
        self.ended = False

    @property
    def connected(self) -> bool:
        return self._sink is not None

    def connect(self, sink: FrameSink) -> None:
        """Deliver to ``sink`` from now on."""
        if self.ended:
            return
        self._sink = sink
        if not self._started:
            self._started = True
            if self._on_start is not None:
                self._on_start()

    def disconnect(self) -> None:
        self._sink = None

    def offer(self, frame: ForwardedFrame) -> bool:
        """Send ``frame`` on; False if it could not be (no sink, or the sink refused)."""
        sink = self._sink
        return sink is not None and sink(frame)

    def end(self) -> None:
        """No more frames, ever."""
        self.ended = True
        self._sink = None


class Sender(Protocol):
    """What a ``SenderTrack`` sends through (``aiortc_hooks.DirectSender``)."""

    ready: bool
    closed: bool

    def send(self, payloads: Sequence[bytes], timestamp: int) -> int: ...


class SenderTrack(MediaStreamTrack):
    """The track of one subscriber's sender (its msid); forwarded outputs are bound to it
    and unbound again without the sender noticing, and its direct sender sends what the
    bound output delivers.

    This is what lets a retired media section carry a returning publisher's track instead
    of a new section being added for every return: the sender, its SSRC and sequence
    numbers stay, only the source changes. Frames flow only while an output is bound,
    ``activate()`` was called (the client accepted the section) and the sender is ready
    (aiortc started it on a connected transport). RTP timestamps continue across a change
    of source (the new source is rebased on the wall clock), so the receiver sees one
    stream moving forward (Chromium drops a keyframe whose timestamp is older than what it
    already decoded).

    Nothing reads frames from this track (``recv``): the direct sender takes the place of
    aiortc's RTP task.
    """

    def __init__(
        self,
        kind: MediaKind,
        track_id: str,
        clock_rate: int,
        counters: MediaCounters,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.kind = kind
        self._track_id = track_id
        self._clock_rate = clock_rate
        self._counters = counters
        self._clock = clock
        self._source: ForwardedOutput | None = None
        self._active = False
        self._sender: Sender | None = None
        self._offset: int | None = None  # of the bound source's timestamps; None: not yet
        self._last_timestamp: int | None = None
        self._last_at = 0.0

    @property
    def id(self) -> str:
        return self._track_id

    @property
    def active(self) -> bool:
        return self._active and self._source is not None

    def use_sender(self, sender: Sender) -> None:
        """The direct sender that sends this track's frames."""
        self._sender = sender

    def sender_ready(self) -> None:
        """The sender was started (called by it)."""
        self._connect()

    def bind(self, source: ForwardedOutput, track_id: str) -> None:
        """Deliver ``source``'s frames from now on (inactive until ``activate``)."""
        if self._source is not None:
            self._source.disconnect()
        self._source = source
        self._track_id = track_id
        self._active = False
        self._offset = None

    def activate(self) -> None:
        self._active = True
        self._connect()

    def unbind(self) -> None:
        if self._source is not None:
            self._source.disconnect()
        self._source = None
        self._active = False

    def _connect(self) -> None:
        source, sender = self._source, self._sender
        if (
            source is not None
            and self._active
            and sender is not None
            and sender.ready
            and self.readyState == "live"
        ):
            source.connect(self._deliver)

    def _deliver(self, frame: ForwardedFrame) -> bool:
        sender = self._sender
        if sender is None or sender.closed:
            return False
        frame = self._rebase(frame)
        sent = sender.send(frame.payloads, frame.timestamp)
        if not sent:
            return False
        # (the payload bytes are counted by the sender, which sums them anyway)
        self._counters.forwarded_frames += 1
        self._counters.forwarded_packets += sent
        return True

    async def recv(self) -> ForwardedFrame:  # type: ignore[override]
        raise MediaStreamError  # never called: nothing reads this track

    def stop(self) -> None:
        self.unbind()
        super().stop()

    def _rebase(self, frame: ForwardedFrame) -> ForwardedFrame:
        now = self._clock()
        if self._offset is None:
            if self._last_timestamp is None:
                self._offset = 0
            else:
                elapsed = max(0.0, now - self._last_at)
                target = self._last_timestamp + max(1, round(elapsed * self._clock_rate))
                self._offset = target - frame.timestamp
        timestamp = frame.timestamp + self._offset
        self._last_timestamp, self._last_at = timestamp, now
        if self._offset == 0:
            return frame
        return dataclasses.replace(frame, timestamp=timestamp)


class _Output:
    __slots__ = ("need_keyframe", "output", "started")

    def __init__(self, output: ForwardedOutput, need_keyframe: bool) -> None:
        self.output = output
        self.need_keyframe = need_keyframe
        self.started = False  # has had its first frame: a subscriber still joining has not


def screen_stream_id(pid: str) -> str:
    """The stream a participant's shared screen arrives in at subscribers."""
    return f"{pid}~screen"


class TrackForwarder:
    """Receives one publisher track's RTP (``on_rtp``, called by aiortc's receive loop
    through the hooks) and fans complete frames out to subscriber tracks.

    Video subscribers start (and restart after loss or congestion) on a keyframe;
    keyframe requests go upstream as PLI, at most one per ``keyframe_throttle_s``
    (requests inside the window coalesce into one sent when it ends) — except that a
    subscriber whose sender starts just after a keyframe answered the last request may ask
    again after a quarter of the window.

    ``taps`` sees every frame too (encoded taps, the on-demand decoder); it never decodes
    on this path, only queues.
    """

    def __init__(
        self,
        *,
        publisher_pid: str,
        track_id: str,
        codec: TrackCodec,
        counters: MediaCounters,
        tasks: TaskOwner,
        send_pli: Callable[[int], Coroutine[Any, Any, None]],
        keyframe_throttle_s: float,
        gap_timeout_s: float,
        keyframe_retry_s: float = 1.0,
        decoders: DecoderRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
        screen: bool = False,
    ) -> None:
        self.publisher_pid = publisher_pid
        self.track_id = track_id
        # A shared screen (a second video track, presented as evidence): subscribers receive
        # it in its own stream (msid "<publisher>~screen"), apart from the camera.
        self.screen = screen
        self.codec = codec
        self.kind: MediaKind = codec.kind
        self.enabled = True
        #: complete frames received from the publisher (a DTX publisher sends fewer)
        self.frames_in = 0
        self._counters = counters
        self._tasks = tasks
        self._send_pli = send_pli
        self._throttle_s = keyframe_throttle_s
        # A request or its keyframe may be lost on a bad line (a PLI is one RTCP packet; a
        # keyframe is many): while a subscriber still waits, ask again after this long.
        self._retry_s = max(keyframe_retry_s, keyframe_throttle_s)
        self._retry_timer: asyncio.TimerHandle | None = None
        self._clock = clock
        self._outputs: dict[str, _Output] = {}
        # subscribers that do not get this (video) track for now: load shedding
        self._shed: set[str] = set()
        self._ssrc: int | None = None
        self._video = VideoFrameAssembler(inspector_for(codec.name), gap_timeout_s=gap_timeout_s)
        self._audio = AudioSequencer()
        self._last_pli: float | None = None
        self._pli_timer: asyncio.TimerHandle | None = None
        self._keyframe_wanted = False  # asked for before the publisher's SSRC was known
        # A keyframe came after the last PLI: that request is answered, so a subscriber that
        # could not receive that keyframe (it connected just after) need not wait out the
        # whole throttle window for the next one.
        self._pli_answered = True
        self._closed = False
        self.taps = TrackTaps(
            pid=publisher_pid,
            track_id=track_id,
            codec=codec,
            counters=counters,
            decoders=decoders if decoders is not None else DecoderRegistry(),
            request_keyframe=self.request_keyframe,
            clock=clock,
        )

    # --- publisher side (called from aiortc's receive path; must not block) ---------------

    def on_rtp(self, packet: RtpPacket) -> None:
        if self._closed:
            return
        counters = self._counters
        counters.received_packets += 1
        counters.received_bytes += len(packet.payload)
        if packet.ssrc != self._ssrc:
            first = self._ssrc is None
            self._ssrc = packet.ssrc
            self._video.reset()
            self._audio.reset()
            if not first:
                self._need_keyframe_everywhere()
                self.taps.on_new_stream()
            if self._keyframe_wanted:
                self.request_keyframe()
        if self.kind == "audio":
            frame = self._audio.push(packet.sequence_number, packet.timestamp, packet.payload)
            if frame is not None:
                self.forward(frame)
            return
        result = self._video.push(
            packet.sequence_number, packet.timestamp, bool(packet.marker), packet.payload
        )
        if result.lost:
            self._need_keyframe_everywhere()
            self.taps.on_discontinuity()
        for frame in result.frames:
            self.forward(frame)

    def forward(self, frame: ForwardedFrame) -> None:
        """One complete frame to every subscriber (unless muted) and to the taps."""
        self.frames_in += 1
        if frame.keyframe:
            self._pli_answered = True
        if self.enabled:
            self._fan_out(frame)
        self.taps.on_forwarded(frame, self.enabled)

    def _fan_out(self, frame: ForwardedFrame) -> None:
        waiting = joining = False
        shed = self._shed
        for pid, out in self._outputs.items():
            if not out.output.connected or (shed and pid in shed):
                continue
            if out.need_keyframe:
                if not frame.keyframe:
                    waiting = True
                    joining = joining or not out.started
                    continue
                out.need_keyframe = False
            out.started = True
            if not out.output.offer(frame):
                self._counters.dropped_frames += 1
                if self.kind == "video":
                    # a partial stream would only decode to garbage: restart on a keyframe
                    out.need_keyframe = True
                    waiting = True
        if waiting:
            self.request_keyframe(new_subscriber=joining)

    def _need_keyframe_everywhere(self) -> None:
        if self.kind != "video":
            return
        for out in self._outputs.values():
            out.need_keyframe = True
        if self._outputs:
            self.request_keyframe()

    # --- keyframe requests --------------------------------------------------------------

    def request_keyframe(self, *, new_subscriber: bool = False) -> None:
        """Ask the publisher for a keyframe, throttled.

        ``new_subscriber``: a subscriber that has not had its first frame yet is waiting; if
        a keyframe arrived since the last request, it missed that one (it was still
        connecting), and may ask again after a quarter of the window. Everything else
        (subscribers' PLIs, loss, congestion) waits for the whole window.
        """
        if self.kind != "video" or self._closed:
            return
        if self._ssrc is None:
            self._keyframe_wanted = True
            return
        self._keyframe_wanted = False
        now = self._clock()
        since = None if self._last_pli is None else now - self._last_pli
        if (
            since is None
            or since >= self._throttle_s
            or (new_subscriber and self._pli_answered and since >= self._throttle_s / 4)
        ):
            if self._pli_timer is not None:
                self._pli_timer.cancel()
                self._pli_timer = None
            self._send_now(now)
        elif self._pli_timer is None:
            delay = self._throttle_s - since
            self._pli_timer = asyncio.get_running_loop().call_later(delay, self._timer_fired)

    def _timer_fired(self) -> None:
        self._pli_timer = None
        if not self._closed:
            self._send_now(self._clock())

    def _send_now(self, now: float) -> None:
        assert self._ssrc is not None
        self._last_pli = now
        self._pli_answered = False
        self._counters.keyframe_requests_sent_upstream += 1
        self._tasks.spawn(self._send_pli(self._ssrc), name=f"pli:{self.track_id}")
        if self._retry_timer is not None:
            self._retry_timer.cancel()
        self._retry_timer = asyncio.get_running_loop().call_later(self._retry_s, self._retry)

    def _retry(self) -> None:
        """No keyframe since the last request: ask again if anyone is still waiting."""
        self._retry_timer = None
        if self._closed or self._pli_answered:
            return
        if any(
            out.need_keyframe and out.output.connected and pid not in self._shed
            for pid, out in self._outputs.items()
        ):
            self._counters.keyframe_requests_retried += 1
            self.request_keyframe()

    def _subscriber_started(self) -> None:
        self.request_keyframe(new_subscriber=True)

    def on_subscriber_keyframe_request(self) -> None:
        """A subscriber sent PLI/FIR for this track."""
        self._counters.keyframe_requests_received += 1
        self.request_keyframe()

    # --- subscriber side ------------------------------------------------------------------

    def attach(self, subscriber_pid: str) -> ForwardedOutput:
        """A new output for ``subscriber_pid`` (replacing any previous one)."""
        self.detach(subscriber_pid)
        # the keyframe is asked for when the subscriber's sender is connected: one asked
        # for now would arrive while the subscriber is still connecting, and be dropped
        track = ForwardedOutput(self.kind, self.track_id, on_start=self._subscriber_started)
        self._outputs[subscriber_pid] = _Output(track, need_keyframe=self.kind == "video")
        return track

    def detach(self, subscriber_pid: str) -> None:
        out = self._outputs.pop(subscriber_pid, None)
        if out is not None:
            out.output.end()

    def set_shed(self, subscriber_pid: str, shed: bool) -> None:
        """Stop (``shed``) or resume sending this video track to one subscriber, without
        renegotiation: the section stays, frames stop. Resuming starts on a keyframe."""
        if self.kind != "video" or shed == (subscriber_pid in self._shed):
            return
        out = self._outputs.get(subscriber_pid)
        if shed:
            self._shed.add(subscriber_pid)
            return
        self._shed.discard(subscriber_pid)
        if out is not None:
            out.need_keyframe = True
            self.request_keyframe()

    @property
    def stream_id(self) -> str:
        """The msid stream id subscribers receive this track in."""
        return screen_stream_id(self.publisher_pid) if self.screen else self.publisher_pid

    def set_enabled(self, enabled: bool) -> None:
        """Mute/unmute at the forwarding level (no renegotiation)."""
        if enabled == self.enabled:
            return
        self.enabled = enabled
        if enabled:
            self._need_keyframe_everywhere()
            self.taps.on_discontinuity()

    @property
    def subscriber_pids(self) -> list[str]:
        return list(self._outputs)

    @property
    def subscriber_count(self) -> int:
        """Subscribers this track is attached to (shed ones included)."""
        return len(self._outputs)

    def close(self) -> None:
        """End every output; later packets are ignored. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for timer in (self._pli_timer, self._retry_timer):
            if timer is not None:
                timer.cancel()
        self._pli_timer = self._retry_timer = None
        for out in self._outputs.values():
            out.output.end()
        self._outputs.clear()
        self.taps.close()
