"""The load monitor's levels, our sockets' drops as the kernel counts them, the shedding table."""

from __future__ import annotations

import socket

from hearing_server.core.participant import Participant, PartySide, Role
from hearing_server.media.load import (
    LoadLevel,
    LoadMonitor,
    LoadReading,
    LoadSettings,
    own_udp_drops,
)
from hearing_server.wiring.overload import kept_video

SETTINGS = LoadSettings(raise_lag_ms=80, calm_lag_ms=20, escalate_every_s=2, calm_s=6)


def _monitor() -> tuple[LoadMonitor, list[LoadReading]]:
    changes: list[LoadReading] = []

    async def on_change(reading: LoadReading) -> None:
        changes.append(reading)

    return LoadMonitor(on_change, SETTINGS, drops=lambda: 0), changes


async def _run(m: LoadMonitor, start: float, seconds: float, lag_ms: float) -> float:
    """Lag samples every 50 ms and an evaluation every second, as the monitor's task does."""
    t = start
    while t < start + seconds - 1e-9:
        m.record_lag(t, lag_ms)
        t = round(t + 0.05, 3)
        if abs(t - round(t)) < 1e-9:
            await m.evaluate(t, 0)
    return t


async def test_levels_rise_one_at_a_time_and_fall_after_calm() -> None:
    m, changes = _monitor()
    t = await _run(m, 0.0, 2.0, 5.0)
    assert m.level is LoadLevel.NORMAL
    t = await _run(m, t, 1.0, 150.0)
    assert m.level is LoadLevel.SHED_THUMBNAILS
    t = await _run(m, t, 1.0, 150.0)
    assert m.level is LoadLevel.SHED_THUMBNAILS  # at most one step per 2 s
    t = await _run(m, t, 1.0, 150.0)
    assert m.level is LoadLevel.SHED_VIDEO and "late" in changes[-1].reason
    t = await _run(m, t, 5.0, 2.0)
    assert m.level is LoadLevel.SHED_VIDEO  # calm, but not for 6 s yet
    t = await _run(m, t, 4.0, 2.0)
    assert m.level is LoadLevel.SHED_THUMBNAILS
    t = await _run(m, t, 7.0, 2.0)
    assert m.level is LoadLevel.NORMAL
    assert [c.level for c in changes] == [
        LoadLevel.SHED_THUMBNAILS,
        LoadLevel.SHED_VIDEO,
        LoadLevel.SHED_THUMBNAILS,
        LoadLevel.NORMAL,
    ]


async def test_dropped_datagrams_raise_the_level_even_when_the_lag_looks_fine() -> None:
    m, _ = _monitor()
    t = await _run(m, 0.0, 1.0, 5.0)
    reading = await m.evaluate(t, 12)
    assert reading.level is LoadLevel.SHED_THUMBNAILS and "12 datagrams" in reading.reason


async def test_dropped_datagrams_add_up_for_the_metrics() -> None:
    m, _ = _monitor()
    await m.evaluate(1.0, 3)
    await m.evaluate(2.0, 0)
    await m.evaluate(3.0, 4)
    assert m.dropped_total == 7


def test_own_udp_drops_counts_what_the_kernel_dropped_on_our_socket() -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        receiver.bind(("127.0.0.1", 0))
        before = own_udp_drops()
        assert before is not None
        for _ in range(200):  # nobody reads: the small buffer overflows
            sender.sendto(b"x" * 1000, receiver.getsockname())
        after = own_udp_drops()
        assert after is not None and after - before > 100
    finally:
        receiver.close()
        sender.close()


def _p(pid: str, role: Role) -> Participant:
    return Participant(
        id=pid,
        hearing_id="h",
        role=role,
        display_name=pid,
        side=PartySide.PLAINTIFF if role is Role.PARTY else None,
    )


def test_the_shedding_table() -> None:
    judge, clerk = _p("judge", Role.JUDGE), _p("clerk", Role.CLERK)
    alice, bob = _p("alice", Role.PARTY), _p("bob", Role.COUNSEL)
    pubs = [judge, clerk, alice, bob]
    kept = {
        level: (kept_video(level, alice, pubs, "bob"), kept_video(level, clerk, pubs, "bob"))
        for level in LoadLevel
    }
    assert kept[LoadLevel.NORMAL] == ({"judge", "clerk", "bob"}, {"judge", "alice", "bob"})
    assert kept[LoadLevel.SHED_THUMBNAILS] == ({"judge", "bob"}, {"judge", "alice", "bob"})
    assert kept[LoadLevel.SHED_VIDEO] == ({"judge"}, {"judge", "alice", "bob"})
    assert kept[LoadLevel.SHED_MOST] == (set(), {"judge", "bob"})
