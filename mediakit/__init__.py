"""Small pieces the media libraries share (ground floor: imports nothing of ours).

- :class:`HearingClock`: seconds since an instant, advancing monotonically; the recording
  places frames on it and the transcript dates its segments with it.
- :func:`close_source`: close a frame source, whether a tap or an async generator.
"""

from __future__ import annotations

from .clock import HearingClock
from .sources import close_source

__all__ = ["HearingClock", "close_source"]
