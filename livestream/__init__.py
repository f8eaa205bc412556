"""Livestream of public hearings: HLS segments from the courtroom composite, a broadcast
delay and the judge's retroactive cut (docs/livestream.md). Never imports hearing_server."""

from .captions import CaptionTrack, Cue
from .publisher import (
    LIVE_WINDOW,
    MASTER_PLAYLIST,
    DelayedPublisher,
    Entry,
    caption_name,
    render_playlist,
)
from .replay import (
    REPLAY_PLAYLIST,
    publish_replay,
    replay_dir,
    tidy_stopped,
    withhold_replay,
)
from .segmenter import Segment, Segmenter
from .slate import SLATE_LINES, SlateTemplate, encode_slate
from .stream import LiveStream, StreamOptions

__all__ = [
    "LIVE_WINDOW",
    "MASTER_PLAYLIST",
    "REPLAY_PLAYLIST",
    "SLATE_LINES",
    "CaptionTrack",
    "Cue",
    "DelayedPublisher",
    "Entry",
    "LiveStream",
    "Segment",
    "Segmenter",
    "SlateTemplate",
    "StreamOptions",
    "caption_name",
    "encode_slate",
    "publish_replay",
    "render_playlist",
    "replay_dir",
    "tidy_stopped",
    "withhold_replay",
]
