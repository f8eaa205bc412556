"""The long signaling fuzzing run (issue 19, item 2): hypothesis-generated socket.io events
against a real server (tests/support/signaling_fuzz.py), in a court hearing and in a mediation,
each with the out-of-order, malformed-packet and burst phases. Prints a table, writes
bench/results/fuzz-signaling.json.

    unshare -n sh -c 'ip link set lo up && exec python -m bench.fuzz.signaling --events 6000'
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hearing_server.core.hearing import HearingKind

# The harness runs the app in this process (its state is checked against the store), so it
# lives with the tests' support code, which may import the app (testbed may not).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from support.signaling_fuzz import fuzz_signaling

RESULTS = Path(__file__).resolve().parents[1] / "results"


def _commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or "unknown"


def _say(kind: HearingKind, message: str) -> None:
    print(f"[{kind.value}] {message}", flush=True)


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="fuzz-signaling-") as tmp:
        for i, kind in enumerate((HearingKind.HEARING, HearingKind.MEDIATION)):
            started = time.monotonic()
            report = await fuzz_signaling(
                Path(tmp) / kind.value,
                events=args.events,
                kind=kind,
                seed_value=args.seed + 10 * i,
                burst=args.burst,
                progress=functools.partial(_say, kind),
            )
            runs.append({**report.to_json(), "seconds": round(time.monotonic() - started, 1)})
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": f"{platform.machine()}, {platform.processor() or platform.node()}",
        "events_per_run": args.events,
        "burst": args.burst,
        "seed": args.seed,
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=6000, help="generated events per run")
    parser.add_argument("--burst", type=int, default=2000, help="events in the burst")
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--out", type=Path, default=RESULTS / "fuzz-signaling.json")
    args = parser.parse_args(argv)
    report = asyncio.run(_run(args))
    total = failures = 0
    print(f"{'kind':10} {'phase':13} {'sent':>6} {'ok':>6} {'refused':>7} {'failures':>8}")
    for run in report["runs"]:
        for name, phase in run["phases"].items():
            print(
                f"{run['kind']:10} {name:13} {phase['sent']:6} {phase['ok']:6} "
                f"{phase['refused']:7} {phase['failures']:8}"
            )
        total += run["events"]
        failures += run["failure_count"]
        print(
            f"  server errors: {len(run['server_errors'])}, invariant problems: "
            f"{len(run['invariant_problems'])}, watcher: {run['watcher']}"
        )
        for line in run["failures"]:
            print(f"  FAILURE {line}")
    print(f"total: {total} events, {failures} failures")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
