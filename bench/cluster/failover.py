"""Failover time after a node is killed (issue 18, "Performance"; target: media flowing
again at most 10 s after the kill).

    python -m bench.cluster.failover --runs 5

Each run: a fresh cluster (bench/cluster/stack.py: Redis, PostgreSQL, nodes a and b), one
hearing in session; its judge publishes a 640x360 30 fps camera (bench/sfu/source.py) from
node a, where the judge's connect placed the hearing; a party, sent there from b with
``moved``, receives it. Once the party decodes frames, a is killed with SIGKILL. Then, in
seconds after the kill: (a) the hearing's lease in Redis is gone and (b) node b holds it;
(c) both clients rejoined (bench/cluster/resume.py: the web client's way, and an eager
client); (d) the judge published again; (e) the party decoded the first frame again. For
each ``--leases`` value (``hearing_lease_seconds``; default 5 and 2) and each ``--policies``
entry. Output: a table, and ``bench/results/cluster-failover[-TAG].json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from bench.sfu.loopback import use_loopback_only
from bench.sfu.machine import describe_code, describe_machine
from bench.sfu.numbers import percentile, rounded
from bench.sfu.source import Camera
from signaling.client import HearingClient
from testbed.nodes import judge_transition, open_hearing_with

from .load import LoadMeter
from .resume import Trace, resume_eager, resume_web
from .stack import owner_of, running_cluster

RESULTS = Path(__file__).resolve().parents[1] / "results"
TARGET_S = 10.0
RUN_TIMEOUT_S = 90.0
STEPS = ("lease_gone", "owned_by_b", "judge_joined", "party_joined", "published", "first_frame")


async def _first_frame(client: HearingClient, publisher_id: str) -> None:
    track = await client.wait_for_track(publisher_id, "video", timeout=RUN_TIMEOUT_S)
    await track.recv()


async def _watch_owner(r: aioredis.Redis, hid: str, killed: float, out: dict[str, float]) -> None:
    while "owned_by_b" not in out:
        owner = await owner_of(r, hid)
        now = round(time.monotonic() - killed, 3)
        if owner != "a":
            out.setdefault("lease_gone", now)
        if owner == "b":
            out["owned_by_b"] = now
        await asyncio.sleep(0.02)


async def _resume(
    policy: str,
    old: HearingClient,
    token: str,
    entry_url: str,
    rng: random.Random,
    killed: float,
    trace: Trace,
) -> HearingClient:
    after_s = float(old.join_info["failover"]["after_seconds"])
    node_url = old.base_url
    # the client learns of the kill when its websocket closes (HearingClient has no event
    # for that: polled)
    while old.connected:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    trace.append((round(time.monotonic() - killed, 3), node_url, "disconnected"))
    await old.close()
    if policy == "web":
        return await resume_web(token, node_url, entry_url, after_s, rng, killed, trace)
    return await resume_eager(token, entry_url, killed, trace)


async def one_run(lease: float, policy: str, seed: int) -> dict[str, Any]:
    """One kill; the times of every step after it (module docstring)."""
    rng = random.Random(seed)
    camera = Camera()
    clients: list[HearingClient] = []
    async with running_cluster(lease_seconds=lease) as cluster:
        a, b = cluster.nodes["a"], cluster.nodes["b"]
        hid, tokens = await open_hearing_with(b.url, ("judge", "王法官"), ("party", "张三"))
        await judge_transition(b.url, tokens["王法官"], "start")
        camera.start()
        r = cluster.redis_client()
        try:
            judge = HearingClient(a.url, tokens["王法官"])
            clients.append(judge)
            await judge.connect()
            judge_id = (await judge.join())["me"]["id"]
            party = HearingClient(b.url, tokens["张三"])
            clients.append(party)
            await party.connect()
            await party.join()
            assert party.base_url == a.url and await owner_of(r, hid) == "a"
            await judge.publish([camera.track("before")])
            await asyncio.wait_for(_first_frame(party, judge_id), 30)

            times: dict[str, float] = {}
            traces: dict[str, Trace] = {"judge": [], "party": []}
            killed = time.monotonic()
            await a.kill()
            watcher = asyncio.create_task(_watch_owner(r, hid, killed, times))

            async def judge_back() -> None:
                new = await _resume(
                    policy, judge, tokens["王法官"], b.url, rng, killed, traces["judge"]
                )
                clients.append(new)
                await new.join()
                times["judge_joined"] = round(time.monotonic() - killed, 3)
                await new.publish([camera.track("after")])
                times["published"] = round(time.monotonic() - killed, 3)

            async def party_back() -> None:
                new = await _resume(
                    policy, party, tokens["张三"], b.url, rng, killed, traces["party"]
                )
                clients.append(new)
                await new.join()
                times["party_joined"] = round(time.monotonic() - killed, 3)
                await _first_frame(new, judge_id)
                times["first_frame"] = round(time.monotonic() - killed, 3)

            error = None
            try:
                async with asyncio.timeout(RUN_TIMEOUT_S):
                    await asyncio.gather(judge_back(), party_back(), watcher)
            except Exception as exc:  # a run that never recovered is a result too
                error = f"{type(exc).__name__}: {exc}"
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
        finally:
            await r.aclose()
            for c in clients:
                with contextlib.suppress(Exception):
                    await c.close()
            await camera.stop()
    return {
        "lease_s": lease,
        "policy": policy,
        "seed": seed,
        "after_seconds": judge.join_info["failover"]["after_seconds"],
        "times_s": times,
        "error": error,
        "traces": traces,
    }


def _row(runs: list[dict[str, Any]], lease: float, policy: str) -> dict[str, Any]:
    mine = [r for r in runs if r["lease_s"] == lease and r["policy"] == policy]
    steps: dict[str, dict[str, float | None]] = {}
    for step in STEPS:
        values = [r["times_s"][step] for r in mine if step in r["times_s"]]
        steps[step] = {
            "n": len(values),
            "median": rounded(percentile(values, 50), 2),
            "max": rounded(max(values), 2) if values else None,
        }
    worst = steps["first_frame"]["max"]
    return {
        "lease_s": lease,
        "policy": policy,
        "runs": len(mine),
        "failed": sum(1 for r in mine if r["error"]),
        "steps": steps,
        "target_s": TARGET_S,
        "met": (worst is not None and worst <= TARGET_S and steps["first_frame"]["n"] == len(mine)),
    }


def table(result: dict[str, Any]) -> str:
    """The markdown table of docs/performance.md: median (max) seconds after the kill."""
    head = "| lease | client | runs | " + " | ".join(STEPS) + " | ≤ 10 s |"
    lines = [head, "|" + "---|" * (len(STEPS) + 4)]
    for row in result["rows"]:
        cells = []
        for step in STEPS:
            s = row["steps"][step]
            cells.append("-" if s["median"] is None else f"{s['median']} ({s['max']})")
        failed = f", {row['failed']} failed" if row["failed"] else ""
        lines.append(
            f"| {row['lease_s']:g} s | {row['policy']} | {row['runs']}{failed} | "
            + " | ".join(cells)
            + f" | {'met' if row['met'] else 'not met'} |"
        )
    load = result["machine_load"]
    lines.append("")
    lines.append(
        f"Median (max) s after the SIGKILL. Machine busy {load['machine_busy_cpu_s_per_s']} "
        f"of {load['cores']} cores over the runs (ours {load['ours_cpu_s_per_s']}, others "
        f"{load['others_cpu_s_per_s']}), load average {load['loadavg_end'][0]}."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="kills per lease and policy")
    parser.add_argument("--leases", type=float, nargs="+", default=[5.0, 2.0])
    parser.add_argument("--policies", nargs="+", choices=("web", "eager"), default=["web", "eager"])
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--tag", default="", help="cluster-failover-TAG.json")
    parser.add_argument("--out", type=Path, help="the JSON file (default: bench/results/)")
    args = parser.parse_args(argv)
    out = args.out or RESULTS / f"cluster-failover{'-' + args.tag if args.tag else ''}.json"
    use_loopback_only()

    async def run() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        load = LoadMeter.start()
        runs = []
        for lease in args.leases:
            for policy in args.policies:
                for i in range(args.runs):
                    done = await one_run(lease, policy, args.seed + i)
                    print(
                        f"lease {lease:g} s, {policy}, run {i + 1}: {done['times_s']}"
                        + (f" ERROR {done['error']}" if done["error"] else ""),
                        file=sys.stderr,
                    )
                    runs.append(done)
        return runs, load.report()

    runs, machine_load = asyncio.run(run())
    result = {
        "benchmark": "cluster-failover",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.cluster.failover", *sys.argv[1:]]),
        "machine": describe_machine(),
        "code": describe_code(),
        "machine_load": machine_load,
        "rows": [_row(runs, lease, policy) for lease in args.leases for policy in args.policies],
        "runs": runs,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(table(result))
    print(f"\nwritten: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
