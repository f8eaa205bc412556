"""Issue 29: a 9-party hearing with the server's defaults keeps every connection and its audio.

Runs the overload benchmark (``bench/overload``) once, short: the real server in its own
process (``hearing-server serve``: composite view, recording and transcription on), and
nine aiortc participants (judge, clerk, parties, counsel) in three client processes, each
publishing 320x180@15 video and audio (the judge speaks, the others send silence) and
receiving everyone else without decoding. Only 127.0.0.1 is used. The measured window is
the last 20 s; the whole test takes about 45-60 s.

Before the fixes of issue 29, the server fell behind on 2 cores, its publish sockets
overflowed, media and ICE consent checks were lost together, and after RFC 7675's 30 s every
publish connection was closed. Now the connections, the server's sockets and the audio must
hold (the benchmark measures the 99 % target; here a margin for a shared CI machine); the
video, shed when two cores cannot carry it beside live captions, is expected to fall short.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from transcription.testing import POCKETSPHINX_TESTDATA, have_flite

REPO = Path(__file__).resolve().parents[3]
PARTICIPANTS = 9
WINDOW_S = 20
MIN_AUDIO, MIN_VIDEO = 0.99, 0.95
# Of the audio frames sent, all pairs together. The benchmark measures the 99 % target on a
# quiet machine (99.6 %); inside the whole suite on 2 cores one run got 96.8 % (2026-12-07),
# so the margin here is for the CI machine. Before issue 29's fixes this was near 0.
AUDIO_TOTAL = 0.96
TIMEOUT_S = 300  # a hung run must not hang the suite

pytestmark = [
    pytest.mark.media,
    pytest.mark.skipif(
        not (have_flite() or POCKETSPHINX_TESTDATA.is_dir()), reason="no speech to send"
    ),
]


def _run_bench(out: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARING_")}
    env["PYTHONPATH"] = str(REPO)
    # --allow-network: this only skips the bench's "lo only" check; everything it starts
    # listens and connects on 127.0.0.1
    command = [
        sys.executable, "-m", "bench.overload.run",
        "--participants", str(PARTICIPANTS), "--seconds", str(WINDOW_S),
        "--warmup", "2", "--tracks-timeout", "8", "--quiet-timeout", "0",
        "--allow-network", "--out", str(out),
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT_S
    )
    assert done.returncode == 0, f"the benchmark failed:\n{done.stderr[-4000:]}"
    record: dict[str, Any] = json.loads(out.read_text())
    return record


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One benchmark run for both tests (it takes about a minute)."""
    return _run_bench(tmp_path_factory.mktemp("overload") / "overload.json")


def test_nine_parties_keep_their_connections_and_audio(record: dict[str, Any]) -> None:
    totals = record["totals"]
    lost = [
        e
        for e in record["connection_events"]
        if e["state"] in ("failed", "closed") and e["t"] < record["seconds"]
    ]
    expired = totals["consent_expired"]
    assert not lost and not expired["server_s"] and not expired["clients_s"], (
        f"connections lost: {lost[:6]}; 'Consent to send expired' at the server at "
        f"{expired['server_s']} s, at the clients at {expired['clients_s']} s"
    )
    dropped = totals["udp_drops"]
    assert not dropped.get("server"), f"datagrams dropped on the server's sockets: {dropped}"
    audio = totals["frames"]["audio"]
    assert audio["received"] >= AUDIO_TOTAL * audio["expected"], (
        f"audio: {audio['received']} frames received of {audio['expected']} sent; "
        f"server loop lag p99 {totals['loop_lag']['p99_ms']} ms"
    )


@pytest.mark.xfail(strict=False, reason="issue 29: on 2 cores with live captions video is shed")
def test_nine_parties_receive_every_frame(record: dict[str, Any]) -> None:
    totals = record["totals"]

    minimum = {"audio": MIN_AUDIO, "video": MIN_VIDEO}
    # ratio: of the frames the publisher sent (None: it sent none, a failure as well)
    short = [
        f"{p['subscriber']} <- {p['publisher']} {p['kind']}: "
        f"{100 * (p['ratio_last_20s'] or 0.0):.1f} %"
        for p in record["pairs"]
        if (p["ratio_last_20s"] or 0.0) < minimum[p["kind"]]
    ]
    assert not short, (
        f"{len(short)} of {len(record['pairs'])} (subscriber, publisher, kind) got too few "
        f"frames in the last {WINDOW_S} s (audio >= {MIN_AUDIO:.0%}, video >= {MIN_VIDEO:.0%}), "
        f"e.g. {short[:6]}; server loop lag p99 {totals['loop_lag']['p99_ms']} ms, UDP drops "
        f"{totals['udp_drops']}"
    )
