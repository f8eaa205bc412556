"""Where each participant's tile goes in the composite view (pure geometry, no pixels).

The canvas is ``CANVAS_W`` x ``CANVAS_H`` with a header bar of ``HEADER_H`` at the top
(court, case number, clock); tiles share the area below it. Every tile is 16:9; a
participant's video is fitted inside its tile keeping its aspect ratio. All coordinates
and sizes are even, so 4:2:0 chroma planes line up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from hearing_server.core.hearing import Layout
from hearing_server.core.participant import PartySide, Role

CANVAS_W = 1280
CANVAS_H = 720
HEADER_H = 44
GAP = 4
MAX_TILES = 16  # grid up to 4x4; the strip of the focus layouts holds at most 15 others
# the strip under the focus tile may take at most this share of the content height
_STRIP_MAX_SHARE = 0.36
# ... and its tiles are at most 320x180, so the focus tile stays large with few others
_STRIP_TILE_MAX_H = 180


@dataclass(frozen=True, slots=True)
class Rect:
    x: int
    y: int
    w: int
    h: int

    @property
    def center(self) -> tuple[int, int]:
        return self.x + self.w // 2, self.y + self.h // 2


@dataclass(frozen=True, slots=True)
class TilePlacement:
    pid: str
    rect: Rect
    focus: bool  # the large tile of judge_focus / speaker_follow


def _even(v: float) -> int:
    """``v`` rounded down to an even integer (at least 2)."""
    return max(2, int(v) & ~1)


def _near_even(v: float) -> int:
    """``v`` rounded to the nearest even integer (at least 2)."""
    return max(2, round(v / 2) * 2)


def fit_rect(src_w: int, src_h: int, box: Rect) -> Rect:
    """The largest rectangle of ``src_w:src_h`` aspect inside ``box``, centred, even-aligned."""
    if src_w <= 0 or src_h <= 0:
        return box
    if src_w * box.h >= src_h * box.w:  # wider than the box: full width
        w, h = box.w, _near_even(box.w * src_h / src_w)
    else:
        w, h = _near_even(box.h * src_w / src_h), box.h
    w, h = min(w, box.w), min(h, box.h)
    return Rect(box.x + ((box.w - w) // 2 & ~1), box.y + ((box.h - h) // 2 & ~1), w, h)


def _tile_16x9(max_w: float, max_h: float) -> tuple[int, int]:
    """Even 16:9 size fitting in ``max_w`` x ``max_h``."""
    w = _even(min(max_w, max_h * 16 / 9))
    h = _near_even(w * 9 / 16)
    if h > max_h:
        h = _even(max_h)
    return w, h


def _rows_of(count: int, cols: int, tile_w: int, tile_h: int, area: Rect) -> list[Rect]:
    """``count`` tiles in rows of ``cols``, the block centred in ``area``, the last row
    centred horizontally."""
    rows = math.ceil(count / cols)
    block_h = rows * tile_h + (rows - 1) * GAP
    y0 = area.y + ((area.h - block_h) // 2 & ~1)
    rects: list[Rect] = []
    for row in range(rows):
        in_row = min(cols, count - row * cols)
        row_w = in_row * tile_w + (in_row - 1) * GAP
        x0 = area.x + ((area.w - row_w) // 2 & ~1)
        y = y0 + row * (tile_h + GAP)
        rects.extend(Rect(x0 + i * (tile_w + GAP), y, tile_w, tile_h) for i in range(in_row))
    return rects


def content_area() -> Rect:
    return Rect(0, HEADER_H, CANVAS_W, CANVAS_H - HEADER_H)


def grid_rects(count: int) -> list[Rect]:
    """Tiles for ``count`` (1..16) participants in a near-square grid (up to 4x4)."""
    count = max(0, min(count, MAX_TILES))
    if count == 0:
        return []
    area = content_area()
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    tw, th = _tile_16x9((area.w - (cols + 1) * GAP) / cols, (area.h - (rows + 1) * GAP) / rows)
    return _rows_of(count, cols, tw, th, area)


def focus_rects(others: int) -> tuple[Rect, list[Rect]]:
    """One large tile and a strip of ``others`` (0..15) small tiles under it.

    The strip uses one to three rows, whichever gives the largest small tiles (at most
    320x180) while the strip stays under ~36% of the content height.
    """
    others = max(0, min(others, MAX_TILES - 1))
    area = content_area()
    if others == 0:
        tw, th = _tile_16x9(area.w - 2 * GAP, area.h - 2 * GAP)
        return _rows_of(1, 1, tw, th, area)[0], []
    strip_max = area.h * _STRIP_MAX_SHARE
    best: tuple[int, int, int] | None = None  # (tile_h, rows, cols)
    for rows in range(1, 4):
        cols = math.ceil(others / rows)
        if rows > 1 and math.ceil(others / (rows - 1)) == cols:
            continue  # an extra row that holds nothing
        tw, th = _tile_16x9(
            (area.w - (cols + 1) * GAP) / cols,
            min(_STRIP_TILE_MAX_H, (strip_max - (rows + 1) * GAP) / rows),
        )
        if best is None or th > best[0]:
            best = (th, rows, cols)
    assert best is not None
    th, rows, cols = best
    tw = _even(th * 16 / 9)
    strip_h = rows * th + (rows + 1) * GAP
    strip = Rect(area.x, area.y + area.h - strip_h, area.w, strip_h)
    main_area = Rect(area.x, area.y, area.w, area.h - strip_h)
    mw, mh = _tile_16x9(main_area.w - 2 * GAP, main_area.h - GAP)
    main = Rect(main_area.x + ((main_area.w - mw) // 2 & ~1), main_area.y + GAP, mw, mh)
    return main, _rows_of(others, cols, tw, th, strip)


# --- who is who ---------------------------------------------------------------------

_SIDE_LABELS = {
    PartySide.PLAINTIFF: "原告",
    PartySide.DEFENDANT: "被告",
    PartySide.APPLICANT: "申请人",
    PartySide.RESPONDENT: "被申请人",
    PartySide.THIRD_PARTY: "第三人",
}
_ROLE_LABELS = {
    Role.JUDGE: "审判员",
    Role.CLERK: "书记员",
    Role.MEDIATOR: "调解员",
    Role.PARTY: "当事人",
    Role.COUNSEL: "代理人",
    Role.WITNESS: "证人",
    Role.EXPERT: "鉴定人",
    Role.INTERPRETER: "翻译",
    Role.OBSERVER: "旁听",
    Role.COURTROOM_DISPLAY: "法庭显示屏",
}
PRESIDING_JUDGE_LABEL = "审判长"

# Order of tiles: the bench first, then the parties (plaintiff side before defendant side),
# counsel, interpreters, witnesses and experts, observers; join order within a rank.
_ROLE_RANK = {
    Role.JUDGE: 0,
    Role.MEDIATOR: 1,
    Role.CLERK: 2,
    Role.PARTY: 3,
    Role.COUNSEL: 4,
    Role.INTERPRETER: 5,
    Role.WITNESS: 6,
    Role.EXPERT: 7,
    Role.OBSERVER: 8,
    Role.COURTROOM_DISPLAY: 9,
}
_SIDE_RANK = {
    PartySide.PLAINTIFF: 0,
    PartySide.APPLICANT: 0,
    PartySide.DEFENDANT: 1,
    PartySide.RESPONDENT: 1,
    PartySide.THIRD_PARTY: 2,
}


def role_label(role: Role, side: PartySide | None = None, *, presiding: bool = False) -> str:
    """The Chinese caption of a role: 审判长 for the presiding judge, 原告/被告/... for a
    party with a side, 当事人 without."""
    if role is Role.JUDGE and presiding:
        return PRESIDING_JUDGE_LABEL
    if role is Role.PARTY and side is not None:
        return _SIDE_LABELS[side]
    return _ROLE_LABELS[role]


@dataclass(frozen=True, slots=True)
class Seat:
    """What the layout needs to know about one participant."""

    pid: str
    role: Role
    side: PartySide | None
    joined: int  # join order
    beside: str | None = None  # a sign-language interpreter: whom they are pinned beside


def order_seats(seats: Sequence[Seat]) -> list[Seat]:
    """By rank (bench, parties, ...), side and join order; a sign-language interpreter right
    after the person they interpret for, when that person is in the view."""
    ranked = sorted(
        seats,
        key=lambda s: (
            _ROLE_RANK[s.role],
            _SIDE_RANK.get(s.side, 3) if s.side is not None else 3,
            s.joined,
        ),
    )
    present = {s.pid for s in ranked}
    pinned = {s.pid: s for s in ranked if s.beside in present and s.beside != s.pid}
    out: list[Seat] = []
    for seat in ranked:
        if seat.pid in pinned:
            continue
        out.append(seat)
        out.extend(s for s in pinned.values() if s.beside == seat.pid)
    # Chains (an interpreter beside an interpreter) end up after their first link.
    out.extend(s for s in pinned.values() if s not in out)
    return out


def presiding_pid(seats: Sequence[Seat]) -> str | None:
    """The presiding judge (or mediator): the earliest-joined judge, else mediator."""
    for role in (Role.JUDGE, Role.MEDIATOR):
        found = [s for s in seats if s.role is role]
        if found:
            return min(found, key=lambda s: s.joined).pid
    return None


def titled_presiding(seats: Sequence[Seat]) -> str | None:
    """Who is captioned 审判长: the presiding judge of a collegiate panel (two or more judges
    in the room). A judge sitting alone is 审判员, as on every participant's screen."""
    if sum(1 for s in seats if s.role is Role.JUDGE) < 2:
        return None
    return presiding_pid(seats)


