"""The link emulator does what it is set to: UDP probes across a lab's link, each way,
measure the delay, jitter, loss, bursts, rate and blackouts it produces, and each is checked
against its setting within a stated tolerance (the tolerances allow for a shared 2-core
machine: the shaper is a Python process woken by select)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from testbed.netlab import Direction, Lab, unavailable
from testbed.netlab.probe import receive, send, summary

REASON = unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=str(REASON))
PORT = 47000
SIZE = 200


@pytest.fixture
def lab() -> Iterator[Lab]:
    with Lab() as lab:
        yield lab


def probe_up(lab: Lab, *, seconds: float, pps: float = 500, size: int = SIZE,
             during: Any = None, quiet: float = 0.6) -> dict[str, Any]:  # fmt: skip
    """From the participant to us: the sender in their namespace, the receiver here."""
    got: list[tuple[int, int, int]] = []
    listening = threading.Event()
    receiver = threading.Thread(
        target=lambda: got.extend(
            receive(lab.our_address, PORT, seconds=seconds + 5, quiet=quiet, ready=listening.set)
        )
    )
    receiver.start()
    assert listening.wait(5)
    sender = lab.popen(
        sys.executable, "-m", "testbed.netlab.probe", "send", lab.our_address, str(PORT),
        "--pps", str(pps), "--size", str(size), "--seconds", str(seconds),
        stdout=subprocess.PIPE,
    )  # fmt: skip
    if during is not None:
        during()
    out, _ = sender.communicate(timeout=seconds + 10)
    receiver.join(timeout=seconds + 10)
    return summary(got, json.loads(out)["sent"], size)


def probe_down(lab: Lab, *, seconds: float, pps: float = 500, size: int = SIZE) -> dict[str, Any]:
    """From us to the participant: the receiver in their namespace, the sender here."""
    receiver = lab.popen(
        sys.executable, "-m", "testbed.netlab.probe", "recv", lab.their_address, str(PORT),
        "--seconds", str(seconds + 5), stdout=subprocess.PIPE,
    )  # fmt: skip
    assert receiver.stdout is not None
    assert receiver.stdout.readline().strip() == b"ready"
    sent = send(lab.their_address, PORT, pps=pps, size=size, seconds=seconds)
    out, _ = receiver.communicate(timeout=seconds + 10)
    got = [tuple(g) for g in json.loads(out)]
    return summary(got, sent, size)  # type: ignore[arg-type]


def test_a_clean_link_delivers_everything_at_once(lab: Lab) -> None:
    up = probe_up(lab, seconds=1.0)
    down = probe_down(lab, seconds=1.0)
    for s in (up, down):
        assert s["loss"] == 0.0, s
        assert s["delay_ms"]["p50"] < 3.0, s
    stats = lab.stats()
    assert stats["up"]["delivered"] >= up["received"] and stats["down"]["received"] >= 1


def test_delay_and_jitter_each_way(lab: Lab) -> None:
    lab.set(up=Direction(delay_ms=100, jitter_ms=20), down=Direction(delay_ms=40))
    up = probe_up(lab, seconds=1.5, pps=200)
    down = probe_down(lab, seconds=1.0, pps=200)
    # Jitter: every delay within 100 ± 20 ms (+8 ms for a late wake-up), a real spread, and
    # never reordered. Packets keep their order, so one that drew a short delay waits behind
    # one that drew a long one: the median sits above the setting by up to half the jitter.
    assert up["delay_ms"]["min"] > 80 - 1 and up["delay_ms"]["max"] < 120 + 8, up
    assert up["delay_ms"]["p95"] - up["delay_ms"]["p05"] > 15, up
    assert 100 - 2 < up["delay_ms"]["p50"] < 110 + 8 and up["reordered"] == 0, up
    # Delay alone: the median within 8 ms of the setting.
    assert abs(down["delay_ms"]["p50"] - 40) < 8, down
    assert down["delay_ms"]["p95"] - down["delay_ms"]["p05"] < 15, down
    assert up["loss"] == 0 and down["loss"] == 0


def test_random_and_burst_loss(lab: Lab) -> None:
    lab.set(up=Direction(loss=0.10))
    random_loss = probe_up(lab, seconds=2.0, pps=1000)
    # 2,000 probes: the measured rate's standard deviation is 0.7 %; allowed ±3 %.
    assert abs(random_loss["loss"] - 0.10) < 0.03, random_loss
    assert random_loss["mean_burst"] < 1.5, random_loss
    lab.set(up=Direction(loss=0.10, burst=6))
    bursts = probe_up(lab, seconds=3.0, pps=1000)
    # ~50 bursts in 3,000 probes: the rate within ±5 %, the mean burst between 3 and 10.
    assert abs(bursts["loss"] - 0.10) < 0.05, bursts
    assert 3 <= bursts["mean_burst"] <= 10, bursts


def test_a_rate_limit(lab: Lab) -> None:
    # 4 Mbit/s offered into a 1 Mbit/s link: 1 Mbit/s comes out, the rest overflows the queue.
    lab.set(up=Direction(rate_kbps=1000, queue_ms=100))
    s = probe_up(lab, seconds=2.0, pps=2500, size=SIZE)
    # IP and UDP headers (28 bytes) count against the rate; the probe counts payloads.
    expected = 1000 * SIZE / (SIZE + 28)
    assert abs(s["throughput_kbps"] - expected) / expected < 0.10, s
    assert s["delay_ms"]["p95"] < 100 + 25, s  # the queue's limit bounds the wait
    assert lab.stats()["up"]["overflowed"] > 0


def test_a_blackout_and_a_change_while_running(lab: Lab) -> None:
    s = probe_up(
        lab, seconds=3.0, pps=200, quiet=1.6, during=lambda: _later(0.8, lab.blackout, 1.0)
    )
    # Nothing for 1 s (±150 ms: the probes come every 5 ms, the shaper wakes late under load).
    assert abs(s["longest_gap_ms"] - 1000) < 150, s
    assert 0.25 < s["loss"] < 0.45, s  # 1 s of 3
    assert lab.stats()["up"]["blacked_out"] > 0

    # Delay raised from 20 to 120 ms a second into the run: the late probes see it.
    lab.set(up=Direction(delay_ms=20))
    changed = probe_up(
        lab,
        seconds=2.0,
        pps=200,
        during=lambda: _later(1.0, lab.set, up=Direction(delay_ms=120)),
    )
    assert changed["delay_ms"]["min"] < 30 and changed["delay_ms"]["max"] > 110, changed


def test_bad_settings_are_refused(lab: Lab) -> None:
    from testbed.netlab import LabError

    with pytest.raises(LabError, match="out of range"):
        lab._ask({"up": {"loss": 1.5}})
    with pytest.raises(LabError, match="unknown"):
        lab._ask({"down": {"latency": 10}})
    lab.set(up=Direction())  # still answering


def _later(seconds: float, fn: Any, *args: Any, **kwargs: Any) -> None:
    timer = threading.Timer(seconds, fn, args, kwargs)
    timer.daemon = True
    timer.start()
