"""Composing one frame of the view: the canvas, the header, and every participant's tile
(scaled video, or a name card; the speaker's border, the "video interrupted" banner and
the caption label). Runs on the video thread only, apart from ``refresh_header`` before
the threads start.

Each input is scaled (swscale) once per new frame and tile size, copied into the canvas
with numpy, and the cached text overlays are blended on top.
"""

from __future__ import annotations

import time
from datetime import datetime

import av
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from .config import CompositorConfig, TileKind, TileState
from .draw import (
    BACKGROUND,
    CARD_BACKGROUND,
    SPEAKER_BORDER,
    TILE_BACKGROUND,
    Overlay,
    Planes,
    TextRenderer,
    blit,
    fill,
    frame_border,
    render_frozen_banner,
    render_header,
    render_label,
    render_name_card,
    rgb_to_yuv,
    solid_planes,
)
from .layout import (
    CANVAS_H,
    CANVAS_W,
    HEADER_H,
    Layout,
    Rect,
    Seat,
    TilePlacement,
    fit_rect,
    place,
    role_label,
    titled_presiding,
)
from .participants import Latest, Room, Scaled, Slot


def planes_of(frame: av.VideoFrame) -> Planes:
    """numpy views (no copy) of a yuv420p frame's planes, without the line padding."""
    out = []
    for plane in frame.planes:
        arr = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
        out.append(arr[: plane.height, : plane.width])
    return out[0], out[1], out[2]


