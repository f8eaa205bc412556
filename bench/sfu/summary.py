"""Turn one run's raw observations into its result record (what goes to JSON)."""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass, field
from typing import Any

from .numbers import percentile, rounded
from .procstat import MachineCpu

SERVER_CHILDREN = "server children"  # processes the server spawned (e.g. transcription)
_GAUGES = ("publishers", "subscribers", "published_tracks")  # in MediaRouter.stats()


@dataclass(frozen=True)
class Snapshot:
    """Every counter, read at the start or at the end of the measurement window."""

    t: float  # the orchestrator's time.monotonic()
    server_user: float  # CPU seconds of the server process
    server_system: float
    server_runtime: float  # the same from the scheduler's ns counters (a cross-check)
    machine: MachineCpu
    processes: dict[str, float]  # CPU seconds of our other processes, by name
    media_stats: dict[str, Any]  # the server's MediaRouter.stats()
    publisher: dict[str, Any]  # the publisher's mark event
    packets: dict[str, int]  # video RTP packets received so far, by receiver


@dataclass
class Observations:
    """Everything the orchestrator collected in one run."""

    subscribers: int
    config: dict[str, Any]
    start: Snapshot | None = None
    end: Snapshot | None = None
    receivers: list[dict[str, Any]] = field(default_factory=list)  # their result rows
    keyframe_requests: list[float] = field(default_factory=list)  # at the publisher, wall
    background_busy: float | None = None  # machine busy fraction just before the run
    failures: list[dict[str, Any]] = field(default_factory=list)


