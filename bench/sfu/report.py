"""Targets of issue 3 and the markdown table for docs/performance.md.

``python -m bench.sfu.report [bench/results/sfu-summary.json]`` prints the table again.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from .numbers import percentile, rounded

US_PER_PACKET_MAX = 40.0
FPS_MIN = 29.5  # "30 fps": the 30 fps source, within what a 20 s window can resolve
LATENCY_MARGIN_MS = 5.0
JOIN_P95_MAX_MS = 300.0
FPS_K = 16


def _by_k(runs: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        out[r["subscribers"]].append(r)
    return dict(sorted(out.items()))


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "NOT met")


def targets(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each target with its figure, taking the worst repeat of each K."""
    out: list[dict[str, Any]] = []
    for k, rs in _by_k(runs).items():
        per_packet = [r["server"]["cpu_us_per_forwarded_packet"] for r in rs]
        worst = max((p for p in per_packet if p is not None), default=None)
        out.append(
            {
                "target": f"server CPU per forwarded packet <= {US_PER_PACKET_MAX:g} µs (K={k})",
                "figure": worst,
                "met": None if worst is None else worst <= US_PER_PACKET_MAX,
            }
        )
    for k, rs in _by_k(runs).items():
        deltas = [
            r["latency_ms"]["sfu_p50"] - r["latency_ms"]["direct_p50"]
            for r in rs
            if r["latency_ms"]["sfu_p50"] is not None and r["latency_ms"]["direct_p50"] is not None
        ]
        worst_delta = rounded(max(deltas)) if deltas else None
        out.append(
            {
                "target": f"median latency <= direct call + {LATENCY_MARGIN_MS:g} ms (K={k})",
                "figure": worst_delta,
                "met": None if worst_delta is None else worst_delta <= LATENCY_MARGIN_MS,
            }
        )
    at_k = _by_k(runs).get(FPS_K, [])
    mins = [r["fps"]["min"] for r in at_k if r["fps"]["min"] is not None]
    missing = [r for r in at_k if r["fps"]["subscribers_measured"] < FPS_K]
    fps_min = min(mins) if mins else None
    out.append(
        {
            "target": f"30 fps at every subscriber at K={FPS_K} (min >= {FPS_MIN:g})",
            "figure": fps_min,
            "met": None if fps_min is None else fps_min >= FPS_MIN and not missing,
        }
    )
    joins = [j for r in runs for j in r["join_to_first_frame_ms"]["values"]]
    p95 = rounded(percentile(joins, 95))
    out.append(
        {
            "target": f"join-to-first-frame p95 <= {JOIN_P95_MAX_MS:g} ms (all subscribers, runs)",
            "figure": p95,
            "met": None if p95 is None else p95 <= JOIN_P95_MAX_MS,
        }
    )
    return out


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def markdown_report(summary: dict[str, Any]) -> str:
    """The results table and the targets table."""
    lines = [
        "| K | repeat | server CPU-s/s | µs/fwd pkt (subscriber count) | µs/fwd pkt "
        "(server count) | fwd pkt/s | fps min / median | latency p50 / p95 ms: SFU "
        "| direct | join→first frame p50 / p95 ms | publisher kbps / fps | clients CPU-s/s "
        "| other processes CPU-s/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in summary["runs"]:
        s, lat, j, pub = r["server"], r["latency_ms"], r["join_to_first_frame_ms"], r["publisher"]
        lines.append(
            "| "
            + " | ".join(
                [
                    str(r["subscribers"]) + (" (disturbed)" if r.get("disturbed") else ""),
                    str(r.get("repeat", 1)),
                    _fmt(s["cpu_s_per_s"]),
                    _fmt(s["cpu_us_per_forwarded_packet"]),
                    _fmt(s.get("cpu_us_per_forwarded_packet_server_count")),
                    _fmt(s["forwarded_packets_per_s"]),
                    f"{_fmt(r['fps']['min'])} / {_fmt(r['fps']['median'])}",
                    f"{_fmt(lat['sfu_p50'])} / {_fmt(lat['sfu_p95'])}",
                    f"{_fmt(lat['direct_p50'])} / {_fmt(lat['direct_p95'])}",
                    f"{_fmt(j['p50'])} / {_fmt(j['p95'])}",
                    f"{_fmt(pub['sfu_kbps'])} / {_fmt(pub['sfu_sent_fps'])}" if pub else "-",
                    _fmt(r["cpu_s_per_s"]["clients_total"]),
                    _fmt(r["cpu_s_per_s"].get("other_processes")),
                ]
            )
            + " |"
        )
    lines += ["", "| target | figure | |", "|---|---|---|"]
    for t in summary["targets"]:
        lines.append(f"| {t['target']} | {_fmt(t['figure'])} | {_met(t['met'])} |")
    return "\n".join(lines)


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("bench/results/sfu-summary.json")
    print(markdown_report(json.loads(path.read_text())))


if __name__ == "__main__":
    main()
