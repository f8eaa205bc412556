"""Figures, targets and markdown tables of the action benchmark.

``python -m bench.actions.report bench/results/actions-run1.json [more.json ...]`` prints
the tables again.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.sfu.numbers import percentile

from .actions import ROWS

P95_TARGET_S = 0.2
MAX_TARGET_S = 1.0
STAFF = ("judge", "clerk")


def per_action(actions: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """n, p50, p95, max (s) and refusals of each row of ROWS."""
    out: dict[str, dict[str, Any]] = {}
    for name, by in ROWS:
        rows = [a for a in actions if a["name"] == name]
        lat = [a["latency_s"] for a in rows]
        p50, p95 = percentile(lat, 50), percentile(lat, 95)
        out[name] = {
            "by": by,
            "n": len(lat),
            "p50_s": None if p50 is None else round(p50, 4),
            "p95_s": None if p95 is None else round(p95, 4),
            "max_s": round(max(lat), 4) if lat else None,
            "errors": sorted({a["error"] for a in rows if a["error"]}),
        }
    return out


def targets(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Each judge's and clerk's action against p95 <= 0.2 s and max <= 1 s; the close (one
    sample) against both as well."""
    out = []
    for name, row in record["per_action"].items():
        if row["by"] not in STAFF:
            continue
        met = (
            row["n"] > 0
            and not row["errors"]
            and row["p95_s"] <= P95_TARGET_S
            and row["max_s"] <= MAX_TARGET_S
        )
        out.append({"action": name, "p95_s": row["p95_s"], "max_s": row["max_s"], "met": met})
    close = record["close"]
    out.append(
        {
            "action": "close",
            "p95_s": close["latency_s"],
            "max_s": close["latency_s"],
            "met": close["error"] is None and close["latency_s"] <= P95_TARGET_S,
        }
    )
    return out


def _s(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def markdown(record: dict[str, Any]) -> str:
    met = {t["action"]: t["met"] for t in record["targets"]}
    lines = [
        f"Run: {record['date']}, commit {record['code']['commit'][:7]}, "
        f"{record['config']['rounds']} rounds; load before {record['machine_before']['load']}, "
        f"after {record['machine_after']['load']}",
        "",
        "| action | by | n | p50 s | p95 s | max s | target met |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in record["per_action"].items():
        flag = "yes" if met.get(name) else ("no" if name in met else "(no target)")
        err = f" (refused: {', '.join(row['errors'])})" if row["errors"] else ""
        lines.append(
            f"| {name}{err} | {row['by']} | {row['n']} | {_s(row['p50_s'])} | "
            f"{_s(row['p95_s'])} | {_s(row['max_s'])} | {flag} |"
        )
    c = record["close"]
    lines += [
        "",
        "| close | value |",
        "|---|---|",
        f"| ack latency | {c['latency_s']:.3f} s ({'met' if met['close'] else 'NOT met'}) |",
        f"| speech queued for recognition at the close | {c['queued_speech_s']} s "
        f"({c['segments_after_close']} segments, spans {c['queued_segment_spans_s']} s) |",
        f"| transcript complete right after the close | {c['complete_right_after_close']} |",
        f"| transcript complete after the close | {c['complete_s_after_close']} s |",
    ]
    lag = record["server_loop_lag"]
    cpu = record["cpu_s_per_s"]
    lines += [
        "",
        "| server | actions phase | close to transcript complete | whole run |",
        "|---|---|---|---|",
        "| event-loop lag p50 / p99 / max s | "
        + " | ".join(
            f"{_s(lag[k]['p50_s'])} / {_s(lag[k]['p99_s'])} / {_s(lag[k]['max_s'])}"
            for k in ("actions", "close_to_complete", "run")
        )
        + " |",
        "| CPU-s/s server + speech-to-text; clients; others | "
        + " | ".join(
            f"{cpu[k]['server_process']:.2f} + {cpu[k]['server_children']:.2f}; "
            f"{cpu[k]['client_process']:.2f}; {cpu[k]['other_processes']:.2f}"
            for k in ("actions", "close_to_complete")
        )
        + " | |",
    ]
    slow = record.get("slow_listeners") or []
    if slow:
        lines += [
            "",
            "| listener the bus logged as slow (> 0.2 s) | event | times | max s | total s |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['listener']} | {r['event']} | {r['times']} | {r['max_s']:.2f} | "
            f"{r['total_s']:.2f} |"
            for r in slow
        ]
    return "\n".join(lines)


def pooled(records: Sequence[dict[str, Any]]) -> str:
    """One table over several runs: each action's answers of every run together, then each
    run's p95 / max; the closes one per run."""
    names = [f"run {i + 1}" for i in range(len(records))]
    lines = [
        "| action | by | n | p50 s | p95 s | max s | "
        + " | ".join(f"{n} p95 / max s" for n in names)
        + " | p95 <= 0.2 s and max <= 1 s |",
        "|---|---|---|---|---|---|" + "---|" * len(names) + "---|",
    ]
    rows = per_action([a for r in records for a in r["actions"]])
    for name, row in rows.items():
        runs = [r["per_action"][name] for r in records]
        if row["by"] not in STAFF:
            flag = "(a party's; no target)"
        elif row["p95_s"] <= P95_TARGET_S and row["max_s"] <= MAX_TARGET_S:
            flag = "met"
        else:
            flag = "**NOT met**"
        lines.append(
            f"| {name} | {row['by']} | {row['n']} | {_s(row['p50_s'])} | {_s(row['p95_s'])} | "
            f"{_s(row['max_s'])} | "
            + " | ".join(f"{_s(x['p95_s'])} / {_s(x['max_s'])}" for x in runs)
            + f" | {flag} |"
        )
    return "\n".join(lines)


def main() -> int:
    records = [json.loads(Path(path).read_text()) for path in sys.argv[1:]]
    for path, record in zip(sys.argv[1:], records, strict=True):
        print(f"## {path}\n")
        print(markdown(record))
        print()
    if len(records) > 1:
        print("## pooled\n")
        print(pooled(records))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