class Composer:
    def __init__(self, config: CompositorConfig, room: Room) -> None:
        self.config = config
        self._room = room
        self._text = TextRenderer(config.font_path)
        self._reformatter = VideoReformatter()
        self._background = solid_planes(CANVAS_W, CANVAS_H, BACKGROUND)
        self._header_key: tuple[str, ...] = ()
        self._banners: dict[tuple[int, int], Overlay] = {}
        self._tile_bg = rgb_to_yuv(TILE_BACKGROUND)
        self._card_bg = rgb_to_yuv(CARD_BACKGROUND)
        self._render_until = 0.0
        self.tiles: tuple[TileState, ...] = ()  # of the last composed frame

    def refresh_header(self) -> None:
        """Redraw the header into the background if the hearing info or clock changed."""
        clock = datetime.now(self.config.clock_tz).strftime("%Y-%m-%d %H:%M:%S")
        info = self._room.info
        key = (*info, clock)
        if key == self._header_key:
            return
        court, case_number, title = info
        header = render_header(self._text, court, case_number, title, clock, CANVAS_W, HEADER_H)
        blit(self._background, header, 0, 0)
        self._header_key = key

    def compose(self, now: float) -> av.VideoFrame:
        """A new frame of the room as it is now; also sets ``tiles``."""
        room = self._room
        slots = room.snapshot()
        layout = room.layout
        seats = [Seat(s.pid, s.role, s.side, s.joined, s.beside) for s in slots.values()]
        presiding = titled_presiding(seats)
        speaker = room.speaker
        spotlight = room.spotlight
        exhibit = room.exhibit
        if exhibit is not None:
            # The evidence layout: the exhibit large, the people (the speaker among them)
            # in the strip beside it.
            slots[exhibit.pid] = exhibit
            seats.append(Seat(exhibit.pid, exhibit.role, None, 0, None))
            spotlight = exhibit.pid
        placements = place(layout, seats, speaker, spotlight)
        # text drawn this tick (new labels, cards) may take this long; the rest waits
        self._render_until = time.perf_counter() + 0.3 / self.config.fps
        self.refresh_header()

        frame = av.VideoFrame(CANVAS_W, CANVAS_H, "yuv420p")
        canvas = planes_of(frame)
        for dst, src in zip(canvas, self._background, strict=True):
            np.copyto(dst, src)
        tiles: list[TileState] = []
        for placement in placements:
            slot = slots[placement.pid]
            tiles.append(self._draw_tile(canvas, slot, placement, now, presiding, layout, speaker))
        self.tiles = tuple(tiles)
        return frame

    def _draw_tile(
        self,
        canvas: Planes,
        slot: Slot,
        placement: TilePlacement,
        now: float,
        presiding: str | None,
        layout: Layout,
        speaker: str | None,
    ) -> TileState:
        rect = placement.rect
        latest = slot.latest
        kind: TileKind
        video_rect: Rect | None = None
        if latest is None or not slot.video_live:
            kind = "name_card"
            card = self._name_card(slot, rect)
            if card is None:
                fill(canvas, rect.x, rect.y, rect.w, rect.h, self._card_bg)
            else:
                blit(canvas, card, rect.x, rect.y)
        else:
            planes, video_rect = self._scaled(slot, latest, rect)
            if video_rect != rect:  # letterbox / pillarbox
                fill(canvas, rect.x, rect.y, rect.w, rect.h, self._tile_bg)
            blit(canvas, planes, video_rect.x, video_rect.y)
            if slot.still:
                kind = "exhibit"
            elif now - latest.received > self.config.frozen_after_s:
                kind = "frozen"
            else:
                kind = "video"
        is_speaker = slot.pid == speaker and layout is not Layout.SPEAKER_FOLLOW
        if is_speaker and rect.w >= 64:
            frame_border(canvas, rect.x, rect.y, rect.w, rect.h, 4, SPEAKER_BORDER)
        banner = self._banner(rect) if kind == "frozen" else None
        if banner is not None:
            banner.blend(
                canvas,
                rect.x + (rect.w - banner.width) // 2,
                rect.y + (rect.h - banner.height) // 2,
            )
        label = self._label(slot, rect, presiding)
        if label is not None:
            margin = 6 if rect.h >= 150 else 4
            label.blend(canvas, rect.x + margin, rect.y + rect.h - label.height - margin)
        return TileState(slot.pid, rect, video_rect, kind, placement.focus, slot.pid == speaker)

    def _scaled(self, slot: Slot, latest: Latest, rect: Rect) -> tuple[Planes, Rect]:
        """The newest frame scaled to fit ``rect``: once per new frame and tile size."""
        key = (latest.seq, rect.w, rect.h)
        cached = slot.scaled
        if cached is None or cached.key != key:
            src = latest.frame
            fitted = fit_rect(src.width, src.height, Rect(0, 0, rect.w, rect.h))
            out = self._reformatter.reformat(
                src, fitted.w, fitted.h, "yuv420p", interpolation=Interpolation.BILINEAR
            )
            cached = slot.scaled = Scaled(key, planes_of(out), (fitted.x, fitted.y), out)
        h, w = cached.planes[0].shape
        return cached.planes, Rect(rect.x + cached.offset[0], rect.y + cached.offset[1], w, h)

    # Text is drawn once per change and cached; when this tick's drawing budget is spent,
    # a missing picture waits for a later tick (a plain card, the previous label if it
    # fits, no banner yet) so that a layout switch never costs output frames.

    def _may_render(self) -> bool:
        return time.perf_counter() < self._render_until

    def _name_card(self, slot: Slot, rect: Rect) -> Planes | None:
        key = (rect.w, rect.h, slot.name)
        if slot.card is None or slot.card[0] != key:
            if not self._may_render():
                return None
            slot.card = (key, render_name_card(self._text, slot.name, rect.w, rect.h))
        return slot.card[1]

    def _label(self, slot: Slot, rect: Rect, presiding: str | None) -> Overlay | None:
        caption = slot.label_override or role_label(
            slot.role, slot.side, presiding=slot.pid == presiding
        )
        key = (caption, slot.name, slot.muted, rect.w, rect.h)
        if slot.label is None or slot.label[0] != key:
            if not self._may_render():
                old = slot.label[1] if slot.label is not None else None
                fits = old is not None and old.width <= rect.w - 8 and old.height <= rect.h - 8
                return old if fits else None
            overlay = render_label(self._text, caption, slot.name, slot.muted, rect.w, rect.h)
            slot.label = (key, overlay)
        return slot.label[1]

    def _banner(self, rect: Rect) -> Overlay | None:
        key = (rect.w, rect.h)
        banner = self._banners.get(key)
        if banner is None:
            if not self._may_render():
                return None
            banner = self._banners[key] = render_frozen_banner(self._text, rect.w, rect.h)
        return banner
