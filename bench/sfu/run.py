"""``python -m bench.sfu.run``: the SFU benchmark sweep (see bench/README.md).

Runs one session per (K, repeat), writes each run's record to the results directory
and a summary with the targets to ``sfu-summary.json``; prints the markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .loopback import use_loopback_only
from .machine import describe_code, describe_machine
from .report import markdown_report, targets
from .session import RunConfig, Session

log = logging.getLogger("bench.run")
CLIENT_FPS_MIN = 29.5
DEFAULT_RESULTS = Path(__file__).resolve().parents[1] / "results"


def check_isolated() -> None:
    """Refuse to run with any interface but loopback (the network rule)."""
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)
    names = [line.split(":")[1].strip().split("@")[0] for line in out.stdout.splitlines()]
    if names != ["lo"]:
        sys.exit(
            f"interfaces {names}: run inside `unshare -n` with only lo up (see bench/README.md)"
        )


async def _undisturbed_run(
    config: RunConfig, log_dir: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """Run ``config``; run it again (up to ``--attempts``) while the run was disturbed
    (``disturbances``). The last attempt is kept, with its disturbances listed."""
    for attempt in range(1, args.attempts + 1):
        attempt_logs = log_dir / f"attempt-{attempt}"
        attempt_logs.mkdir(parents=True)
        record = await Session(config, attempt_logs).run()
        record["attempt"] = attempt
        record["disturbed"] = disturbances(record, args.max_other)
        if not record["disturbed"]:
            break
        print(f"  disturbed: {'; '.join(record['disturbed'])}", file=sys.stderr, flush=True)
    return record


def disturbances(record: dict[str, Any], max_other: float) -> list[str]:
    """Why a run does not measure the server alone: other people's processes were busy,
    or our own clients could not keep up (the camera's 30 fps did not get out, or the
    direct call, which involves no server, did not get 30 fps)."""
    found = []
    other = record["cpu_s_per_s"]["other_processes"]
    if other is not None and other > max_other:
        found.append(f"other processes used {other} CPU-s/s")
    sent = (record.get("publisher") or {}).get("sfu_sent_fps")
    if sent is not None and sent < CLIENT_FPS_MIN:
        found.append(f"the publisher sent {sent} fps")
    for row in record["receivers"]:
        if row["kind"] == "direct" and (row["fps"] or 0) < CLIENT_FPS_MIN:
            found.append(f"the direct call got {row['fps']} fps")
    return found


async def sweep(args: argparse.Namespace) -> dict[str, Any]:
    out_dir: Path = args.results
    log_dir = Path(tempfile.mkdtemp(prefix="bench-sfu-logs-"))
    runs: list[dict[str, Any]] = []
    started = time.monotonic()
    for repeat in range(1, args.repeats + 1):
        for k in args.k:
            config = RunConfig(
                subscribers=k,
                per_process=args.per_process,
                stagger_s=args.stagger,
                warmup_s=args.warmup,
                window_s=args.window,
                bitrate=args.bitrate,
                server_nice=args.server_nice,
                profile_server=args.profile_server,
                quiet_below=args.quiet_below,
                quiet_timeout_s=args.quiet_timeout,
                server_defaults=args.server_defaults,
            )
            print(f"run K={k} repeat {repeat} ...", file=sys.stderr, flush=True)
            record = await _undisturbed_run(config, log_dir / f"k{k:02d}-r{repeat}", args)
            record["repeat"] = repeat
            runs.append(record)
            path = out_dir / f"{args.prefix}-k{k:02d}-r{repeat}.json"
            path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
            print(f"  wrote {path}", file=sys.stderr, flush=True)
    summary = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": args.command_line,
        "nice": args.nice,
        "machine": describe_machine(),
        "code": describe_code(),
        "python": platform.python_version(),
        "duration_s": round(time.monotonic() - started, 1),
        "logs": str(log_dir),
        "targets": targets(runs),
        "runs": [{key: r[key] for key in r if key not in ("receivers", "config")} for r in runs],
    }
    (out_dir / f"{args.prefix}-summary.json").write_text(
        json.dumps(summary, indent=1, ensure_ascii=False) + "\n"
    )
    return summary


def add_machine_options(
    ap: argparse.ArgumentParser,
    *,
    quiet_below: float = 0.15,
    quiet_timeout: float = 120.0,
    quiet_seconds: int = 10,
    max_other: float = 0.3,
) -> None:
    """The options of a benchmark that shares its machine: priority, the wait for a quiet
    machine, what counts as disturbed, attempts, the loopback-only check."""
    ap.add_argument("--nice", type=int, default=0, help="for the whole benchmark, e.g. -10")
    ap.add_argument(
        "--quiet-below", type=float, default=quiet_below, help="busy fraction to wait for"
    )
    ap.add_argument("--quiet-timeout", type=float, default=quiet_timeout)
    ap.add_argument(
        "--quiet-seconds", type=int, default=quiet_seconds, help="quiet seconds in a row"
    )
    ap.add_argument("--max-other", type=float, default=max_other, help="CPU-s/s; more is disturbed")
    ap.add_argument("--attempts", type=int, default=1)
    ap.add_argument("--allow-network", action="store_true", help="skip the loopback-only check")


def prepare_machine(args: argparse.Namespace) -> None:
    """Before a benchmark with ``add_machine_options`` starts: loopback only (checked, and ICE
    candidates on 127.0.0.1), warnings logged, and ``--nice`` (every child inherits it)."""
    if not args.allow_network:
        check_isolated()
    use_loopback_only()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    if args.nice:
        os.nice(args.nice)


async def run_attempts(
    attempts: int,
    log_prefix: str,
    run_once: Callable[[Path], Awaitable[dict[str, Any]]],
    disturbed: Callable[[dict[str, Any]], list[str]],
    keep: Sequence[str] = (),
) -> dict[str, Any]:
    """``run_once`` with a fresh log directory; again (up to ``attempts`` times in all) while
    ``disturbed`` finds that other people's work disturbed it. Returns the last record with
    ``attempt``, ``logs``, ``disturbed`` and ``disturbed_attempts`` (of each attempt thrown
    away, its number, reasons and the ``keep`` keys)."""
    discarded: list[dict[str, Any]] = []
    record: dict[str, Any] = {}
    for attempt in range(1, attempts + 1):
        log_dir = Path(tempfile.mkdtemp(prefix=log_prefix))
        print(f"attempt {attempt}; logs in {log_dir}", file=sys.stderr, flush=True)
        record = await run_once(log_dir)
        record["attempt"] = attempt
        record["logs"] = str(log_dir)
        record["disturbed"] = disturbed(record)
        if not record["disturbed"]:
            break
        print(f"  disturbed: {'; '.join(record['disturbed'])}", file=sys.stderr, flush=True)
        discarded.append({k: record[k] for k in ("attempt", "disturbed", *keep)})
    record["disturbed_attempts"] = discarded
    return record


async def cancellable(work: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """Run ``work``; SIGTERM or SIGINT cancel it, so every child is still stopped."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    return await task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--k", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--per-process", type=int, default=4, help="subscribers per process")
    parser.add_argument("--stagger", type=float, default=0.5, help="s between joins")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--bitrate", type=int, default=1_000_000)
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="priority increment for the whole benchmark, e.g. -10 on a shared machine",
    )
    parser.add_argument(
        "--server-nice", type=int, default=0, help="the server's extra increment (diagnosis)"
    )
    parser.add_argument(
        "--profile-server", action="store_true", help="cProfile the server (diagnosis)"
    )
    parser.add_argument(
        "--quiet-below",
        type=float,
        default=0.15,
        help="before each run, wait until the machine is less busy than this",
    )
    parser.add_argument("--quiet-timeout", type=float, default=120.0, help="seconds")
    parser.add_argument(
        "--max-other",
        type=float,
        default=0.25,
        help="CPU-s/s other processes may use during a window before the run is repeated",
    )
    parser.add_argument("--attempts", type=int, default=3, help="per run, when disturbed")
    parser.add_argument(
        "--server-defaults",
        action="store_true",
        help="keep the composite view and recording on (default: off, the SFU alone)",
    )
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--tag", default="", help="file names: sfu-<tag>-kNN-rR.json")
    parser.add_argument("--allow-network", action="store_true", help="skip the loopback-only check")
    args = parser.parse_args()
    args.command_line = "python -m bench.sfu.run " + " ".join(sys.argv[1:])
    args.prefix = f"sfu-{args.tag}" if args.tag else "sfu"
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not args.allow_network:
        check_isolated()
    args.results.mkdir(parents=True, exist_ok=True)
    if args.nice:
        os.nice(args.nice)  # every child inherits it
    try:
        summary = asyncio.run(cancellable(sweep(args)))
    except asyncio.CancelledError:
        sys.exit("stopped by a signal; every child process was stopped")
    print(markdown_report(summary))


if __name__ == "__main__":
    main()
