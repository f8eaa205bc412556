"""After the stop nothing of a stream stays in public/ (what nginx serves from disk) unless
the judge allows the replay; real files in a temporary directory."""

from __future__ import annotations

from pathlib import Path

from livestream import (
    DelayedPublisher,
    Segment,
    publish_replay,
    replay_dir,
    tidy_stopped,
    withhold_replay,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _stopped_stream(root: Path) -> DelayedPublisher:
    """Two courtroom segments published, a cut, a slate published, one withheld, stopped."""
    clock = Clock()
    pub = DelayedPublisher(
        root, delay_s=30, target_s=2, request_slate=lambda o, e: None, clock=clock
    )
    pub.prepare()

    def segment(name: str, *, slate: bool = False, epoch: int = 0) -> Segment:
        path = pub.withheld_dir / name
        path.write_bytes(b"\x47" * 188)
        return Segment(name, path, 2.0, 0.0, epoch, slate=slate)

    pub.add(segment("000000001.ts"))
    pub.add(segment("000000002.ts"))
    clock.now += 31
    pub.tick()
    pub.cut_now()
    pub.add(segment("001000003.ts", slate=True, epoch=1))
    pub.resume()
    pub.add(segment("002000004.ts", epoch=2))  # still withheld at the stop
    pub.stop()
    return pub


def _files(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()} if directory.exists() else set()


REPLAY = {"replay.m3u8", "000000001.ts", "000000001.vtt", "000000002.ts", "000000002.vtt"}


def test_retire_leaves_nothing_in_public_and_keeps_the_replay_aside(tmp_path: Path) -> None:
    pub = _stopped_stream(tmp_path)
    assert "index.m3u8" in _files(pub.public_dir)  # the ended live playlist, before retiring
    pub.retire()
    assert not pub.public_dir.exists()
    assert _files(pub.kept_dir) == REPLAY
    text = (pub.kept_dir / "replay.m3u8").read_text()
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and "001000003" not in text
    assert replay_dir(tmp_path) == pub.kept_dir


def test_a_stream_that_published_nothing_keeps_nothing(tmp_path: Path) -> None:
    pub = DelayedPublisher(tmp_path, delay_s=30, target_s=2, request_slate=lambda o, e: None)
    pub.prepare()
    pub.stop()
    pub.retire()
    assert not pub.public_dir.exists() and not pub.kept_dir.exists()
    assert replay_dir(tmp_path) is None
    assert publish_replay(tmp_path) is False and not pub.public_dir.exists()


def test_publishing_and_withholding_move_exactly_the_replay(tmp_path: Path) -> None:
    pub = _stopped_stream(tmp_path)
    pub.retire()
    assert publish_replay(tmp_path) is True
    assert _files(pub.public_dir) == REPLAY and not pub.kept_dir.exists()
    assert replay_dir(tmp_path) == pub.public_dir
    withhold_replay(tmp_path)
    assert not pub.public_dir.exists() and _files(pub.kept_dir) == REPLAY
    withhold_replay(tmp_path)  # twice: nothing to do
    assert _files(pub.kept_dir) == REPLAY


def test_tidy_after_a_crash_takes_live_files_out_of_public(tmp_path: Path) -> None:
    # A crash mid-stream: public/ holds live playlists and segments, never retired.
    pub = _stopped_stream(tmp_path)
    tidy_stopped(tmp_path, allowed=True)  # no replay playlist: nothing may stay public
    assert not pub.public_dir.exists() and not pub.withheld_dir.exists()
    assert "index.m3u8" in _files(pub.kept_dir)


def test_tidy_keeps_only_an_allowed_replay_in_public(tmp_path: Path) -> None:
    # An older layout: the replay beside the live playlists and the slates in public/.
    pub = _stopped_stream(tmp_path)
    pub.retire()
    publish_replay(tmp_path)
    for leftover in ("index.m3u8", "master.m3u8", "captions.m3u8", "001000003.ts"):
        (pub.public_dir / leftover).write_text("left over")
    tidy_stopped(tmp_path, allowed=True)
    assert _files(pub.public_dir) == REPLAY
    tidy_stopped(tmp_path, allowed=False)
    assert not pub.public_dir.exists() and _files(pub.kept_dir) == REPLAY
    tidy_stopped(tmp_path, allowed=True)  # allowed again (the mark survived a crash)
    assert _files(pub.public_dir) == REPLAY
