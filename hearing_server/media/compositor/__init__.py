"""The courtroom composite: one 1280x720 view of the hearing room and a mix of its audio,
encoded once (H.264 constrained baseline + Opus) for every consumer.

Inputs are decoded frames as async iterators (``MediaRouter.open_decoded_tap`` gives
them; tests give generators); outputs are ``EncodedFrame`` objects handed to sinks. The
compositor knows nothing of the router, signaling or recording: ``create_app`` wires it.

Who runs where:
- the event loop runs the public ``Compositor`` (``compositor``) and one small task per
  input that only stores the newest frame or queues audio (``participants``);
- a video thread ticks at ``fps`` on the clock shared with the audio thread (``clock``,
  ``frame_loop``) and composes each frame from the newest input frames (``compose``,
  with ``layout`` for where tiles go and ``draw`` for the pixels and text);
- an encoder thread runs libx264 beside the composer (``encoder``);
- an audio thread ticks every 20 ms: resample, mix, limit, encode Opus (``audio_loop``,
  with ``audio`` for the mix itself);
- encoded frames go back to the event loop and to the sinks there (``sinks``), so sinks
  may call loop-bound code such as ``ServerSource.push``.
"""

from .compositor import Compositor
from .config import (
    AUDIO_CODEC,
    H264_PROFILE_LEVEL_ID,
    VIDEO_CODEC,
    CompositorConfig,
    CompositorStats,
    TileState,
)
from .layout import Layout
from .sinks import EncodedSink, MixSink

__all__ = [
    "AUDIO_CODEC",
    "H264_PROFILE_LEVEL_ID",
    "VIDEO_CODEC",
    "Compositor",
    "CompositorConfig",
    "CompositorStats",
    "EncodedSink",
    "Layout",
    "MixSink",
    "TileState",
]
