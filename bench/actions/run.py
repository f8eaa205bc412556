"""``python -m bench.actions.run``: how fast the judge's and clerk's actions are answered
while the server composes, records and transcribes, and the close with speech still queued
for recognition (issue 24). See bench/README.md.

Inside a network namespace with only loopback, as root, from the checkout::

    unshare -n sh -c 'ip link set lo up && exec /work/main/.venv/bin/python -m bench.actions.run'

Writes ``--out`` (default ``bench/results/actions.json``) and prints the markdown tables.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import platform
import sys
import time
from collections.abc import Coroutine
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.sfu.machine import describe_code, describe_machine
from bench.sfu.run import add_machine_options, cancellable, prepare_machine, run_attempts

from .report import markdown, per_action, targets
from .session import ActionRun, RunConfig

RESULTS = Path(__file__).resolve().parents[1] / "results"
PACKAGES = ("aiohttp", "aiortc", "python-socketio", "faster-whisper", "av")


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


async def _attempts(config: RunConfig, args: argparse.Namespace) -> dict[str, Any]:
    """Run; again (up to ``--attempts``) while other people's work disturbed the run."""

    def disturbed(record: dict[str, Any]) -> list[str]:
        other = record["cpu_s_per_s"]["actions"]["other_processes"]
        return [f"other processes used {other} CPU-s/s"] if other > args.max_other else []

    return await run_attempts(
        args.attempts,
        "bench-actions-logs-",
        lambda log_dir: ActionRun(config, log_dir).run(),
        disturbed,
        keep=("close", "cpu_s_per_s"),
    )


async def _main(args: argparse.Namespace, config: RunConfig) -> dict[str, Any]:
    started = time.monotonic()
    head = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "unshare -n sh -c 'ip link set lo up && exec "
        "/work/main/.venv/bin/python -m bench.actions.run " + " ".join(args.argv) + "'",
        "machine": describe_machine(),
        "python": platform.python_version(),
        "packages": _versions(),
        "code": describe_code(),
        "server": "hearing-server serve, defaults: composite view, recording and "
        "transcription (Whisper tiny.en) on",
        "config": asdict(config),
    }
    record = {**head, **await _attempts(config, args)}
    record["per_action"] = per_action(record["actions"])
    record["targets"] = targets(record)
    record["duration_s"] = round(time.monotonic() - started)
    return record


def main() -> int:
    argv = sys.argv[1:]
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--rounds", type=int, default=20, help="times every action is performed")
    ap.add_argument("--spacing", type=float, default=0.6, help="s between two actions")
    ap.add_argument(
        "--burst", type=float, default=6.5, help="s each speaker talks in the last burst"
    )
    ap.add_argument("--out", type=Path, default=RESULTS / "actions.json")
    ap.add_argument("--server-nice", type=int, default=0)
    ap.add_argument("--server-log-level", default="WARNING", help="e.g. INFO to diagnose")
    add_machine_options(ap, quiet_timeout=600.0)
    args = ap.parse_args(argv)
    args.argv = argv
    prepare_machine(args)  # --nice: the server and its speech-to-text process inherit it
    config = RunConfig(
        rounds=args.rounds,
        spacing_s=args.spacing,
        burst_s=args.burst,
        server_nice=args.server_nice,
        server_log_level=args.server_log_level,
        quiet_below=args.quiet_below,
        quiet_timeout_s=args.quiet_timeout,
        quiet_s=args.quiet_seconds,
    )
    work: Coroutine[Any, Any, dict[str, Any]] = _main(args, config)
    try:
        record = asyncio.run(cancellable(work))
    except asyncio.CancelledError:
        sys.exit("stopped by a signal; the server was stopped")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    print(markdown(record))
    print(f"\nwritten to {args.out}; logs in {record['logs']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
