"""The composite picture: tiles at their layout positions, live layout switches, name
cards, the frozen-feed marker, and a PNG of the result for a person to look at."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from compositor_media import (
    COLOURS,
    CompositeOutput,
    FakeTap,
    centre_colour,
    close,
    patch_colour,
    solid_frame,
    solid_video,
)
from PIL import Image

from hearing_server.core.participant import PartySide, Role
from hearing_server.media.compositor import Compositor, CompositorConfig
from hearing_server.media.compositor.draw import CARD_BACKGROUND
from hearing_server.media.compositor.layout import (
    CANVAS_H,
    CANVAS_W,
    Layout,
    Rect,
    Seat,
    focus_rects,
    grid_rects,
    place,
)
from support.waiting import wait_until

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"

# (pid, name, role, side): added in a scrambled order on purpose
PEOPLE = [
    ("w1", "周证人", Role.WITNESS, None),
    ("p1", "张三", Role.PARTY, PartySide.PLAINTIFF),
    ("j1", "王建国", Role.JUDGE, None),
    ("d1", "李四", Role.PARTY, PartySide.DEFENDANT),
    ("c1", "赵书记员", Role.CLERK, None),
    ("l1", "钱律师", Role.COUNSEL, None),
    ("e1", "吴鉴定人", Role.EXPERT, None),
    ("i1", "郑翻译", Role.INTERPRETER, None),
    ("l2", "孙律师", Role.COUNSEL, None),
]
HEARING = {
    "court": "北京市朝阳区人民法院",
    "case_number": "(2026)京0105民初1234号",
    "title": "张三诉李四民间借贷纠纷",
}


@pytest.fixture
async def output() -> CompositeOutput:
    return CompositeOutput()


@pytest.fixture
async def compositor(output: CompositeOutput) -> AsyncIterator[Compositor]:
    comp = Compositor(CompositorConfig(**HEARING))
    comp.add_sink(output)
    try:
        yield comp
    finally:
        await comp.close()
    assert comp.stats.errors == 0


def expected(
    layout: Layout, people: list[tuple[str, str, Role, PartySide | None]]
) -> dict[str, Rect]:
    seats = [Seat(pid, role, side, i) for i, (pid, _, role, side) in enumerate(people)]
    return {t.pid: t.rect for t in place(layout, seats)}


def check_tiles(
    picture: np.ndarray, tiles: dict[str, Rect], colours: dict[str, tuple[int, int, int]]
) -> None:
    wrong = {
        pid: (centre_colour(picture, rect), colours[pid])
        for pid, rect in tiles.items()
        if not close(centre_colour(picture, rect), colours[pid])
    }
    assert not wrong, f"tile centres with the wrong colour (got, want): {wrong}"


@pytest.mark.parametrize("count", [3, 6, 9])
async def test_each_tile_is_at_its_layout_position_and_layout_switches_live(
    compositor: Compositor, output: CompositeOutput, count: int
) -> None:
    people = PEOPLE[:count]
    colours = {pid: COLOURS[i] for i, (pid, *_rest) in enumerate(people)}
    compositor.set_layout("grid")
    for pid, name, role, side in people:
        compositor.add_participant(pid, name, role, solid_video(colours[pid]), side=side)
    await compositor.start()

    picture = await output.picture_after(time.monotonic() + 0.5)
    grid = expected(Layout.GRID, people)
    # independent of place(): the grid's tiles in reading order, bench first
    assert sorted(grid.values(), key=lambda r: (r.y, r.x)) == grid_rects(count)
    order = [pid for pid, rect in sorted(grid.items(), key=lambda kv: (kv[1].y, kv[1].x))]
    assert order[0] == "j1"
    check_tiles(picture, grid, colours)

    compositor.set_layout("judge_focus")
    picture = await output.picture_after(time.monotonic() + 0.3)
    focus = expected(Layout.JUDGE_FOCUS, people)
    main, strip = focus_rects(count - 1)
    assert focus["j1"] == main  # the presiding judge is the large tile
    assert {r for p, r in focus.items() if p != "j1"} == set(strip)
    check_tiles(picture, focus, colours)
    # the judge's colour fills the upper middle of the picture
    assert close(patch_colour(picture, CANVAS_W // 2, CANVAS_H // 3), colours["j1"])

    compositor.set_layout("grid")  # and back
    picture = await output.picture_after(time.monotonic() + 0.3)
    check_tiles(picture, grid, colours)
    states = {t.pid: t for t in compositor.tile_states()}
    assert {p: s.rect for p, s in states.items()} == grid
    assert all(s.kind == "video" for s in states.values())


async def test_participants_join_and_leave_live(
    compositor: Compositor, output: CompositeOutput
) -> None:
    people = PEOPLE[:3]
    colours = {pid: COLOURS[i] for i, (pid, *_rest) in enumerate(people)}
    compositor.set_layout("grid")
    taps = {}
    for pid, name, role, side in people[:2]:
        compositor.add_participant(pid, name, role, solid_video(colours[pid]), side=side)
    await compositor.start()
    check_tiles(
        await output.picture_after(time.monotonic() + 0.3),
        expected(Layout.GRID, people[:2]),
        colours,
    )

    pid, name, role, side = people[2]
    taps[pid] = FakeTap()
    compositor.add_participant(pid, name, role, taps[pid], side=side)
    frame = solid_frame(colours[pid])
    for _ in range(3):
        taps[pid].push(frame)
        await asyncio.sleep(0.04)
    check_tiles(
        await output.picture_after(time.monotonic() + 0.3), expected(Layout.GRID, people), colours
    )

    compositor.remove_participant("p1")
    assert taps[pid].closed is False
    compositor.remove_participant(pid)
    assert taps[pid].closed  # the compositor closes the inputs it was given
    remaining = [p for p in people if p[0] not in ("p1", pid)]
    check_tiles(
        await output.picture_after(time.monotonic() + 0.3),
        expected(Layout.GRID, remaining),
        colours,
    )
    assert compositor.participants == [p[0] for p in remaining]


async def test_name_card_for_no_video_and_marker_on_a_frozen_feed(
    compositor: Compositor, output: CompositeOutput
) -> None:
    colours = {"j1": COLOURS[0], "p1": COLOURS[1]}
    compositor.set_layout("grid")
    compositor.add_participant("j1", "王建国", "judge", solid_video(colours["j1"]))
    # p1's camera stops after 0.4 s without the track ending
    compositor.add_participant(
        "p1", "张三", "party", solid_video(colours["p1"], seconds=0.4), side="plaintiff"
    )
    compositor.add_participant("d1", "李四", "party", None, side="defendant")
    await compositor.start()
    stalled_at = time.monotonic() + 0.4

    picture = await output.picture_after(time.monotonic() + 0.3)
    states = {t.pid: t for t in compositor.tile_states()}
    assert states["d1"].kind == "name_card" and states["d1"].video_rect is None
    card = states["d1"].rect
    assert close(patch_colour(picture, card.x + 12, card.y + 12), CARD_BACKGROUND, tol=12)
    assert states["p1"].kind == "video"
    p1 = states["p1"].rect
    assert close(centre_colour(picture, p1), colours["p1"])

    # before 2 s without a frame: still plain video
    await asyncio.sleep(max(0.0, stalled_at + 1.4 - time.monotonic()))
    assert {t.pid: t.kind for t in compositor.tile_states()}["p1"] == "video"
    await wait_until(
        lambda: {t.pid: t.kind for t in compositor.tile_states()}["p1"] == "frozen",
        timeout=3.0,
        what="p1's tile to be marked frozen",
    )
    frozen_for = time.monotonic() - stalled_at
    assert frozen_for >= 1.9, f"marked frozen after {frozen_for:.2f}s without frames"
    picture = await output.picture_after(time.monotonic() + 0.3)
    # the banner covers the centre; the last frame is still shown around it
    centre = centre_colour(picture, p1)
    assert not close(centre, colours["p1"], tol=40), centre
    assert centre[0] > centre[1] + 40 and centre[0] > centre[2] + 40  # dark red banner
    assert close(patch_colour(picture, p1.x + 20, p1.y + 20), colours["p1"])
    # the judge is unaffected
    j1 = next(t for t in compositor.tile_states() if t.pid == "j1")
    assert j1.kind == "video" and close(centre_colour(picture, j1.rect), colours["j1"])


async def test_video_that_ends_becomes_a_name_card(
    compositor: Compositor, output: CompositeOutput
) -> None:
    tap = FakeTap()
    compositor.add_participant("j1", "王建国", "judge", tap)
    await compositor.start()
    frame = solid_frame(COLOURS[2])
    for _ in range(3):
        tap.push(frame)
        await asyncio.sleep(0.04)
    await wait_until(
        lambda: [t.kind for t in compositor.tile_states()] == ["video"], 2.0, "video tile"
    )
    tap.end()  # track unpublished
    await wait_until(
        lambda: [t.kind for t in compositor.tile_states()] == ["name_card"], 2.0, "name card"
    )


async def test_composite_png_with_readable_labels(
    compositor: Compositor, output: CompositeOutput
) -> None:
    """Writes test-artifacts/compositor-*.png (decoded from the H.264 output) to look at."""
    people = PEOPLE[:6]
    for i, (pid, name, role, side) in enumerate(people):
        if pid == "d1":
            video = None  # name card
        elif pid == "w1":
            video = solid_video(COLOURS[i], seconds=0.2)  # frozen
        else:
            video = solid_video(COLOURS[i])
        compositor.add_participant(pid, name, role, video, side=side)
    compositor.set_muted("p1", True)
    await compositor.start()
    await wait_until(
        lambda: any(t.kind == "frozen" for t in compositor.tile_states()), 4.0, "frozen tile"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    for layout in ("judge_focus", "grid"):
        compositor.set_layout(layout)
        # labels for new tile sizes may take a tick or two
        picture = await output.picture_after(time.monotonic() + 0.4)
        path = ARTIFACTS / f"compositor-{layout}.png"
        Image.fromarray(picture).save(path)
        assert path.stat().st_size > 10_000
        # the header bar carries text: light pixels on the dark blue bar
        header = picture[8:36, 8:600].reshape(-1, 3)
        assert (header.min(axis=1) > 180).sum() > 200
