"""Markdown tables of overload records.

``python -m bench.overload.report bench/results/overload-n09-r1.json [...] [--every 5]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _pct(got: float, expected: float) -> str:
    return f"{100 * got / expected:.1f} %" if expected else "-"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _states(shares: dict[str, float]) -> str:
    return ", ".join(f"{k} {100 * v:.0f} %" for k, v in list(shares.items())[:4]) or "-"


def _frames(f: dict[str, Any]) -> str:
    return f"{f['received']} / {f['expected']} ({_pct(f['received'], f['expected'])})"


def _lag(lag: dict[str, Any]) -> str:
    return f"{_fmt(lag['p50_ms'])} / {_fmt(lag['p99_ms'])} / {_fmt(lag['max_ms'])}"


def summary_rows(r: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) of one record's main figures."""
    t = r["totals"]
    cpu = t["cpu_s_per_s"]
    frames = t["frames"]
    fps = t["per_subscriber_fps"].values()
    worst = t["pairs_ratio_last_20s_min"]
    expired = t["consent_expired"]
    before = t.get("before_first_expiry")
    joined = r["timeline_s"].get("all_tracks", r["timeline_s"].get("tracks_timeout"))
    client_lag = max((v["max_ms"] or 0.0) for v in t["client_loop_lag"].values())
    return [
        (
            "machine busy before the run / load average (1 min) at start",
            f"{100 * r['machine_busy_before']:.0f} % / {r['load_average_start'][0]}",
        ),
        (
            "attempt (disturbed?)",
            f"{r.get('attempt', 1)} ({'; '.join(r.get('disturbed', [])) or 'no'})",
        ),
        ("whole benchmark's nice", str(r.get("nice", 0))),
        (
            "other processes / softirq / steal during the window, CPU-s/s",
            f"{_fmt(cpu['other_processes'])} / {_fmt(cpu['softirq'])} / {_fmt(cpu['steal'])}",
        ),
        ("audio frames received / sent by the others", _frames(frames["audio"])),
        ("video frames received / sent by the others", _frames(frames["video"])),
        (
            "frames/s per subscriber: sent by the others (mean) / min / max",
            f"{t['expected_per_subscriber_fps']} / {min(fps)} / {max(fps)}",
        ),
        (
            "worst (subscriber, publisher) pair in the last 20 s: audio / video",
            f"{100 * worst['audio']:.1f} % / {100 * worst['video']:.1f} %",
        ),
        (
            "frames the publishers sent, of the nominal 50 + 15 /s: audio (DTX withholds "
            "silence) / video",
            f"{_pct(frames['audio']['sent'], frames['audio']['sent_expected'])} / "
            f"{_pct(frames['video']['sent'], frames['video']['sent_expected'])}",
        ),
        (
            "'Consent to send expired': server / clients",
            f"{expired['server']} / {expired['clients']}",
        ),
        (
            "first server expiry, s into the window (everyone received everyone at)",
            f"{_fmt(min(expired['server_s'], default=None))} ({_fmt(joined)})",
        ),
        (
            "client connections failed, closed or disconnected",
            str(len(t["client_connections_lost"])),
        ),
        (
            "server CPU-s/s: process / its children (speech-to-text)",
            f"{_fmt(cpu['server'])} / {_fmt(cpu['server_children'])}",
        ),
        (
            "event-loop thread: CPU-s/s / runqueue wait s/s",
            f"{_fmt(cpu['loop_thread'])} / {_fmt(cpu['loop_thread_runqueue_wait'])}",
        ),
        ("event-loop thread state (sampled at 50 Hz)", _states(t["loop_states"])),
        ("clients CPU-s/s (all client processes)", _fmt(cpu["clients"])),
        ("probe + orchestrator CPU-s/s", f"{_fmt(cpu['probe'])} + {_fmt(cpu['orchestrator'])}"),
        ("server loop lag p50 / p99 / max ms", _lag(t["loop_lag"])),
        (
            "server loop lag p50 / p99 / max ms before the first expiry",
            _lag(before["loop_lag"]) if before else "-",
        ),
        ("client loop lag max ms (worst process)", _fmt(client_lag)),
        (
            "UDP datagrams dropped: server sockets / client sockets",
            f"{t['udp_drops'].get('server', 0)} / {t['udp_drops'].get('clients', 0)}",
        ),
        (
            "namespace Udp InDatagrams / RcvbufErrors / InErrors",
            f"{t['snmp']['InDatagrams']} / {t['snmp']['RcvbufErrors']} / {t['snmp']['InErrors']}",
        ),
        ("server forwarded packets/s", str(round(t["media"]["forwarded_packets"] / r["seconds"]))),
    ]


