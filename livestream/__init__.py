"""Livestream of public hearings: HLS segments from the courtroom composite, a broadcast
delay and the judge's retroactive cut (docs/livestream.md). Never imports hearing_server."""

from .publisher import LIVE_WINDOW, DelayedPublisher, Entry, render_playlist
from .segmenter import Segment, Segmenter
from .slate import SLATE_LINES, SlateTemplate, encode_slate
from .stream import LiveStream, StreamOptions

__all__ = [
    "LIVE_WINDOW",
    "SLATE_LINES",
    "DelayedPublisher",
    "Entry",
    "LiveStream",
    "Segment",
    "Segmenter",
    "SlateTemplate",
    "StreamOptions",
    "encode_slate",
    "render_playlist",
]
