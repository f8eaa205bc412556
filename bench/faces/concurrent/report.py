"""The figures of a run (from its raw record) and the markdown tables.

``python -m bench.faces.concurrent.report FILE`` prints the tables of a written record again.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.sfu.numbers import percentile, rounded

from .session import CHECKS_AT_ONCE, CLIENTS, WAITING

_FRAMES = re.compile(r"face check of (\S+): (\w+) ([\d.]+) s, (\d+) frames \((\d+) encoded\)")


def _spans(record: dict[str, Any], prefix: str) -> list[tuple[float, float]]:
    return [(p["start"], p["end"]) for p in record["phases"] if p["name"].startswith(prefix)]


def _latency(record: dict[str, Any], spans: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """Forwarding latency (judge → server → clerk) of the frames read inside ``spans``."""
    r = record["receiver"]
    values = [
        ms
        for ms, at in zip(r["latencies_ms"], r["latency_read_at"], strict=True)
        if any(a <= at <= b for a, b in spans)
    ]
    seconds = sum(b - a for a, b in spans)
    return {
        "frames": len(values),
        "fps": rounded(len(values) / seconds, 1) if seconds else None,
        "p50_ms": rounded(percentile(values, 50)),
        "p95_ms": rounded(percentile(values, 95)),
        "max_ms": rounded(max(values)) if values else None,
    }


def _lag(record: dict[str, Any], spans: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """The server's event-loop lag (its 20 ms ticker, bench.actions.server) inside ``spans``."""
    lags = [
        lag * 1000 for at, lag in record["loop_lag_ticks"] if any(a <= at <= b for a, b in spans)
    ]
    return {
        "ticks": len(lags),
        "p50_ms": rounded(percentile(lags, 50)),
        "p99_ms": rounded(percentile(lags, 99)),
        "max_ms": rounded(max(lags)) if lags else None,
    }


def _cpu(record: dict[str, Any], prefix: str) -> dict[str, Any]:
    """CPU-s/s of each process over the phases named ``prefix``* (time-weighted)."""
    phases = [p for p in record["phases"] if p["name"].startswith(prefix)]
    wall = sum(p["end"] - p["start"] for p in phases)
    names = {k for p in phases for k in p["cpu_seconds"]}
    rates = {k: round(sum(p["cpu_seconds"].get(k, 0.0) for p in phases) / wall, 3) for k in names}
    other = sum(p["cpu"]["other_processes"] * p["cpu"]["window_s"] for p in phases) / wall
    busy = sum(p["cpu"]["machine_busy"] * p["cpu"]["window_s"] for p in phases) / wall
    return {
        "window_s": round(wall, 1),
        "cpu_s_per_s": dict(sorted(rates.items())),
        "machine_busy": round(busy, 3),
        "other_processes": round(other, 3),
    }