def _publisher(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    seconds: float = b["t"] - a["t"]

    def rate(key: str, name: str | None = None) -> float:
        if name is None:
            return float(b[key] - a[key]) / seconds
        return float(b[key][name] - a[key][name]) / seconds

    return {
        "camera_fps": rounded(rate("produced"), 2),
        "sfu_sent_fps": rounded(rate("sent_frames", "sfu"), 2),
        "direct_sent_fps": rounded(rate("sent_frames", "direct"), 2),
        "camera_frames_dropped": {
            k: b["dropped_frames"][k] - a["dropped_frames"][k] for k in b["dropped_frames"]
        },
        "keyframe_requests": b["keyframe_requests"] - a["keyframe_requests"],
        "sfu_kbps": rounded(rate("sfu_bytes") * 8 / 1000),
        "direct_kbps": rounded(rate("direct_bytes") * 8 / 1000),
        "sfu_packets_per_s": rounded(rate("sfu_packets")),
        "direct_packets_per_s": rounded(rate("direct_packets")),
    }


def _keyframe_requests_while_joining(r: dict[str, Any], requests: list[float]) -> list[float]:
    """When (ms after this receiver's join start) the publisher was asked for a keyframe,
    up to the receiver's first frame."""
    start, j2ff = r.get("join_started_wall"), r.get("join_to_first_frame_ms")
    if start is None or j2ff is None:
        return []
    return [round((t - start) * 1000, 1) for t in requests if 0 <= (t - start) * 1000 <= j2ff]


def _receiver_row(r: dict[str, Any], packets: int | None, requests: list[float]) -> dict[str, Any]:
    lat = r.get("latencies_ms") or []
    return {
        "name": r["name"],
        "kind": r.get("kind"),
        "join_to_first_frame_ms": rounded(r.get("join_to_first_frame_ms")),
        "steps_ms": r.get("steps_ms"),
        "signaling_errors": r.get("signaling_errors") or [],
        "keyframe_requests_while_joining_ms": _keyframe_requests_while_joining(r, requests),
        "fps": rounded(r.get("fps"), 2),
        "frames": r.get("frames"),
        "unreadable_stamps": r.get("unreadable_stamps"),
        "latency_p50_ms": rounded(percentile(lat, 50)),
        "latency_p95_ms": rounded(percentile(lat, 95)),
        "latency_max_ms": rounded(max(lat) if lat else None),
        "packets": packets,
    }


def _server(a: Snapshot, b: Snapshot, packets_seen: int) -> dict[str, Any]:
    seconds = b.t - a.t
    cpu = (b.server_user + b.server_system) - (a.server_user + a.server_system)
    counters = {k: b.media_stats[k] - a.media_stats.get(k, 0) for k in b.media_stats}
    counted = counters.get("forwarded_packets", 0)
    for gauge in _GAUGES:
        counters.pop(gauge, None)
    return {
        "cpu_s_per_s": rounded(cpu / seconds, 4),
        "cpu_seconds": rounded(cpu, 3),
        "system_cpu_seconds": rounded(b.server_system - a.server_system, 3),
        "schedstat_cpu_seconds": rounded(b.server_runtime - a.server_runtime, 3),
        "packets_received_by_subscribers": packets_seen,
        "forwarded_packets_per_s": rounded(packets_seen / seconds),
        "cpu_us_per_forwarded_packet": rounded(cpu * 1e6 / packets_seen) if packets_seen else None,
        "cpu_us_per_forwarded_packet_server_count": (
            rounded(cpu * 1e6 / counted) if counted else None
        ),
        "media_counters_delta": counters,
        "media_gauges": {k: b.media_stats[k] for k in _GAUGES if k in b.media_stats},
    }


def _cpu(a: Snapshot, b: Snapshot, server_cpu_s_per_s: float) -> dict[str, Any]:
    seconds = b.t - a.t
    clients = {
        name: rounded((b.processes[name] - a.processes.get(name, 0.0)) / seconds, 3)
        for name in b.processes
    }
    server_children = clients.pop(SERVER_CHILDREN, None) or 0.0
    clients_total = sum(v or 0.0 for v in clients.values())
    busy = b.machine.busy_fraction_since(a.machine)
    ours = server_cpu_s_per_s + server_children + clients_total
    other = busy * (os.cpu_count() or 1) - ours
    return {
        "server_children": rounded(server_children, 3),
        "clients": clients,
        "clients_total": rounded(clients_total, 3),
        "machine_busy_fraction": rounded(busy, 3),
        "other_processes": rounded(max(0.0, other), 3),
    }


def summarize(obs: Observations) -> dict[str, Any]:
    """The result record of one run."""
    a, b = obs.start, obs.end
    if a is None or b is None:
        raise ValueError("the run has no measurement window")
    rows = [
        _receiver_row(
            r,
            b.packets[r["name"]] - a.packets.get(r["name"], 0) if r["name"] in b.packets else None,
            obs.keyframe_requests,
        )
        for r in obs.receivers
    ]
    subs = [r for r in obs.receivers if r.get("kind") == "sfu"]
    direct = [r for r in obs.receivers if r.get("kind") == "direct"]
    packets_seen = sum(row["packets"] or 0 for row in rows if row["kind"] == "sfu")
    server = _server(a, b, packets_seen)
    cpu = _cpu(a, b, server["cpu_s_per_s"])
    cpu["machine_busy_fraction_before_run"] = rounded(obs.background_busy, 3)

    sfu_lat = [x for r in subs for x in r.get("latencies_ms") or []]
    direct_lat = [x for r in direct for x in r.get("latencies_ms") or []]
    fps = [r["fps"] for r in subs if r.get("fps") is not None]
    joins = [
        r["join_to_first_frame_ms"] for r in subs if r.get("join_to_first_frame_ms") is not None
    ]
    return {
        "subscribers": obs.subscribers,
        "config": obs.config,
        "window_s": rounded(b.t - a.t, 2),
        "server": server,
        "publisher": _publisher(a.publisher, b.publisher),
        "fps": {
            "min": rounded(min(fps), 2) if fps else None,
            "median": rounded(statistics.median(fps), 2) if fps else None,
            "subscribers_measured": len(fps),
        },
        "latency_ms": {
            "sfu_p50": rounded(percentile(sfu_lat, 50)),
            "sfu_p95": rounded(percentile(sfu_lat, 95)),
            "direct_p50": rounded(percentile(direct_lat, 50)),
            "direct_p95": rounded(percentile(direct_lat, 95)),
            "sfu_samples": len(sfu_lat),
            "direct_samples": len(direct_lat),
        },
        "join_to_first_frame_ms": {
            "p50": rounded(percentile(joins, 50)),
            "p95": rounded(percentile(joins, 95)),
            "max": rounded(max(joins) if joins else None),
            "values": [rounded(j) for j in joins],
        },
        "cpu_s_per_s": cpu,
        "receivers": rows,
        "failures": obs.failures,
    }
