"""The composite's encoded output: H.264 constrained baseline access units with keyframes
on schedule and on demand, and an Opus mix of the unmuted participants."""

from __future__ import annotations

import asyncio
import collections
import itertools
import time
from collections.abc import AsyncIterator

import numpy as np
import pytest
from compositor_media import (
    COLOURS,
    CompositeOutput,
    centre_colour,
    close,
    goertzel,
    solid_video,
    tone,
)

from hearing_server.media.compositor import Compositor, CompositorConfig
from hearing_server.media.taps import EncodedFrame
from support.waiting import wait_until

TONES = {"j1": 500.0, "p1": 700.0, "d1": 1100.0}


@pytest.fixture
async def output() -> CompositeOutput:
    return CompositeOutput()


@pytest.fixture
async def compositor(output: CompositeOutput) -> AsyncIterator[Compositor]:
    comp = Compositor(CompositorConfig(court="测试法院", case_number="(2026)京0105民初1号"))
    comp.add_sink(output)
    try:
        yield comp
    finally:
        await comp.close()
    assert comp.stats.errors == 0


def nal_units(access_unit: bytes) -> list[bytes]:
    """Split an Annex-B access unit at its start codes."""
    parts = access_unit.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01")
    return [p for p in parts if p]


def steps_of(frames: list[EncodedFrame]) -> set[int]:
    return {b.rtp_timestamp - a.rtp_timestamp for a, b in itertools.pairwise(frames)}


def most_common_step(frames: list[EncodedFrame]) -> int:
    steps = [b.rtp_timestamp - a.rtp_timestamp for a, b in itertools.pairwise(frames)]
    return collections.Counter(steps).most_common(1)[0][0]


def powers(samples: np.ndarray) -> dict[str, float]:
    return {pid: goertzel(samples, freq) for pid, freq in TONES.items()}


async def test_video_is_annexb_constrained_baseline_with_keyframes(
    compositor: Compositor, output: CompositeOutput
) -> None:
    compositor.add_participant("j1", "王建国", "judge", solid_video(COLOURS[0]))
    await compositor.start()
    await wait_until(lambda: len(output.video) >= 60, 6.0, "60 video frames")

    first = output.video[0]
    assert (first.kind, first.codec, first.clock_rate, first.pid) == (
        "video",
        "video/H264",
        90_000,
        "composite",
    )
    assert first.keyframe and first.payload.startswith(b"\x00\x00\x00\x01")
    nals = nal_units(first.payload)
    types = [n[0] & 0x1F for n in nals]
    assert 7 in types and 8 in types and 5 in types  # SPS, PPS, IDR slice
    sps = nals[types.index(7)]
    profile_idc, constraints, level_idc = sps[1], sps[2], sps[3]
    assert profile_idc == 66 and constraints & 0x40  # constrained baseline
    assert level_idc == 31
    # 25 fps on the 90 kHz clock; a skipped tick would show as a bigger step
    steps = steps_of(output.video)
    assert all(step % 3600 == 0 for step in steps), steps  # a skipped tick: a longer step
    assert most_common_step(output.video) == 3600

    # a keyframe every 2 s (50 frames), each carrying SPS/PPS for late joiners
    await wait_until(lambda: len(output.video) >= 110, 6.0, "110 video frames")
    keys = [f.rtp_timestamp for f in output.video if f.keyframe]
    assert keys[0] == 0
    # every 50th frame: 2 s apart, a little more if ticks were skipped on a busy machine
    skipped = compositor.stats.video_frames_dropped * 3600
    for a, b in itertools.pairwise(keys[:3]):
        assert 180_000 <= b - a <= 180_000 + skipped, (keys, skipped)
    for f in output.video:
        if f.keyframe:
            assert {7, 8, 5} <= {n[0] & 0x1F for n in nal_units(f.payload)}

    # on demand
    asked = time.monotonic()
    compositor.request_keyframe()
    await wait_until(
        lambda: any(f.keyframe and f.arrival > asked for f in output.video), 1.0, "a keyframe"
    )
    forced = next(f for f in output.video if f.keyframe and f.arrival > asked)
    assert forced.arrival - asked < 0.3
    assert forced.rtp_timestamp % 180_000 != 0  # not just the scheduled one


