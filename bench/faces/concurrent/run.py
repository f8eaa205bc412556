"""``python -m bench.faces.concurrent.run``: the camera check's time to a decision, its CPU, and
the media forwarding of the others in the hearing before and while three checks run at once
(issue 12). See bench/README.md.

Inside a network namespace with only loopback, as root, from the checkout::

    unshare -n sh -c 'ip link set lo up && exec /work/main/.venv/bin/python \\
        -m bench.faces.concurrent.run'

Writes ``--out`` (default ``bench/results/faces-concurrent.json``) and prints the markdown tables.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.sfu.machine import describe_code, describe_machine
from bench.sfu.run import add_machine_options, cancellable, prepare_machine, run_attempts
from facekit.testing import faces_dir

from .report import figures, markdown
from .session import REPO, FaceRun, RunConfig

RESULTS = REPO / "bench" / "results"


def disturbances(record: dict[str, Any], max_other: float) -> list[str]:
    """Phases in which other people's processes used more than ``max_other`` CPU-s/s."""
    return [
        f"{name}: other processes used {p['cpu']['other_processes']} CPU-s/s"
        for name, p in record["figures"]["phases"].items()
        if p["cpu"]["other_processes"] > max_other
    ]


async def _attempts(config: RunConfig, args: argparse.Namespace) -> dict[str, Any]:
    """Run; again (up to ``--attempts``) while other people's work disturbed a phase."""

    async def once(log_dir: Path) -> dict[str, Any]:
        record = await FaceRun(config, log_dir, args.faces).run()
        record["figures"] = figures(record)
        return record

    return await run_attempts(
        args.attempts,
        "bench-faces-logs-",
        once,
        lambda record: disturbances(record, args.max_other),
        keep=("figures",),
    )


async def _main(args: argparse.Namespace, config: RunConfig) -> dict[str, Any]:
    started = time.monotonic()
    head = {
        "benchmark": "faces-concurrent",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "unshare -n sh -c 'ip link set lo up && exec "
        "/work/main/.venv/bin/python -m bench.faces.concurrent.run " + " ".join(args.argv) + "'",
        "nice": args.nice,
        "machine": describe_machine(),
        "python": platform.python_version(),
        "code": describe_code(),
        "server": "hearing-server serve with its defaults (composite view, recording, "
        "transcription, face checks on) plus a 20 ms loop-lag ticker; the hearing's identity "
        "policy: parties face + liveness",
    }
    record = {**head, **await _attempts(config, args)}
    record["duration_s"] = round(time.monotonic() - started)
    return record


def main() -> int:
    argv = sys.argv[1:]
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    defaults = RunConfig()
    ap.add_argument("--rounds", type=int, default=defaults.rounds, help="of 3 checks at once")
    ap.add_argument("--idle", type=float, default=defaults.idle_s, help="s, nobody checking")
    ap.add_argument("--before", type=float, default=defaults.before_s, help="s, cameras on")
    ap.add_argument("--faces", type=Path, default=faces_dir(REPO), help="the test photos")
    ap.add_argument("--out", type=Path, default=RESULTS / "faces-concurrent.json")
    ap.add_argument("--server-log-level", default=defaults.server_log_level)
    ap.add_argument(
        "--client-nice",
        type=int,
        default=defaults.client_nice,
        help="the judge's, clerk's and parties' processes this much behind the server",
    )
    add_machine_options(ap, quiet_timeout=defaults.quiet_timeout_s, quiet_seconds=defaults.quiet_s)
    args = ap.parse_args(argv)
    args.argv = argv
    if not (args.faces / "obama.jpg").is_file():
        sys.exit(f"the test photos are not in {args.faces} (shared/testdata/faces)")
    prepare_machine(args)  # --nice: every child inherits it (the face worker adds its +5)
    config = RunConfig(
        rounds=args.rounds,
        idle_s=args.idle,
        before_s=args.before,
        server_log_level=args.server_log_level,
        client_nice=args.client_nice,
        quiet_below=args.quiet_below,
        quiet_timeout_s=args.quiet_timeout,
        quiet_s=args.quiet_seconds,
    )
    try:
        record = asyncio.run(cancellable(_main(args, config)))
    except asyncio.CancelledError:
        sys.exit("stopped by a signal; every child process was stopped")
    record["config"] = asdict(config)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    print(markdown(record))
    if record["disturbed"]:
        print("\ndisturbed: " + "; ".join(record["disturbed"]))
    print(f"\nwritten to {args.out}; logs in {record['logs']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