def _frames_by_participant(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Frames analysed per check, from the server's log line (keyed by participant id)."""
    out: dict[str, dict[str, Any]] = {}
    for line in record.get("face_check_log", []):
        m = _FRAMES.search(line)
        if m:
            out[m.group(1)] = {
                "check_s": float(m.group(3)),
                "frames": int(m.group(4)),
                "encoded": int(m.group(5)),
            }
    return out


def _checks(record: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Per check: face/start to the decision's push, and the CPU it cost."""
    phases = [p for p in record["phases"] if p["name"].startswith(prefix)]
    checks = [c for p in phases for c in p["checks"]]
    logged = _frames_by_participant(record)
    analysed = [logged[c["participant_id"]] for c in checks if c.get("participant_id") in logged]
    frames = [a["frames"] for a in analysed]
    encoded = [a["encoded"] for a in analysed]
    decided = [c for c in checks if c.get("decided") is not None]
    to_decision = [c["decided"] - c["started"] for c in decided]
    to_answer = [c["answered"] - c["started"] for c in checks if "answered" in c]
    after_last = [
        c["decided"] - max(t for t, done in c["progress"] if done == len(c["challenges"]))
        for c in decided
        if any(done == len(c["challenges"]) for _, done in c["progress"])
    ]
    worker = sum(p["cpu_seconds"].get("face_worker", 0.0) for p in phases)
    server = sum(p["cpu_seconds"].get("server", 0.0) for p in phases)
    wall = sum(p["end"] - p["start"] for p in phases)
    before = _cpu(record, "before")["cpu_s_per_s"].get("server", 0.0)
    server_extra = server - before * wall
    n = len(checks)
    outcomes = [
        f"{(c.get('face') or {}).get('decision')}/{(c.get('face') or {}).get('liveness')}"
        for c in checks
    ]
    return {
        "checks": n,
        "decided": len(decided),
        "passed": sum(1 for c in checks if c.get("outcome") == "passed"),
        "outcomes": outcomes,
        "distances": [(c.get("face") or {}).get("distance") for c in checks],
        "start_to_decision_s": {
            "p50": rounded(percentile(to_decision, 50), 2),
            "p95": rounded(percentile(to_decision, 95), 2),
            "max": rounded(max(to_decision), 2) if to_decision else None,
            "values": [round(v, 2) for v in to_decision],
        },
        "start_answered_s_p50": rounded(percentile(to_answer, 50), 3),
        "last_challenge_to_decision_s": {
            "p50": rounded(percentile(after_last, 50), 2),
            "p95": rounded(percentile(after_last, 95), 2),
        },
        "frames_analysed_p50": rounded(percentile(frames, 50)),
        "encoded_p50": rounded(percentile(encoded, 50)),
        "frames_analysed_per_s": (
            round(sum(frames) / sum(a["check_s"] for a in analysed), 1) if analysed else None
        ),
        "face_worker_cpu_s_per_check": round(worker / n, 2) if n else None,
        # Negative when the server got less CPU than before (starved by other processes):
        # then it says nothing about the checks.
        "server_extra_cpu_s_per_check": (
            round(server_extra / n, 2) if n and server_extra >= 0 else None
        ),
        "phase_wall_s": round(wall, 1),
    }


def _one_phase(record: dict[str, Any], phase: dict[str, Any]) -> dict[str, Any]:
    """One phase (one round apart from the others): how disturbed it was, and its figures."""
    span = [(phase["start"], phase["end"])]
    rates = phase["cpu"]["cpu_s_per_s"]
    return {
        "name": phase["name"],
        "window_s": phase["cpu"]["window_s"],
        "forwarding_latency": _latency(record, span),
        "loop_lag": _lag(record, span),
        "server_cpu": rates.get("server"),
        "face_worker_cpu": rates.get("face_worker"),
        "server_waiting": rates.get(WAITING + "server"),
        "face_worker_waiting": rates.get(WAITING + "face_worker"),
        "other_processes": phase["cpu"]["other_processes"],
        "passed": [c.get("outcome") == "passed" for c in phase["checks"]],
        "decided_after_s": [
            round(c["decided"] - c["started"], 1)
            for c in phase["checks"]
            if c.get("decided") is not None
        ],
    }


def figures(record: dict[str, Any]) -> dict[str, Any]:
    """Every figure of the tables, by phase."""
    out: dict[str, Any] = {"phases": {}}
    for key in ("idle", "before", "during", "single"):
        spans = _spans(record, key)
        out["phases"][key] = {
            "spans": len(spans),
            "forwarding_latency": _latency(record, spans),
            "loop_lag": _lag(record, spans),
            "cpu": _cpu(record, key),
        }
    out["checks"] = {"at_once": _checks(record, "during"), "alone": _checks(record, "single")}
    out["each_phase"] = [_one_phase(record, p) for p in record["phases"]]
    b, d = out["phases"]["before"], out["phases"]["during"]

    def ratio(x: float | None, y: float | None) -> float | None:
        return round(x / y, 2) if x is not None and y else None

    out["during_over_before"] = {
        "latency_p50": ratio(d["forwarding_latency"]["p50_ms"], b["forwarding_latency"]["p50_ms"]),
        "latency_p95": ratio(d["forwarding_latency"]["p95_ms"], b["forwarding_latency"]["p95_ms"]),
        "lag_p50": ratio(d["loop_lag"]["p50_ms"], b["loop_lag"]["p50_ms"]),
        "lag_p99": ratio(d["loop_lag"]["p99_ms"], b["loop_lag"]["p99_ms"]),
        "lag_max": ratio(d["loop_lag"]["max_ms"], b["loop_lag"]["max_ms"]),
    }
    return out


def _f(value: Any, unit: str = "") -> str:
    return "-" if value is None else f"{value}{unit}"


def markdown(record: dict[str, Any]) -> str:
    fig = record["figures"]
    ph = fig["phases"]
    cols = [
        ("idle", "idle: judge → clerk only"),
        ("before", "before: 3 cameras on, no check"),
        ("during", f"during: {CHECKS_AT_ONCE} checks at once"),
        ("single", "one check alone"),
    ]
    lines = [
        "| | " + " | ".join(title for _, title in cols) + " |",
        "|---|" + "---|" * len(cols),
    ]

    def row(label: str, cell: Any) -> None:
        lines.append(f"| {label} | " + " | ".join(cell(ph[k]) for k, _ in cols) + " |")

    row("measured", lambda p: f"{p['cpu']['window_s']} s")
    row(
        "forwarding latency p50 / p95 (max)",
        lambda p: (
            f"{_f(p['forwarding_latency']['p50_ms'])} / "
            f"{_f(p['forwarding_latency']['p95_ms'])} ms ({_f(p['forwarding_latency']['max_ms'])})"
        ),
    )
    row("frames/s at the clerk", lambda p: _f(p["forwarding_latency"]["fps"]))
    row(
        "server loop lag p50 / p99 / max",
        lambda p: (
            f"{_f(p['loop_lag']['p50_ms'])} / {_f(p['loop_lag']['p99_ms'])} / "
            f"{_f(p['loop_lag']['max_ms'])} ms"
        ),
    )
    row("server process CPU-s/s", lambda p: _f(p["cpu"]["cpu_s_per_s"].get("server")))
    row("face worker CPU-s/s", lambda p: _f(p["cpu"]["cpu_s_per_s"].get("face_worker")))
    row(
        "waiting for a CPU, s/s: server / face worker",
        lambda p: (
            f"{_f(p['cpu']['cpu_s_per_s'].get(WAITING + 'server'))} / "
            f"{_f(p['cpu']['cpu_s_per_s'].get(WAITING + 'face_worker'))}"
        ),
    )
    row(
        "server's other children CPU-s/s",
        lambda p: _f(p["cpu"]["cpu_s_per_s"].get("server_other_children")),
    )
    row(
        "clients (judge, clerk, parties) CPU-s/s",
        lambda p: _f(round(sum(p["cpu"]["cpu_s_per_s"].get(k, 0.0) for k in CLIENTS), 2)),
    )
    row("other people's processes CPU-s/s", lambda p: _f(p["cpu"]["other_processes"]))

    c = fig["checks"]
    lines += [
        "",
        "| checks | n (passed) | face/start → decision p50 / p95 (max) | last challenge done → "
        "decision p50 | frames analysed per check p50 (encoded), per s | face worker CPU per "
        "check | server process CPU per check (above before) |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, title in (("at_once", f"{CHECKS_AT_ONCE} at once"), ("alone", "alone")):
        k = c[key]
        t = k["start_to_decision_s"]
        lines.append(
            f"| {title} | {k['checks']} ({k['passed']}) | {_f(t['p50'])} / {_f(t['p95'])} s "
            f"({_f(t['max'])}) | {_f(k['last_challenge_to_decision_s']['p50'])} s | "
            f"{_f(k['frames_analysed_p50'])} ({_f(k['encoded_p50'])}), "
            f"{_f(k['frames_analysed_per_s'])}/s | "
            f"{_f(k['face_worker_cpu_s_per_check'])} CPU-s | "
            f"{_f(k['server_extra_cpu_s_per_check'])} CPU-s |"
        )
    lines += [
        "",
        "| phase | s | latency p50 / p95 | loop lag p99 / max | CPU-s/s server / worker "
        "(waiting for a CPU) | other processes | decided after s (passed) |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in fig["each_phase"]:
        lat, lag = e["forwarding_latency"], e["loop_lag"]
        checks = ", ".join(
            f"{t}{'' if ok else ' ✗'}"
            for t, ok in zip(e["decided_after_s"], e["passed"], strict=False)
        )
        lines.append(
            f"| {e['name']} | {e['window_s']} | {_f(lat['p50_ms'])} / {_f(lat['p95_ms'])} ms | "
            f"{_f(lag['p99_ms'])} / {_f(lag['max_ms'])} ms | {_f(e['server_cpu'])} / "
            f"{_f(e['face_worker_cpu'])} ({_f(e['server_waiting'])} / "
            f"{_f(e['face_worker_waiting'])}) | {_f(e['other_processes'])} | {checks or '-'} |"
        )
    r = fig["during_over_before"]
    lines += [
        "",
        "| during / before | forwarding latency p50 | p95 | loop lag p50 | p99 | max |",
        "|---|---|---|---|---|---|",
        f"| ratio | {_f(r['latency_p50'])} | {_f(r['latency_p95'])} | {_f(r['lag_p50'])} | "
        f"{_f(r['lag_p99'])} | {_f(r['lag_max'])} |",
    ]
    return "\n".join(lines)


def main() -> None:
    record = json.loads(Path(sys.argv[1]).read_text())
    record["figures"] = figures(record)
    print(markdown(record))


if __name__ == "__main__":
    main()