def summary_table(records: list[dict[str, Any]]) -> str:
    """One column per run."""
    head = [f"N={r['participants']} {r.get('tag') or Path(r.get('out', '')).stem}" for r in records]
    columns = [summary_rows(r) for r in records]
    lines = ["| | " + " | ".join(head) + " |", "|---|" + "---|" * len(head)]
    for i, (label, _) in enumerate(columns[0]):
        lines.append(f"| {label} | " + " | ".join(c[i][1] for c in columns) + " |")
    return "\n".join(lines)


def per_second_table(record: dict[str, Any], every: int = 5) -> str:
    lines = [
        "| s | audio rx % | video rx % | pairs < 50 % | server CPU | children | clients | "
        "other | loop thread CPU | runq wait | loop state (futex/epoll/runnable) | "
        "lag p99 / max ms | drops srv / cli | RcvbufErrors | expiries srv / cli | conn lost |",
        "|" + "---|" * 16,
    ]
    for row in record["per_second"]:
        s = row["s"]
        if s % every and s != record["seconds"] - 1 and not row["consent_expired"]["server"]:
            continue
        f = row["frames"]
        st = row["loop_states"]
        n = sum(st.values()) or 1
        cpu = row["cpu"]
        lines.append(
            f"| {s} | {_pct(f['audio']['received'], f['audio']['expected'])} | "
            f"{_pct(f['video']['received'], f['video']['expected'])} | {row['pairs_under_half']} | "
            f"{_fmt(cpu['server'])} | {_fmt(cpu['server_children'])} | {_fmt(cpu['clients'])} | "
            f"{_fmt(cpu['other'])} | {_fmt(cpu['loop_thread'])} | "
            f"{_fmt(cpu['loop_thread_runqueue_wait'])} | "
            f"{100 * st.get('futex', 0) / n:.0f} / {100 * st.get('epoll', 0) / n:.0f} / "
            f"{100 * st.get('runnable', 0) / n:.0f} | "
            f"{_fmt(row['loop_lag_ms']['p99'])} / {_fmt(row['loop_lag_ms']['max'])} | "
            f"{row['udp_drops'].get('server', 0)} / {row['udp_drops'].get('clients', 0)} | "
            f"{row['snmp'].get('RcvbufErrors', 0)} | "
            f"{row['consent_expired']['server']} / {row['consent_expired']['clients']} | "
            f"{row['client_connections_lost']} |"
        )
    return "\n".join(lines)


def threads_table(record: dict[str, Any]) -> str:
    top = record["totals"]["threads_top"]
    before = record["totals"].get("before_first_expiry", {}).get("threads_top", [])
    before_by = {r["thread"]: r["cpu_s_per_s"] for r in before}
    lines = [
        "| thread (comm) | threads | CPU-s/s window | CPU-s/s before the first expiry |",
        "|---|---|---|---|",
    ]
    for r in top:
        lines.append(
            f"| {r['thread']} | {r['threads']} | {_fmt(r['cpu_s_per_s'])} | "
            f"{_fmt(before_by.get(r['thread']))} |"
        )
    return "\n".join(lines)


def client_threads_table(record: dict[str, Any]) -> str:
    lines = ["| client thread (all client processes) | CPU-s/s window |", "|---|---|"]
    for r in record["totals"].get("client_threads_top", []):
        lines.append(f"| {r['thread']} | {_fmt(r['cpu_s_per_s'])} |")
    return "\n".join(lines)


def sockets_table(record: dict[str, Any], top: int = 12) -> str:
    lines = [
        "| owner | connection | port | drops in window | drops total | max rx queue bytes "
        "| seen (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in record["sockets"][:top]:
        lines.append(
            f"| {r['owner']} | {_fmt(r.get('connection'))} | {r['port']} | "
            f"{r['drops_in_window']} | {r['drops_total']} | "
            f"{r['rx_queue_max_bytes']} | {r['seen_s'][0]}..{r['seen_s'][1]} |"
        )
    return "\n".join(lines)


def markdown(records: list[dict[str, Any]], every: int = 5) -> str:
    parts = ["### Summary (window totals)", "", summary_table(records)]
    for r in records:
        name = Path(r.get("out", "")).name
        parts += [
            "",
            f"### {name}: per second (every {every} s, and every second with a server expiry)",
            "",
            per_second_table(r, every),
            "",
            f"### {name}: server threads, top CPU",
            "",
            threads_table(r),
            "",
            client_threads_table(r),
            "",
            f"### {name}: UDP sockets with the most drops",
            "",
            sockets_table(r),
        ]
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--every", type=int, default=5, help="per-second rows: every N s")
    args = parser.parse_args()
    records = [json.loads(f.read_text()) for f in args.files]
    print(markdown(records, args.every))


if __name__ == "__main__":
    main()
