"""The two-node benchmarks (bench/cluster) run end to end in a tiny configuration, so that
they cannot rot: 20 signaling clients over two nodes for 5 s, and one failover (the eager
client, a 2 s lease). Each runs as the documented command in a process of its own, with its
own Redis, PostgreSQL and two server processes on 127.0.0.1. The figures are not judged here
(bench/README.md, docs/performance.md); that every client joined and media came back is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from testbed.postgres import find_bindir
from testbed.redis_server import find_redis_server

REPO = Path(__file__).resolve().parents[3]
TIMEOUT_S = 120  # a hung run must not hang the suite

pytestmark = pytest.mark.skipif(
    find_redis_server() is None or find_bindir() is None,
    reason="needs the Debian packages redis-server and postgresql",
)


def _run(module: str, out: Path, *args: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARING_")}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, "-m", module, *args, "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "written:" in done.stdout
    return dict(json.loads(out.read_text()))


def test_signaling_clients_join_across_two_nodes_and_stay(tmp_path: Path) -> None:
    result = _run(
        "bench.cluster.signaling",
        tmp_path / "signaling.json",
        "--clients", "20", "--hearings", "4", "--seconds", "5", "--warmup", "1",
        "--ramp", "40",
    )  # fmt: skip
    assert result["joined"] == 20, result["refused_or_failed"]
    assert result["refused_or_failed"] == {} and result["dropped_during_window"] == 0
    assert 0 < result["moved"] < 20  # both nodes were asked, some clients were sent on
    assert result["join_ms"]["all"]["n"] == 20 and result["join_ms"]["all"]["p50"] > 0
    assert result["calls"]["errors"] == {}
    for node in result["nodes"].values():
        assert node["rss_warm_mib"] > 0 and node["rss_end_mib"] > 0
    assert sum(n["hearings_served_at_end"] for n in result["nodes"].values()) == 4
    assert result["redis"]["commands_per_s_over_window"] > 0
    assert len(result["clients_rows"]) == 20


@pytest.mark.media
def test_a_failover_run_brings_the_media_back(tmp_path: Path) -> None:
    result = _run(
        "bench.cluster.failover",
        tmp_path / "failover.json",
        "--runs", "1", "--leases", "2", "--policies", "eager",
    )  # fmt: skip
    [run] = result["runs"]
    assert run["error"] is None, run
    times = run["times_s"]
    assert set(times) == {
        "lease_gone", "owned_by_b", "judge_joined", "party_joined", "published", "first_frame",
    }  # fmt: skip
    assert times["lease_gone"] <= times["owned_by_b"] <= times["party_joined"]
    assert times["judge_joined"] <= times["published"]
    assert times["party_joined"] <= times["first_frame"]
    # the judge's trace: its websocket closed, attempts refused while the lease ran, connected
    assert run["traces"]["judge"][0][2] == "disconnected"
    assert run["traces"]["judge"][-1][2] == "connected"
    [row] = result["rows"]
    assert row["runs"] == 1 and row["failed"] == 0
