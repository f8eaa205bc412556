"""Issue 23: a party on a weak line, the short form of ``bench/weaknet`` (about 40 s).

A real server process listens on our end of a lab's veth; the party, an aiortc client in the
lab's namespace, publishes a live-encoded camera and a microphone that speaks throughout; the
judge joins from here and decodes them. The link then blacks out for 1 s, loses 20 % of its
packets both ways for 5 s, and narrows to 300 kbit/s. Each target is checked on its own.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bench.weaknet.run import Config, WeakLineRun
from testbed.netlab import unavailable

REASON = unavailable()
pytestmark = [pytest.mark.media, pytest.mark.skipif(REASON is not None, reason=str(REASON))]


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run for all the checks (its own event loop: the run outlives a test's)."""
    config = Config(clean_s=3.0, after_blackout_s=3.0, loss_s=5.0, rate_s=8.0, settle_s=4.0)
    logs: Path = tmp_path_factory.mktemp("weaknet")
    return asyncio.run(WeakLineRun(config, logs).run())


def test_a_clean_link_carries_everything(record: dict[str, Any]) -> None:
    fps = record["clean"]["fps"]
    assert fps["audio"] >= 48 and fps["video"] >= 14, record["clean"]


def test_after_a_blackout_audio_and_video_come_back_at_once(record: dict[str, Any]) -> None:
    # Targets: audio within 0.5 s of the link's return, video within 2 s.
    b = record["blackout"]
    assert b["audio_back_s"] is not None and b["audio_back_s"] <= 0.5, b
    assert b["video_back_s"] is not None and b["video_back_s"] <= 2.0, b
    assert b["fps_after"]["audio"] >= 45 and b["fps_after"]["video"] >= 13, b


def test_heavy_loss_drops_nobody_and_everything_comes_back(record: dict[str, Any]) -> None:
    lo = record["loss"]
    assert lo["party"] == {"socket": True, "publish": "connected", "subscribe": None}, lo
    assert lo["server_saw_party_drop"] == [], lo
    assert {s["state"] for s in lo["party_connection_states"]} <= {"connecting", "connected"}, lo
    # During the loss, audio is what gets through (about 80 %), not nothing; then all of it.
    assert lo["fps_during"]["audio"] >= 30, lo
    assert lo["fps_after"]["audio"] >= 45, lo


@pytest.mark.xfail(
    strict=False,
    reason="intermittent, not fixed yet: in about half the runs inside the whole suite the "
    "party's video stays frozen at the judge for more than 4 s after the loss ends, although "
    "the server asks again for a keyframe every second (issue 23)",
)
def test_after_heavy_loss_the_video_comes_back(record: dict[str, Any]) -> None:
    lo = record["loss"]
    assert lo["fps_after"]["video"] >= 13, lo


@pytest.mark.xfail(
    strict=True,
    reason="not met yet: aiortc's VP8 encoder goes no lower than 250 kbit/s, so the party's "
    "video fills a 300 kbit/s link and its audio queues behind it; the server does not yet "
    "move a party on such a line to audio only (issue 23, items 3 and 4)",
)
def test_a_300_kbps_link_keeps_the_audio(record: dict[str, Any]) -> None:
    na = record["narrow"]
    assert na["audio_received"] >= 0.99 and na["audio_late_share"] < 0.01, na
