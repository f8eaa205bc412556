"""The broadcast delay and the cut, on a clock the test moves (files are real)."""

from __future__ import annotations

from pathlib import Path

from hearing_server.api.livestream import RateLimiter
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
