"""Issue 19, item 6: the soak's short form (``bench/soak``; the long run is ten hearings of
five for ten minutes). Two hearings of three real aiortc participants publishing audio and
video through a real server process, recording on, for 90 s: after a 45 s warm-up the
server's memory grows by less than 5 %, its file descriptors, threads and asyncio tasks stay
flat, media flows throughout, and its log holds no error."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bench.soak.run import SoakConfig, SoakRun

pytestmark = pytest.mark.media


def test_two_hearings_for_ninety_seconds_leave_the_server_flat(tmp_path: Path) -> None:
    config = SoakConfig(hearings=2, participants=3, seconds=90.0, warmup=45.0)
    record = asyncio.run(SoakRun(config, tmp_path).run())
    summary = json.dumps({"figures": record.get("figures"), "verdict": record["verdict"]})
    assert record["verdict"]["ok"], summary