async def test_sinks_filter_by_kind_and_can_be_removed(compositor: Compositor) -> None:
    got: dict[str, list[EncodedFrame]] = {"audio": [], "video": []}
    remove_audio = compositor.add_sink(got["audio"].append, kind="audio")
    compositor.add_sink(got["video"].append, kind="video")
    compositor.add_participant("j1", "王建国", "judge", solid_video(COLOURS[0]), tone(500))
    await compositor.start()
    await wait_until(lambda: len(got["video"]) >= 10, 3.0, "video frames")
    assert {f.kind for f in got["audio"]} == {"audio"} and got["audio"]
    assert {f.kind for f in got["video"]} == {"video"}
    assert all(step % 960 == 0 for step in steps_of(got["audio"]))
    assert most_common_step(got["audio"]) == 960
    assert all(f.codec == "audio/opus" and f.clock_rate == 48_000 for f in got["audio"])
    remove_audio()
    count = len(got["audio"])
    await asyncio.sleep(0.2)
    assert len(got["audio"]) == count


async def test_mix_has_the_unmuted_tones_only_and_follows_mute_live(
    compositor: Compositor, output: CompositeOutput
) -> None:
    for pid, freq in TONES.items():
        compositor.add_participant(pid, pid, "party", None, tone(freq, 0.25))
    compositor.set_muted("d1", True)
    await compositor.start()
    await asyncio.sleep(0.6)
    start = time.monotonic()
    await asyncio.sleep(1.0)
    p = powers(output.audio_after(start))
    assert p["j1"] > 1e-3 and p["p1"] > 1e-3, p  # 0.25 amplitude: ≈ 0.0156 each
    assert p["d1"] < p["j1"] / 1000, p

    compositor.set_muted("d1", False)
    compositor.set_muted("j1", True)
    await asyncio.sleep(0.3)
    start = time.monotonic()
    await asyncio.sleep(1.0)
    p = powers(output.audio_after(start))
    assert p["d1"] > 1e-3 and p["p1"] > 1e-3, p
    assert p["j1"] < p["p1"] / 1000, p

    compositor.remove_participant("p1")
    await asyncio.sleep(0.3)
    start = time.monotonic()
    await asyncio.sleep(0.6)
    p = powers(output.audio_after(start))
    assert p["p1"] < p["d1"] / 1000, p


async def test_loud_mix_is_limited_not_clipped(
    compositor: Compositor, output: CompositeOutput
) -> None:
    # three tones at 0.6 of full scale each: the plain sum would reach 1.8
    for pid, freq in TONES.items():
        compositor.add_participant(pid, pid, "party", None, tone(freq, 0.6))
    await compositor.start()
    await asyncio.sleep(0.8)
    start = time.monotonic()
    await asyncio.sleep(1.2)
    mix = output.audio_after(start)
    assert mix.size > 40_000
    peak = float(np.max(np.abs(mix)))
    assert 0.5 < peak < 0.99, peak
    assert np.mean(np.abs(mix) > 0.98) == 0.0
    p = powers(mix)
    assert min(p.values()) > 0.3 * max(p.values()), p  # all three still there, balanced
    assert compositor.stats.audio_limited_blocks > 0


