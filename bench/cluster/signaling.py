"""Signaling clients spread over two nodes (issue 18, "Performance").

    python -m bench.cluster.signaling --clients 500 --seconds 600

A real redis-server, one PostgreSQL and two ``hearing-server serve`` processes on this
machine (bench/cluster/stack.py); ``--hearings`` hearings, each with a judge and parties
(the judge starts the hearing on arrival; parties who came first wait and are let in). The
clients (signaling only, no media) start ``--ramp`` per second in a shuffled order, each at
a node picked at random, so the first client of a hearing places it on the node it asked
and about half of the others are sent on with ``moved``. After the last join and
``--warmup`` seconds, the window of ``--seconds``: every client stays connected and does
what clients do (bench/cluster/clients.py). Measured: join latency (connect to join ack,
the ``moved`` hop included), each node's RSS at the window's start and end, Redis ops/s,
refusals, dropped connections, request round trips, and the machine's load (it is shared).
Output: a table on stdout and ``bench/results/cluster-signaling[-TAG].json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.sfu.machine import describe_code, describe_machine
from bench.sfu.numbers import percentile, rounded
from bench.sfu.procstat import process_cpu_seconds
from testbed.nodes import open_hearing_with

from .clients import Outcome, Person, SignalingParticipant
from .load import LoadMeter
from .stack import Cluster, gather_bounded, redis_stats, rss_bytes, running_cluster

RESULTS = Path(__file__).resolve().parents[1] / "results"
SAMPLE_EVERY_S = 10.0
MIB = 1024 * 1024


async def _make_hearings(cluster: Cluster, hearings: int, people: int) -> list[Person]:
    """``hearings`` opened hearings, each with a judge and ``people - 1`` parties, made
    through the two nodes' staff APIs in turn. Their judges start them once joined, from the
    hearing's node, as a judge's console does: the recording starts there and then."""
    urls = cluster.urls()

    async def one(i: int) -> list[Person]:
        base = urls[i % len(urls)]
        roles = [("judge", f"法官{i}")] + [("party", f"当事人{i}-{j}") for j in range(1, people)]
        hid, tokens = await open_hearing_with(base, *roles)
        return [Person(hid, role, tokens[name]) for role, name in roles]

    made = await gather_bounded(4, *(one(i) for i in range(hearings)))
    return [p for group in made for p in group]


def _cpu_sample(cluster: Cluster) -> dict[str, float]:
    """CPU-s used so far by each node and by this process (the clients)."""
    t = os.times()
    out = {name: process_cpu_seconds(node.proc.pid) for name, node in cluster.nodes.items()}
    out["clients"] = t.user + t.system
    return out


# What a node's log says about its own trouble: leases it lost (its clients are sent away),
# event listeners that held up the event they were told of, load shedding, errors.
LOG_SIGNS = {
    "leases_lost": "lost the lease",
    "slow_listeners": "a listener must hand long work",
    "load_level_changes": "load level",
    "errors": " ERROR ",
}


def _log_counts(log: Path) -> dict[str, int]:
    text = log.read_text(errors="replace")
    return {what: text.count(sign) for what, sign in LOG_SIGNS.items()}


def _node_sample(cluster: Cluster) -> dict[str, int]:
    return {name: rss_bytes(node.proc.pid) for name, node in cluster.nodes.items()}


async def _measure(args: argparse.Namespace, cluster: Cluster) -> dict[str, Any]:
    rng = random.Random(args.seed)
    started = time.monotonic()
    people = await _make_hearings(cluster, args.hearings, max(1, args.clients // args.hearings))
    people = people[: args.clients]
    setup_s = time.monotonic() - started
    rng.shuffle(people)
    urls = cluster.urls()
    clients = [
        SignalingParticipant(p, rng.choice(urls), random.Random(rng.random()), args.timeout)
        for p in people
    ]
    idle_rss = _node_sample(cluster)
    stop = asyncio.Event()
    lives: list[asyncio.Task[None]] = []

    async def start(i: int, client: SignalingParticipant) -> None:
        await asyncio.sleep(i / args.ramp)
        if await client.join():
            lives.append(asyncio.create_task(client.live(stop), name=f"client-{i}"))

    ramp_start = time.monotonic()
    ramp_cpu = _cpu_sample(cluster)
    await asyncio.gather(*(start(i, c) for i, c in enumerate(clients)))
    ramp_s = time.monotonic() - ramp_start
    ramp_cpu = {k: round((v - ramp_cpu[k]) / ramp_s, 2) for k, v in _cpu_sample(cluster).items()}
    for c in clients:
        c.outcome.started -= ramp_start
    await asyncio.sleep(args.warmup)

    redis = cluster.redis_client()
    try:
        warm = {"rss": _node_sample(cluster), "redis": await redis_stats(redis)}
        load = LoadMeter.start()
        window_start = time.monotonic()
        samples: list[dict[str, Any]] = []
        while (left := window_start + args.seconds - time.monotonic()) > 0:
            await asyncio.sleep(min(SAMPLE_EVERY_S, left))
            samples.append(
                {
                    "t": round(time.monotonic() - window_start, 1),
                    "rss": _node_sample(cluster),
                    "redis": await redis_stats(redis),
                }
            )
        window_s = time.monotonic() - window_start
        end = {"rss": _node_sample(cluster), "redis": await redis_stats(redis)}
        machine_load = load.report()
    finally:
        await redis.aclose()
    stop.set()
    await asyncio.gather(*lives)
    served = {name: len(await cluster.served(name)) for name in cluster.nodes}
    log_counts = {name: _log_counts(node.log) for name, node in cluster.nodes.items()}
    await gather_bounded(50, *(c.close() for c in clients))
    return _summary(
        args,
        [c.outcome for c in clients],
        setup_s=setup_s,
        ramp_s=ramp_s,
        ramp_cpu=ramp_cpu,
        window_s=window_s,
        idle_rss=idle_rss,
        warm=warm,
        end=end,
        samples=samples,
        served=served,
        log_counts=log_counts,
        node_urls={name: node.url for name, node in cluster.nodes.items()},
        machine_load=machine_load,
    )


def _ms(values: list[float], q: float) -> float | None:
    return rounded(None if not values else (percentile(values, q) or 0.0) * 1000, 1)


def _summary(
    args: argparse.Namespace,
    outcomes: list[Outcome],
    *,
    setup_s: float,
    ramp_s: float,
    ramp_cpu: dict[str, float],
    window_s: float,
    idle_rss: dict[str, int],
    warm: dict[str, Any],
    end: dict[str, Any],
    samples: list[dict[str, Any]],
    served: dict[str, int],
    log_counts: dict[str, dict[str, int]],
    node_urls: dict[str, str],
    machine_load: dict[str, Any],
) -> dict[str, Any]:
    joined = [o for o in outcomes if o.join_s is not None]
    joins = [o.join_s for o in joined if o.join_s is not None]
    moved = [o.join_s for o in joined if o.moved and o.join_s is not None]
    direct = [o.join_s for o in joined if not o.moved and o.join_s is not None]
    calls = [c for o in outcomes for c in o.calls]
    call_errors: Counter[str] = Counter()
    for o in outcomes:
        call_errors.update(o.call_errors)
    ops = [s["redis"]["instantaneous_ops_per_sec"] for s in samples]
    commands = end["redis"]["total_commands_processed"] - warm["redis"]["total_commands_processed"]
    nodes = {
        name: {
            "rss_idle_mib": round(idle_rss[name] / MIB, 1),
            "rss_warm_mib": round(warm["rss"][name] / MIB, 1),
            "rss_end_mib": round(end["rss"][name] / MIB, 1),
            "rss_growth_pct": rounded(
                100 * (end["rss"][name] - warm["rss"][name]) / warm["rss"][name], 1
            )
            if warm["rss"][name]
            else None,
            "hearings_served_at_end": served[name],
            "clients_at_join": sum(1 for o in joined if o.node_url == node_urls[name]),
            "log": log_counts[name],
        }
        for name in sorted(idle_rss)
    }
    return {
        "benchmark": "cluster-signaling",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.cluster.signaling", *sys.argv[1:]]),
        "machine": describe_machine(),
        "code": describe_code(),
        "machine_load": machine_load,
        "config": {
            "clients": args.clients,
            "hearings": args.hearings,
            "ramp_per_s": args.ramp,
            "warmup_s": args.warmup,
            "window_s": round(window_s, 1),
            "seed": args.seed,
            "recording_auto_start": not args.no_recording,
            "store": "postgresql",
            "redis": "redis-server on a Unix socket",
        },
        "setup_s": round(setup_s, 1),
        "ramp_s": round(ramp_s, 1),
        "ramp_cpu_s_per_s": ramp_cpu,
        "joined": len(joined),
        "moved": len(moved),
        "refused_or_failed": dict(Counter(o.error for o in outcomes if o.error)),
        "dropped_during_window": sum(1 for o in outcomes if o.dropped_at is not None),
        "join_ms": {
            "all": _percentiles(joins),
            "moved": _percentiles(moved),
            "direct": _percentiles(direct),
        },
        "calls": {"count": len(calls), "ms": _percentiles(calls), "errors": dict(call_errors)},
        "pushes_received": sum(o.pushes for o in outcomes),
        "nodes": nodes,
        "redis": {
            "ops_per_s_mean_of_instantaneous": rounded(sum(ops) / len(ops), 1) if ops else None,
            "ops_per_s_max_of_instantaneous": max(ops) if ops else None,
            "commands_per_s_over_window": rounded(commands / window_s, 1) if window_s else None,
        },
        "samples": samples,
        "clients_rows": [o.row() for o in outcomes],
    }


def _percentiles(values: list[float]) -> dict[str, float | None]:
    return {
        "n": len(values),
        "p50": _ms(values, 50),
        "p95": _ms(values, 95),
        "p99": _ms(values, 99),
        "max": _ms(values, 100),
    }


def table(result: dict[str, Any]) -> str:
    """The markdown rows of docs/performance.md for one run."""
    j, cfg, load = result["join_ms"], result["config"], result["machine_load"]
    lines = [
        f"{cfg['clients']} clients, {cfg['hearings']} hearings, {cfg['ramp_per_s']} joins/s, "
        f"recording {'on' if cfg['recording_auto_start'] else 'off'}, "
        f"window {cfg['window_s']:g} s; machine busy {load['machine_busy_cpu_s_per_s']} of "
        f"{load['cores']} cores (ours {load['ours_cpu_s_per_s']}, others "
        f"{load['others_cpu_s_per_s']}), load average {load['loadavg_end'][0]}",
        "",
        "| join latency (ms) | n | p50 | p95 | p99 | max |",
        "|---|---|---|---|---|---|",
    ]
    for what in ("all", "direct", "moved"):
        row = j[what]
        lines.append(
            f"| {what} | {row['n']} | {row['p50']} | {row['p95']} | {row['p99']} | {row['max']} |"
        )
    lines += [
        "",
        "| node | clients | hearings | RSS idle (MiB) | RSS warm | RSS end | growth | log |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, n in result["nodes"].items():
        lines.append(
            f"| {name} | {n['clients_at_join']} | {n['hearings_served_at_end']} | "
            f"{n['rss_idle_mib']} | {n['rss_warm_mib']} | {n['rss_end_mib']} | "
            f"{n['rss_growth_pct']} % | "
            + ", ".join(f"{k} {v}" for k, v in n["log"].items() if v)
            + " |"
        )
    r, c = result["redis"], result["calls"]
    lines += [
        "",
        f"Redis: {r['commands_per_s_over_window']} commands/s over the window "
        f"(instantaneous_ops_per_sec mean {r['ops_per_s_mean_of_instantaneous']}, "
        f"max {r['ops_per_s_max_of_instantaneous']}). Joined {result['joined']} "
        f"({result['moved']} after `moved`), refused or failed {result['refused_or_failed']}, "
        f"dropped during the window {result['dropped_during_window']}. Requests in the window: "
        f"{c['count']}, round trip p50 {c['ms']['p50']} ms, p95 {c['ms']['p95']} ms, "
        f"errors {c['errors']}. CPU-s/s during the {result['ramp_s']} s of joins: "
        + ", ".join(f"{k} {v}" for k, v in result["ramp_cpu_s_per_s"].items())
        + ".",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--hearings", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=600.0, help="the measured window")
    parser.add_argument("--ramp", type=float, default=20.0, help="clients started per second")
    parser.add_argument("--warmup", type=float, default=10.0, help="s after the last join")
    parser.add_argument("--lease", type=float, default=5.0, help="hearing_lease_seconds")
    parser.add_argument("--timeout", type=float, default=30.0, help="a request's timeout, s")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--tag", default="", help="cluster-signaling-TAG.json")
    parser.add_argument("--out", type=Path, help="the JSON file (default: bench/results/)")
    parser.add_argument("--logs", type=Path, help="keep the nodes' logs in this directory")
    parser.add_argument(
        "--no-recording",
        action="store_true",
        help="recording_auto_start off: a started hearing records nothing (signaling alone)",
    )
    args = parser.parse_args(argv)
    out = args.out or RESULTS / f"cluster-signaling{'-' + args.tag if args.tag else ''}.json"

    async def run() -> dict[str, Any]:
        # every client comes from 127.0.0.1: the per-address connection limit must let
        # them all in (it is measured elsewhere)
        extra = {"recording_auto_start": "false"} if args.no_recording else {}
        async with running_cluster(
            lease_seconds=args.lease,
            keep_logs=args.logs,
            max_connections_per_address=str(args.clients * 2),
            **extra,
        ) as cluster:
            return await _measure(args, cluster)

    result = asyncio.run(run())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(table(result))
    print(f"\nwritten: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
