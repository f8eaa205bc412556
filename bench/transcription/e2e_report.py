"""Targets and markdown tables of the end-to-end transcription benchmark.

``python -m bench.transcription.e2e_report bench/results/transcription-e2e.json`` prints the
tables again.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

LATENCY_P50_TARGET_S = 1.5
REAL_WER_TARGET = 0.08
NAMES = {"four_speakers_in_turn": "four speakers in turn", "real_speech": "real speech"}


def targets(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its figure and whether it was met."""
    out: list[dict[str, Any]] = []
    for name, sc in record.get("scenarios", {}).items():
        p50 = sc["caption_latency"]["p50_s"]
        out.append(
            {
                "target": f"caption latency p50 <= {LATENCY_P50_TARGET_S} s at a client "
                f"({NAMES.get(name, name)})",
                "figure": p50,
                "met": p50 is not None and p50 <= LATENCY_P50_TARGET_S,
            }
        )
    real = record.get("scenarios", {}).get("real_speech")
    if real is not None:
        for source in ("transcript", "captions"):
            w = real["wer"][source]["wer"]
            out.append(
                {
                    "target": f"WER real speech <= {REAL_WER_TARGET} end to end ({source})",
                    "figure": w,
                    "met": w <= REAL_WER_TARGET,
                }
            )
    return out


def _lat(d: dict[str, Any]) -> str:
    if d["p50_s"] is None:
        return "none"
    return f"{d['p50_s']:.2f} / {d['p95_s']:.2f} / {d['max_s']:.2f} s"


def _parts(parts: dict[str, Any]) -> str:
    keys = ("speech_end_to_segment_end", "server", "delivery")
    if any(parts[k]["p50_s"] is None for k in keys):
        return "n/a"
    return " / ".join(f"{parts[k]['p50_s']:.3f}" for k in keys) + " s"


def _wer(d: dict[str, Any]) -> str:
    return f"{d['wer']:.3f} ({d['errors']}/{d['words']})"


def _rows(sc: dict[str, Any]) -> list[tuple[str, str]]:
    cpu = sc["cpu_s_per_s"]
    sl, cl = sc["server_loop_lag"], sc["client_loop_lag"]
    attributed = f"{sc['finals'] - sc['misattributed_finals']}/{sc['finals']}"
    return [
        (
            "speech / measured window",
            f"{sc['audio_s']} s / {cpu['window_s']} s, {sc['turns']} turns",
        ),
        ("**caption latency at the clerk** p50 / p95 / max", _lat(sc["caption_latency"])),
        (
            "latency the server reports (its end of speech → caption sent) "
            "p50 / p95 / max",
            _lat(sc["server_reported_latency"]),
        ),
        (
            "of which (p50): speech end → segment end the server stamps / → caption sent / "
            "→ at the clerk",
            _parts(sc["latency_parts"]),
        ),
        (
            "final captions / interim / late (> 4 s)",
            f"{sc['finals']} / {sc['interim']} / {sc['late_client']}",
        ),
        ("turns without a final caption", str(sc["turns_without_final_caption"])),
        ("final captions within their speaker's turn", attributed),
        ("**WER, final captions at the clerk**", _wer(sc["wer"]["captions"])),
        ("**WER, stored transcript**", _wer(sc["wer"]["transcript"])),
        (
            "CPU-s per s: server process + speech-to-text process = total",
            f"{cpu['server_process']:.2f} + {cpu['server_children']:.2f} = "
            f"{cpu['server_total']:.2f}",
        ),
        (
            "CPU-s per s: clients (this process) / other processes",
            f"{cpu['client_process']:.2f} / {cpu['other_processes']:.2f}",
        ),
        ("server event-loop lag p99 / max", f"{sl['p99_s']:.3f} / {sl['max_s']:.3f} s"),
        ("client event-loop lag p99 / max", f"{cl['p99_s']:.3f} / {cl['max_s']:.3f} s"),
        (
            "load average (1 min) at start / end",
            f"{sc['load_window']['start'][0]} / {sc['load_window']['end'][0]}",
        ),
        ("disturbed", "; ".join(sc["disturbed"]) or "no"),
    ]


def markdown(record: dict[str, Any]) -> str:
    """The tables for docs/performance.md."""
    scenarios = record.get("scenarios", {})
    names = list(scenarios)
    head = "| measure | " + " | ".join(NAMES.get(n, n) for n in names) + " |"
    lines = [head, "|---" * (len(names) + 1) + "|"]
    columns = [_rows(scenarios[n]) for n in names]
    for i, (label, _) in enumerate(columns[0] if columns else []):
        lines.append(f"| {label} | " + " | ".join(col[i][1] for col in columns) + " |")
    out = "\n".join(lines)
    a = scenarios.get("four_speakers_in_turn")
    if a is not None:
        out += "\n\n| voice | WER final captions | WER stored transcript |\n|---|---|---|\n"
        out += "\n".join(
            f"| {voice} | {_wer(d['captions'])} | {_wer(d['transcript'])} |"
            for voice, d in a["wer"]["per_voice"].items()
        )
    out += (
        f"\n\nLoad average before / after: {record.get('load_before')} / {record.get('load_after')}"
    )
    out += "\n\n" + "\n".join(
        f"- {t['target']}: {t['figure']} — **{'met' if t['met'] else 'NOT met'}**"
        for t in record.get("targets", [])
    )
    return out


def main() -> int:
    """Print the tables of a results file."""
    record = json.loads(Path(sys.argv[1]).read_text())
    print(markdown(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