def place(
    layout: Layout,
    seats: Sequence[Seat],
    speaker: str | None = None,
    spotlight: str | None = None,
) -> list[TilePlacement]:
    """Tiles for ``seats`` in ``layout``; ``speaker`` is the focus of speaker_follow
    (falling back to the presiding judge, then to the first seat). A ``spotlight`` among the
    seats (pinned by the judge) takes the large tile whatever the layout, grid included. At
    most 16 tiles; the spotlight is always one of them."""
    ordered = order_seats(seats)
    pinned = next((s for s in ordered if s.pid == spotlight), None)
    ordered = ordered[:MAX_TILES]
    if pinned is not None and pinned not in ordered:
        ordered = [*ordered[: MAX_TILES - 1], pinned]
    if not ordered:
        return []
    if layout is Layout.GRID and pinned is None:
        return [
            TilePlacement(s.pid, r, False)
            for s, r in zip(ordered, grid_rects(len(ordered)), strict=True)
        ]
    pids = [s.pid for s in ordered]
    focus: str | None = pinned.pid if pinned is not None else None
    if focus is None and layout is Layout.SPEAKER_FOLLOW and speaker in pids:
        focus = speaker
    if focus is None:
        focus = presiding_pid(ordered)
    if focus is None:
        focus = pids[0]
    # A sign-language interpreter of the focus shares the large tile with them, side by side.
    signer = next((s.pid for s in ordered if s.beside == focus and s.pid != focus), None)
    main, strip = focus_rects(len(pids) - (2 if signer else 1))
    if signer is None:
        placements = [TilePlacement(focus, main, True)]
    else:
        left, right = split_rect(main)
        placements = [TilePlacement(focus, left, True), TilePlacement(signer, right, True)]
    others = [p for p in pids if p not in (focus, signer)]
    placements.extend(TilePlacement(p, r, False) for p, r in zip(others, strip, strict=True))
    return placements


def split_rect(rect: Rect) -> tuple[Rect, Rect]:
    """Two 16:9 tiles side by side in ``rect``, centred, even-aligned."""
    w, h = _tile_16x9((rect.w - GAP) / 2, rect.h)
    x0 = rect.x + ((rect.w - (2 * w + GAP)) // 2 & ~1)
    y0 = rect.y + ((rect.h - h) // 2 & ~1)
    return Rect(x0, y0, w, h), Rect(x0 + w + GAP, y0, w, h)


__all__ = [
    "CANVAS_H",
    "CANVAS_W",
    "HEADER_H",
    "MAX_TILES",
    "PRESIDING_JUDGE_LABEL",
    "Layout",
    "Rect",
    "Seat",
    "TilePlacement",
    "fit_rect",
    "focus_rects",
    "grid_rects",
    "order_seats",
    "place",
    "presiding_pid",
    "role_label",
]