async def test_speaker_follow_puts_the_loudest_speaker_large(
    compositor: Compositor, output: CompositeOutput
) -> None:
    loud = {"j1": 0.0, "p1": 0.3, "d1": 0.0}
    colours = {"j1": COLOURS[0], "p1": COLOURS[1], "d1": COLOURS[2]}
    for pid in TONES:
        compositor.add_participant(
            pid,
            pid,
            "judge" if pid == "j1" else "party",
            solid_video(colours[pid]),
            tone(TONES[pid], lambda pid=pid: loud[pid]),  # type: ignore[misc]
        )
    compositor.set_layout("speaker_follow")
    await compositor.start()
    await wait_until(lambda: compositor.speaker == "p1", 3.0, "p1 as the speaker")
    picture = await output.picture_after(time.monotonic() + 0.3)
    focus = next(t for t in compositor.tile_states() if t.focus)
    assert focus.pid == "p1" and focus.speaker
    assert close(centre_colour(picture, focus.rect), colours["p1"])

    loud.update(p1=0.0, d1=0.3)  # someone else speaks
    switched = time.monotonic()
    await wait_until(lambda: compositor.speaker == "d1", 4.0, "d1 as the speaker")
    assert time.monotonic() - switched >= 0.3  # not on a single blip
    picture = await output.picture_after(time.monotonic() + 0.3)
    focus = next(t for t in compositor.tile_states() if t.focus)
    assert focus.pid == "d1"
    assert close(centre_colour(picture, focus.rect), colours["d1"])

    compositor.set_layout("judge_focus")  # the judge again, the speaker highlighted
    picture = await output.picture_after(time.monotonic() + 0.3)
    tiles = {t.pid: t for t in compositor.tile_states()}
    assert tiles["j1"].focus and tiles["d1"].speaker
    assert close(centre_colour(picture, tiles["j1"].rect), colours["j1"])


async def test_mix_sink_gets_pcm_blocks(compositor: Compositor) -> None:
    blocks = []
    compositor.add_mix_sink(blocks.append)
    compositor.add_participant("j1", "王建国", "judge", None, tone(500))
    await compositor.start()
    await wait_until(lambda: len(blocks) >= 10, 2.0, "mix blocks")
    first = blocks[0]
    assert (first.samples, first.sample_rate, first.format.name, first.layout.name) == (
        960,
        48_000,
        "s16",
        "mono",
    )
    assert [b.pts for b in blocks[:3]] == [0, 960, 1920]


async def test_close_is_idempotent_and_stops_output(
    compositor: Compositor, output: CompositeOutput
) -> None:
    compositor.add_participant("j1", "王建国", "judge", solid_video(COLOURS[0]), tone(500))
    await compositor.start()
    await wait_until(lambda: len(output.video) >= 5, 3.0, "video")
    await compositor.close()
    await compositor.close()
    count = len(output.video) + len(output.audio)
    await asyncio.sleep(0.2)
    assert len(output.video) + len(output.audio) == count
    assert compositor.participants == []
    with pytest.raises(RuntimeError):
        await compositor.start()


async def test_an_empty_room_idles_at_a_frame_a_second_and_wakes_up(
    compositor: Compositor, output: CompositeOutput
) -> None:
    """Nobody sending: one frame a second (keyframes still every 2 s, one asked for at
    once); someone sending again: the full rate at once."""
    await compositor.start()
    await asyncio.sleep(0.5)
    start = len(output.video)
    await asyncio.sleep(4.0)
    idle = output.video[start:]
    assert compositor.stats.idle
    assert 3 <= len(idle) <= 7, len(idle)  # 4 s at 1 fps, plus keyframes due
    keys = [f.rtp_timestamp for f in output.video if f.keyframe]
    assert len(keys) >= 2 and all(b - a <= 3 * 90_000 for a, b in itertools.pairwise(keys))

    asked = time.monotonic()
    compositor.request_keyframe()
    await wait_until(
        lambda: any(f.keyframe and f.arrival > asked for f in output.video), 1.0, "a keyframe"
    )
    assert next(f for f in output.video if f.keyframe and f.arrival > asked).arrival - asked < 0.3

    compositor.add_participant("j1", "王建国", "judge", solid_video(COLOURS[0]))
    await wait_until(lambda: not compositor.stats.idle, 2.0, "the compositor to wake up")
    woke = len(output.video)
    await asyncio.sleep(1.0)
    assert len(output.video) - woke >= 15  # 25 fps, with room for a busy machine

    compositor.remove_participant("j1")
    await wait_until(lambda: compositor.stats.idle, 2.0, "idle again")
