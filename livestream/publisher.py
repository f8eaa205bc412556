"""The broadcast delay, the judge's cut and the playlist viewers read.

A finished segment is *withheld* (in ``withheld/``, which nothing serves) until ``delay_s``
has passed since it was finished; only then is it moved to ``public/`` and listed. So a cut
is retroactive: at the cut every withheld segment — up to ``delay_s`` of media from before
the judge pressed, which no viewer has seen — is deleted, as is the segment being written,
and anything still finishing afterwards.

While cut (and after a resume, until the first new segment has served its delay) viewers
get slate segments, published as the playlist's timeline needs them so that players never
run dry. Every switch between courtroom and slate is marked ``#EXT-X-DISCONTINUITY``.
See docs/livestream.md for the timeline of a cut.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .captions import CaptionTrack
from .replay import KEPT, PUBLIC, REPLAY_PLAYLIST, WITHHELD
from .segmenter import Segment

LIVE_WINDOW = 8  # segments listed in the live playlist


@dataclass(frozen=True, slots=True)
class Entry:
    """A published segment."""

    seq: int  # media sequence number
    name: str
    duration_s: float
    slate: bool
    discontinuity: bool  # #EXT-X-DISCONTINUITY before it
    start_s: float = 0.0  # media start on the stream clock (a slate: its own timeline)
    published_at: float = 0.0  # the publisher's clock when it was listed


@dataclass(slots=True)
class _Withheld:
    segment: Segment
    due: float  # monotonic time it may be published


class DelayedPublisher:
    """Loop-side state of one stream: withheld segments, published entries, the playlist.

    ``request_slate(offset_s, epoch)`` asks the segmenter for one slate segment; it comes
    back through ``add`` like any other.
    """

    def __init__(
        self,
        root: Path,
        *,
        delay_s: float,
        target_s: float,
        request_slate: Callable[[float, int], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.withheld_dir = root / WITHHELD
        self.public_dir = root / PUBLIC
        self.kept_dir = root / KEPT
        self.delay_s = delay_s
        self.target_s = target_s
        self._request_slate = request_slate
        self._clock = clock
        self.epoch = 0
        self.cut = False
        self._filling = False  # slates are published (cut, or resumed but not yet due)
        self._slate_pending = False
        self._slate_offset = 0.0
        self._timeline_end = 0.0  # monotonic time the published timeline runs out
        self._withheld: deque[_Withheld] = deque()
        self.entries: list[Entry] = []
        self.ended = False
        self.deleted = 0  # withheld segments deleted by cuts (and the stop)
        self._playlist = ""
        self._captions_playlist = ""
        self._published: set[str] = set()
        self.captions = CaptionTrack()

    def prepare(self) -> None:
        self.withheld_dir.mkdir(parents=True, exist_ok=True)
        self.public_dir.mkdir(parents=True, exist_ok=True)

    # -- segments in -------------------------------------------------------------------------

    def add(self, segment: Segment) -> None:
        """A segment the segmenter finished (a courtroom segment or a slate)."""
        if segment.slate:
            self._slate_pending = False
            if self.ended or not self._filling or segment.epoch != self.epoch:
                _delete(segment.path)
                return
            self._publish(segment)
            return
        if self.ended or self.cut or segment.epoch != self.epoch:
            # Finished after a cut or stop reached us: it is withheld for good.
            _delete(segment.path)
            self.deleted += 1
            return
        self._withheld.append(_Withheld(segment, self._clock() + self.delay_s))

    # -- the judge --------------------------------------------------------------------------

    def cut_now(self, at_s: float | None = None) -> int:
        """Withhold everything not yet published; returns how many segments were deleted.
        The caller tells the segmenter the new epoch (it drops the segment it writes).
        ``at_s``: the cut's moment on the stream clock (for the captions)."""
        starts = [w.segment.start_s for w in self._withheld]
        if at_s is not None:
            starts.append(at_s)
        if starts:
            self.captions.cut(min(starts))
        self.cut = True
        self.epoch += 1
        deleted = self._delete_withheld()
        self._filling = True
        self._slate_offset = 0.0
        return deleted

    def resume(self, at_s: float | None = None) -> None:
        """Courtroom media again; slates go on until the first new segment is due."""
        if at_s is not None:
            self.captions.resume(at_s)
        self.cut = False
        self.epoch += 1

    def stop(self) -> int:
        """The end: withheld segments are deleted, the playlist gets ``#EXT-X-ENDLIST``."""
        self.ended = True
        deleted = self._delete_withheld()
        self._render()
        return deleted

    def _delete_withheld(self) -> int:
        n = 0
        while self._withheld:
            _delete(self._withheld.popleft().segment.path)
            n += 1
        self.deleted += n
        return n

    # -- time passing -------------------------------------------------------------------------

    def tick(self) -> None:
        """Publish what has served its delay; ask for a slate when the timeline needs one."""
        if self.ended:
            return
        now = self._clock()
        while self._withheld and self._withheld[0].due <= now:
            self._publish(self._withheld.popleft().segment)
        if self._filling and not self._slate_pending and now >= self._timeline_end - self.target_s:
            self._slate_pending = True
            self._request_slate(self._slate_offset, self.epoch)
            self._slate_offset += self.target_s

    def _publish(self, segment: Segment) -> None:
        if not segment.slate:
            self._filling = False  # the courtroom is back (or never left)
        previous = self.entries[-1] if self.entries else None
        discontinuity = previous is not None and (
            previous.slate != segment.slate or _epoch_of(previous.name) != _epoch_of(segment.name)
        )
        target = self.public_dir / segment.name
        os.replace(segment.path, target)
        # Its captions (an empty WebVTT for a slate), written before it is listed.
        vtt = (
            self.captions.empty()
            if segment.slate
            else self.captions.segment(segment.start_s, segment.duration_s)
        )
        _write_atomically(self.public_dir / caption_name(segment.name), vtt)
        self._published.add(segment.name)
        self._published.add(caption_name(segment.name))
        seq = previous.seq + 1 if previous else 0
        now = self._clock()
        self.entries.append(
            Entry(
                seq,
                segment.name,
                segment.duration_s,
                segment.slate,
                discontinuity,
                start_s=segment.start_s,
                published_at=now,
            )
        )
        self._timeline_end = max(self._timeline_end, now) + segment.duration_s
        self._render()

    # -- what viewers read ----------------------------------------------------------------------

    @property
    def playlist(self) -> str | None:
        """The live playlist, or None before anything was published."""
        return self._playlist or None

    @property
    def captions_playlist(self) -> str | None:
        """The WebVTT media playlist twin of ``playlist``."""
        return self._captions_playlist or None

    def is_published(self, name: str) -> bool:
        """Whether ``name`` (a segment or its WebVTT) was published."""
        return name in self._published

    def _render(self) -> None:
        if not self.entries:
            return
        window = self.entries[-LIVE_WINDOW:]
        sequence = sum(
            1 for e in self.entries[: len(self.entries) - len(window)] if e.discontinuity
        )
        self._playlist = render_playlist(
            window, discontinuity_sequence=sequence, target_s=self.target_s, ended=self.ended
        )
        self._captions_playlist = render_playlist(
            [replace(e, name=caption_name(e.name)) for e in window],
            discontinuity_sequence=sequence,
            target_s=self.target_s,
            ended=self.ended,
        )
        # Also on disk, for a deployment whose nginx serves public/ directly (docs).
        _write_atomically(self.public_dir / "index.m3u8", self._playlist)
        _write_atomically(self.public_dir / "captions.m3u8", self._captions_playlist)
        _write_atomically(self.public_dir / "master.m3u8", MASTER_PLAYLIST)

    def retire(self) -> None:
        """After the stop: the courtroom segments that were published and their WebVTT move
        to ``kept/`` with ``replay.m3u8`` (VOD); ``public/`` goes whole (live playlists,
        slates), so nothing of the stream stays where a web server serves files from disk.
        Whether the replay goes back to ``public/`` is the owner's call (``replay.py``)."""
        if self.kept_dir.exists():
            shutil.rmtree(self.kept_dir)
        text = self.replay_playlist()
        if text is not None:
            self.kept_dir.mkdir(parents=True)
            for e in self.entries:
                if e.slate:
                    continue
                for name in (e.name, caption_name(e.name)):
                    with contextlib.suppress(FileNotFoundError):
                        os.replace(self.public_dir / name, self.kept_dir / name)
            _write_atomically(self.kept_dir / REPLAY_PLAYLIST, text)
        if self.public_dir.exists():
            shutil.rmtree(self.public_dir)

    def replay_playlist(self) -> str | None:
        """A VOD playlist of the courtroom segments that were published (no slates)."""
        real = [e for e in self.entries if not e.slate]
        if not real:
            return None
        entries = []
        for i, e in enumerate(real):
            gap = i > 0 and (real[i - 1].seq != e.seq - 1 or e.discontinuity)
            entries.append(Entry(e.seq, e.name, e.duration_s, False, gap))
        return render_playlist(
            entries, discontinuity_sequence=0, target_s=self.target_s, ended=True, vod=True
        )


def render_playlist(
    entries: list[Entry],
    *,
    discontinuity_sequence: int,
    target_s: float,
    ended: bool,
    vod: bool = False,
) -> str:
    """An HLS media playlist (RFC 8216) of ``entries``."""
    target = max([math.ceil(target_s)] + [math.ceil(e.duration_s) for e in entries])
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{target}",
        f"#EXT-X-MEDIA-SEQUENCE:{entries[0].seq if entries else 0}",
        f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}",
    ]
    if vod:
        lines.append("#EXT-X-PLAYLIST-TYPE:VOD")
    for e in entries:
        if e.discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append(f"#EXTINF:{e.duration_s:.3f},")
        lines.append(e.name)
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


MASTER_PLAYLIST = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="字幕 Captions",LANGUAGE="zh",DEFAULT=NO,\
AUTOSELECT=NO,URI="captions.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=3000000,CODECS="avc1.42c01f,mp4a.40.2",SUBTITLES="subs"
index.m3u8
"""


def caption_name(segment_name: str) -> str:
    """``000000001.ts`` → ``000000001.vtt``."""
    return segment_name.rsplit(".", 1)[0] + ".vtt"


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _epoch_of(name: str) -> str:
    return name[:3]


def _delete(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
