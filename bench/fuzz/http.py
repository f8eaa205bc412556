"""The long HTTP fuzzing run (issue 19, item 1): schemathesis against a real server with
every credential and every phase (testbed/http_fuzz.py), twice: path parameters on a real
hearing and participant, then random ones. Prints a table, writes bench/results/fuzz-http.json.

    unshare -n sh -c 'ip link set lo up && exec python -m bench.fuzz.http --max-examples 10'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from testbed.http_fuzz import ALL_PHASES, CHECKS, fuzz_server

RESULTS = Path(__file__).resolve().parents[1] / "results"


def _commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or "unknown"


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="fuzz-http-") as tmp:
        for real_ids in (True, False):
            started = time.monotonic()
            results, errors = await fuzz_server(
                Path(tmp) / ("real" if real_ids else "random"),
                max_examples=args.max_examples,
                seed=args.seed,
                real_ids=real_ids,
                phases=args.phases,
            )
            for r in results:
                if r.exit_code != 0:
                    print(f"== {r.role} ({'real' if real_ids else 'random'} ids) ==")
                    print(r.output[-8000:])
            runs.append(
                {
                    "path_parameters": "real" if real_ids else "random",
                    "seconds": round(time.monotonic() - started, 1),
                    "roles": [r.to_json() for r in results],
                    "server_errors": errors,
                }
            )
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": f"{platform.machine()}, {platform.processor() or platform.node()}",
        "max_examples": args.max_examples,
        "phases": args.phases,
        "checks": list(CHECKS),
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=10)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--phases", default=ALL_PHASES)
    parser.add_argument("--out", type=Path, default=RESULTS / "fuzz-http.json")
    args = parser.parse_args(argv)
    report = asyncio.run(_run(args))
    total = failures = 0
    print(f"{'ids':8} {'role':6} {'cases':>7} {'failures':>8} {'exit':>4}")
    for run in report["runs"]:
        for r in run["roles"]:
            total += r["generated"]
            failures += r["failures"]
            print(
                f"{run['path_parameters']:8} {r['role']:6} {r['generated']:7} "
                f"{r['failures']:8} {r['exit_code']:4}"
            )
        print(f"  server 5xx / unhandled errors: {len(run['server_errors'])}")
    print(f"total: {total} cases, {failures} failures")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    bad = failures or any(run["server_errors"] for run in report["runs"])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
