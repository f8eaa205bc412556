"""Layout geometry and tile order: pure functions, no pixels."""

from __future__ import annotations

import itertools

import pytest

from hearing_server.core.participant import PartySide, Role
from hearing_server.media.compositor.layout import (
    CANVAS_H,
    CANVAS_W,
    HEADER_H,
    Layout,
    Rect,
    Seat,
    fit_rect,
    focus_rects,
    grid_rects,
    order_seats,
    place,
    presiding_pid,
    role_label,
    titled_presiding,
)


def overlaps(a: Rect, b: Rect) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


def check_rects(rects: list[Rect]) -> None:
    for r in rects:
        assert r.x >= 0 and r.y >= HEADER_H, r
        assert r.x + r.w <= CANVAS_W and r.y + r.h <= CANVAS_H, r
        assert r.x % 2 == r.y % 2 == r.w % 2 == r.h % 2 == 0, r  # 4:2:0 chroma aligned
        assert abs(r.w / r.h - 16 / 9) < 0.02, r
    for a, b in itertools.combinations(rects, 2):
        assert not overlaps(a, b), (a, b)


@pytest.mark.parametrize("count", range(1, 17))
def test_grid_tiles_fit_and_do_not_overlap(count: int) -> None:
    rects = grid_rects(count)
    assert len(rects) == count
    check_rects(rects)
    rows = {r.y for r in rects}
    cols = {r.x for r in rects}
    assert len(rows) <= 4 and len(cols) <= 4 + 3  # 4x4 at most (last rows centred)
    assert len({(r.w, r.h) for r in rects}) == 1  # all tiles the same size


def test_grid_is_capped_at_16() -> None:
    assert len(grid_rects(20)) == 16


@pytest.mark.parametrize("others", range(0, 16))
def test_focus_tile_is_large_and_the_strip_fits(others: int) -> None:
    main, strip = focus_rects(others)
    assert len(strip) == others
    check_rects([main, *strip])
    assert all(main.w > 2 * r.w for r in strip)
    assert all(r.y > main.y for r in strip)  # the strip is below the focus tile
    assert main.w * main.h > 0.35 * CANVAS_W * CANVAS_H


def test_fit_rect_keeps_aspect_and_centres() -> None:
    box = Rect(100, 50, 416, 234)
    assert fit_rect(640, 360, box) == box  # 16:9 fills a 16:9 tile
    assert fit_rect(1280, 720, box) == box
    portrait = fit_rect(360, 640, box)  # a phone held upright: pillarbox
    assert portrait.h == 234 and portrait.w == 132
    assert portrait.x == 100 + (416 - 132) // 2 and portrait.y == 50
    square = fit_rect(480, 480, box)
    assert square.w == square.h == 234
    wide = fit_rect(1000, 200, box)  # letterbox
    assert wide.w == 416 and wide.h == 84 and wide.y == 50 + 74  # 75, even-aligned


def seats(*roles: tuple[Role, PartySide | None]) -> list[Seat]:
    return [Seat(f"p{i}", role, side, i) for i, (role, side) in enumerate(roles)]


def test_order_puts_the_bench_first_then_plaintiff_before_defendant() -> None:
    people = seats(
        (Role.WITNESS, None),
        (Role.PARTY, PartySide.DEFENDANT),
        (Role.COUNSEL, None),
        (Role.JUDGE, None),
        (Role.PARTY, PartySide.PLAINTIFF),
        (Role.CLERK, None),
        (Role.JUDGE, None),
    )
    order = [(s.role, s.side) for s in order_seats(people)]
    assert order == [
        (Role.JUDGE, None),
        (Role.JUDGE, None),
        (Role.CLERK, None),
        (Role.PARTY, PartySide.PLAINTIFF),
        (Role.PARTY, PartySide.DEFENDANT),
        (Role.COUNSEL, None),
        (Role.WITNESS, None),
    ]
    assert presiding_pid(people) == "p3"  # the earliest judge


def test_only_a_collegiate_panels_presiding_judge_is_captioned_shenpanzhang() -> None:
    # A judge alone is 审判员 on the display as on the parties' screens (issue 27).
    assert titled_presiding(seats((Role.JUDGE, None), (Role.PARTY, PartySide.PLAINTIFF))) is None
    panel = seats((Role.PARTY, None), (Role.JUDGE, None), (Role.JUDGE, None))
    assert titled_presiding(panel) == "p1"
    assert titled_presiding(seats((Role.MEDIATOR, None), (Role.PARTY, None))) is None


def test_presiding_falls_back_to_the_mediator_then_nobody() -> None:
    assert presiding_pid(seats((Role.PARTY, None), (Role.MEDIATOR, None))) == "p1"
    assert presiding_pid(seats((Role.PARTY, None))) is None


def test_judge_focus_puts_the_judge_large() -> None:
    people = seats((Role.PARTY, PartySide.PLAINTIFF), (Role.JUDGE, None), (Role.CLERK, None))
    tiles = place(Layout.JUDGE_FOCUS, people)
    assert tiles[0].pid == "p1" and tiles[0].focus
    assert [t.focus for t in tiles[1:]] == [False, False]


