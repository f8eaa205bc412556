"""The broadcast delay and the cut, on a clock the test moves (files are real)."""

from __future__ import annotations

from pathlib import Path

from hearing_server.auth.limits import RateLimiter
from livestream import DelayedPublisher, Segment


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _segment(pub: DelayedPublisher, name: str, *, slate: bool = False, epoch: int = 0) -> Segment:
    path = pub.withheld_dir / name
    path.write_bytes(b"\x47" * 188)
    return Segment(name, path, 2.0, 0.0, epoch, slate=slate)


def _publisher(tmp_path: Path, clock: Clock, slates: list[tuple[float, int]]) -> DelayedPublisher:
    pub = DelayedPublisher(
        tmp_path,
        delay_s=30,
        target_s=2,
        request_slate=lambda o, e: slates.append((o, e)),
        clock=clock,
    )
    pub.prepare()
    return pub


def test_segments_wait_out_the_delay(tmp_path: Path) -> None:
    clock, slates = Clock(), []
    pub = _publisher(tmp_path, clock, slates)
    pub.add(_segment(pub, "000000001.ts"))
    clock.now += 29.9
    pub.tick()
    assert pub.playlist is None and not (pub.public_dir / "000000001.ts").exists()
    clock.now += 0.2
    pub.tick()
    assert pub.playlist is not None and "000000001.ts" in pub.playlist
    assert (pub.public_dir / "000000001.ts").exists()
    assert (pub.public_dir / "index.m3u8").read_text() == pub.playlist
    assert not slates


def test_cut_deletes_everything_withheld_and_fills_with_slates(tmp_path: Path) -> None:
    clock, slates = Clock(), []
    pub = _publisher(tmp_path, clock, slates)
    pub.add(_segment(pub, "000000001.ts"))
    clock.now += 31
    pub.tick()
    for i in range(2, 12):  # 20 s of media waiting out the delay
        pub.add(_segment(pub, f"000{i:06d}.ts"))
        clock.now += 2
    assert pub.cut_now() == 10
    assert sorted(p.name for p in pub.withheld_dir.iterdir()) == []
    # One that was finishing while the cut travelled: withheld for good.
    late = _segment(pub, "000000012.ts", epoch=0)
    pub.add(late)
    assert not late.path.exists()
    clock.now += 100
    pub.tick()
    assert slates == [(0.0, 1)]
    pub.add(_segment(pub, "001000013.ts", slate=True, epoch=1))
    assert pub.entries[-1].slate and pub.entries[-1].discontinuity
    assert "#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\n001000013.ts" in (pub.playlist or "")
    # Resumed: slates go on until the first new courtroom segment has served the delay.
    pub.resume()
    pub.add(_segment(pub, "002000014.ts", epoch=2))
    clock.now += 2
    pub.tick()
    assert len(slates) == 2 and slates[-1][1] == 2
    pub.add(_segment(pub, "002000015.ts", slate=True, epoch=2))
    clock.now += 30
    pub.tick()
    assert pub.entries[-1].name == "002000014.ts" and not pub.entries[-1].slate
    published = {e.name for e in pub.entries}
    assert not any(f"000{i:06d}.ts" in published for i in range(2, 13))
    assert pub.stop() == 0 and (pub.playlist or "").endswith("#EXT-X-ENDLIST\n")
    replay = pub.replay_playlist() or ""
    assert "000000001.ts" in replay and "002000014.ts" in replay and "001000013" not in replay


def test_rate_limiter_allows_bursts_then_limits_per_address() -> None:
    limiter = RateLimiter(rate=10, burst=30, max_clients=3)
    assert all(limiter.allow("a", now=0.0) for _ in range(30))
    assert not limiter.allow("a", now=0.0)
    assert limiter.allow("b", now=0.0)  # another address has its own bucket
    assert limiter.allow("a", now=0.2)  # tokens come back at the rate
    for name in ("c", "d", "e"):
        limiter.allow(name, now=1.0)
    assert len(limiter._buckets) == 3  # bounded


def test_captions_follow_their_segment_and_the_cut_withholds_them(tmp_path: Path) -> None:
    clock, slates = Clock(), []
    pub = _publisher(tmp_path, clock, slates)
    pub.add(_segment_at(pub, "000000001.ts", 0.0))
    assert pub.captions.add(0.5, 1.5, "现在开庭 --> 宣读\n\n法庭纪律")
    clock.now += 31
    pub.tick()  # published, with its captions
    pub.add(_segment_at(pub, "000000002.ts", 2.0))
    assert pub.captions.add(2.5, 3.0, "涉及商业秘密")  # in a segment the cut will withhold
    pub.cut_now(at_s=4.0)
    assert not pub.captions.add(3.5, 4.5, "未成年人姓名")  # late, from the withheld stretch
    assert not pub.captions.add(6.0, 7.0, "while cut")
    pub.resume(at_s=10.0)
    assert pub.captions.add(10.5, 11.0, "继续开庭")
    clock.now += 31
    pub.tick()
    vtt = (pub.public_dir / "000000001.vtt").read_text()
    assert vtt.startswith("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:10.000")
    assert "00:00:00.500 --> 00:00:01.500\n现在开庭 → 宣读 法庭纪律" in vtt
    assert not (pub.public_dir / "000000002.vtt").exists()
    assert pub.is_published("000000001.vtt") and not pub.is_published("000000002.vtt")
    assert "000000001.vtt" in (pub.captions_playlist or "")


def _segment_at(pub: DelayedPublisher, name: str, start_s: float) -> Segment:
    path = pub.withheld_dir / name
    path.write_bytes(b"\x47" * 188)
    return Segment(name, path, 2.0, start_s, 0)
