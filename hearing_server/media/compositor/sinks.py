"""The compositor's outputs: what a sink is, and the fan-out that hands it frames.

A sink is a plain callable taking one frame, and that is the whole interface:

- an ``EncodedSink`` gets every ``EncodedFrame`` (H.264 and Opus), or only those of one
  kind: the courtroom display's tracks (``ServerSource.push``), which the recorder also
  records;
- a ``MixSink`` gets every 20 ms block of the audio mix before encoding (s16 mono 48 kHz),
  for a consumer that encodes audio its own way (e.g. AAC for the composite recording).

Sinks are called on the event loop, never on a worker thread, so that a sink may call
loop-bound code; a sink must not block, and its exceptions are logged without removing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import av

from ..taps import EncodedFrame, MediaKind

log = logging.getLogger(__name__)

EncodedSink = Callable[[EncodedFrame], None]
MixSink = Callable[[av.AudioFrame], None]


class Sinks:
    """The registered sinks. ``add``/``add_mix`` run on the event loop; ``emit``/``emit_mix``
    run on the worker threads and hop to the loop given to ``attach``."""

    def __init__(self) -> None:
        # Replaced whole on every change, never mutated: delivery iterates a stable list
        # even when a sink removes itself.
        self._encoded: list[tuple[EncodedSink, MediaKind | None]] = []
        self._mix: list[MixSink] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver on ``loop`` from now on; until then emitted frames are dropped."""
        self._loop = loop

    def add(self, sink: EncodedSink, kind: MediaKind | None) -> Callable[[], None]:
        entry = (sink, kind)
        self._encoded = [*self._encoded, entry]

        def remove() -> None:
            self._encoded = [e for e in self._encoded if e is not entry]

        return remove

    def add_mix(self, sink: MixSink) -> Callable[[], None]:
        self._mix = [*self._mix, sink]

        def remove() -> None:
            self._mix = [s for s in self._mix if s is not sink]

        return remove

    def emit(self, frame: EncodedFrame) -> None:
        """From a worker thread: hand ``frame`` to the sinks on the event loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed under us
            loop.call_soon_threadsafe(self._deliver, frame)

    def emit_mix(self, frame: av.AudioFrame) -> None:
        """From the audio thread: hand a block of the mix to the mix sinks, if any."""
        if self._mix and self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._deliver_mix, frame)

    def _deliver(self, frame: EncodedFrame) -> None:
        for sink, kind in self._encoded:
            if kind is not None and kind != frame.kind:
                continue
            try:
                sink(frame)
            except Exception:
                log.exception("compositor sink %r failed", sink)

    def _deliver_mix(self, frame: av.AudioFrame) -> None:
        for sink in self._mix:
            try:
                sink(frame)
            except Exception:
                log.exception("compositor mix sink %r failed", sink)