def test_speaker_follow_puts_the_speaker_large_else_the_judge() -> None:
    people = seats((Role.PARTY, PartySide.PLAINTIFF), (Role.JUDGE, None), (Role.CLERK, None))
    assert place(Layout.SPEAKER_FOLLOW, people, speaker="p2")[0].pid == "p2"
    assert place(Layout.SPEAKER_FOLLOW, people, speaker=None)[0].pid == "p1"
    assert place(Layout.SPEAKER_FOLLOW, people, speaker="gone")[0].pid == "p1"
    # judge_focus ignores the speaker
    assert place(Layout.JUDGE_FOCUS, people, speaker="p2")[0].pid == "p1"


def test_a_spotlight_takes_the_large_tile_in_every_layout() -> None:
    people = seats((Role.PARTY, PartySide.PLAINTIFF), (Role.JUDGE, None), (Role.CLERK, None))
    for layout in Layout:
        tiles = place(layout, people, speaker="p1", spotlight="p0")
        assert tiles[0].pid == "p0" and tiles[0].focus, layout
        assert sorted(t.pid for t in tiles) == ["p0", "p1", "p2"]
    # Someone pinned who is not in the view (left, or an observer) changes nothing.
    assert place(Layout.JUDGE_FOCUS, people, spotlight="gone")[0].pid == "p1"
    assert not any(t.focus for t in place(Layout.GRID, people, spotlight="gone"))


def test_a_spotlight_beyond_the_sixteenth_seat_is_still_shown() -> None:
    people = seats(*[(Role.PARTY, PartySide.PLAINTIFF)] * 20)
    tiles = place(Layout.GRID, people, spotlight="p19")
    assert len(tiles) == 16 and tiles[0].pid == "p19" and tiles[0].focus


def test_grid_has_no_focus_and_no_participants_means_no_tiles() -> None:
    people = seats((Role.JUDGE, None), (Role.CLERK, None))
    assert not any(t.focus for t in place(Layout.GRID, people))
    assert place(Layout.GRID, []) == []


@pytest.mark.parametrize(
    ("role", "side", "presiding", "label"),
    [
        (Role.JUDGE, None, True, "审判长"),
        (Role.JUDGE, None, False, "审判员"),
        (Role.CLERK, None, False, "书记员"),
        (Role.MEDIATOR, None, True, "调解员"),
        (Role.PARTY, PartySide.PLAINTIFF, False, "原告"),
        (Role.PARTY, PartySide.DEFENDANT, False, "被告"),
        (Role.PARTY, PartySide.APPLICANT, False, "申请人"),
        (Role.PARTY, PartySide.RESPONDENT, False, "被申请人"),
        (Role.PARTY, None, False, "当事人"),
        (Role.COUNSEL, None, False, "代理人"),
        (Role.WITNESS, None, False, "证人"),
        (Role.EXPERT, None, False, "鉴定人"),
        (Role.INTERPRETER, None, False, "翻译"),
        (Role.OBSERVER, None, False, "旁听"),
    ],
)
def test_role_labels(role: Role, side: PartySide | None, presiding: bool, label: str) -> None:
    assert role_label(role, side, presiding=presiding) == label



def test_a_sign_language_interpreter_sits_beside_the_person() -> None:
    people = [
        Seat("judge", Role.JUDGE, None, 0),
        Seat("signer", Role.INTERPRETER, None, 1, beside="li"),
        Seat("zhang", Role.PARTY, PartySide.PLAINTIFF, 2),
        Seat("li", Role.PARTY, PartySide.DEFENDANT, 3),
    ]
    # In the order (grid, strip), right after the person they interpret for.
    assert [s.pid for s in order_seats(people)] == ["judge", "zhang", "li", "signer"]
    grid = place(Layout.GRID, people)
    assert [t.pid for t in grid] == ["judge", "zhang", "li", "signer"]
    li, signer = grid[2].rect, grid[3].rect
    assert signer.y == li.y and signer.x > li.x  # side by side in one row
    # When the person has the large tile, the interpreter shares it: two halves, both large.
    tiles = place(Layout.SPEAKER_FOLLOW, people, speaker="li")
    assert [(t.pid, t.focus) for t in tiles[:2]] == [("li", True), ("signer", True)]
    a, b = tiles[0].rect, tiles[1].rect
    assert (a.y == b.y and a.w == b.w and a.x + a.w < b.x and a.w * 9 == a.h * 16) or a.h % 2 == 0
    assert all(not t.focus for t in tiles[2:]) and len(tiles) == 4
    # Without the person in the view, the interpreter is one of the others.
    alone = place(Layout.JUDGE_FOCUS, [p for p in people if p.pid != "li"])
    assert [t.focus for t in alone] == [True, False, False]


def test_sign_languages() -> None:
    from hearing_server.core.participant import is_sign_language

    assert all(is_sign_language(x) for x in ("csl", "CSL", "sgn", "sgn-CN", "csl-Hans"))
    assert not any(is_sign_language(x) for x in (None, "", "zh-CN", "en", "cs"))
