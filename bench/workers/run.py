"""Capacity per machine with several worker processes vs one (issue 18, issue 21 item 3).

For each worker count (``--workers 1 2``) and each load (``--hearings 3 6 9``): a fresh
``hearing-server serve --workers W`` on a fresh data dir (SQLite) and a real redis-server, the
SFU alone (composite, recording, transcription and identity checks off); H hearings, each a
judge publishing a 320x180@15 VP8 camera at 500 kbit/s (encoded once) and a silent
microphone, and K parties (``--subscribers``) who receive without decoding. Every client
connects to worker 0 (the configured port, where join links point); the workers spread the
hearings between them (``hearing_placement = spread``). Over the window (``--seconds``,
after ``--warmup``) it measures the video frames received against the frames the cameras
sent (all subscribers, and the worst one), the server's CPU (the supervisor and every worker),
the clients' CPU, everybody else's CPU on the machine, and the server CPU per forwarded packet.

    unshare -n sh -c 'ip link set lo up && exec .venv/bin/python -m bench.workers.run \\
        --workers 1 2 --hearings 4 8 12 16 --subscribers 16 --seconds 20'

Output: ``--out`` (default bench/results/workers-capacity.json) and the markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench.sfu.api import Api, BenchHearing
from bench.sfu.machine import REPO, describe_code, describe_machine
from bench.sfu.procstat import MachineCpu, descendants, process_cpu_seconds
from testbed.nodes import ADMIN_KEY, server_environ

METRICS_TOKEN = "bench-workers-metrics-token-0123456789"
READY_S = 120.0


class Redis:
    """A throwaway redis-server on a Unix socket (no TCP port), dying with this process."""

    def __init__(self, root: Path) -> None:
        self.socket = root / "redis.sock"
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is missing (Debian package redis-server)")
        self.proc = subprocess.Popen(
            ["setpriv", "--pdeathsig", "KILL", binary, "--port", "0",
             "--unixsocket", str(self.socket), "--unixsocketperm", "700", "--save", "",
             "--appendonly", "no", "--dir", str(root), "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("redis-server did not start")
            time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def flush(self) -> None:
        subprocess.run(["redis-cli", "-s", str(self.socket), "FLUSHALL"], check=True,
                       capture_output=True, timeout=10)  # fmt: skip

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def free_ports(count: int) -> int:
    """A port followed by ``count`` - 1 free ones."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + count > 65535:
            continue
        try:
            for p in range(port, port + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        return port
    raise SystemExit("no free ports in a row")


def server_env(data_dir: Path, port: int, redis_url: str) -> dict[str, str]:
    return server_environ(
        data_dir,
        port,
        redis_url=redis_url,
        recording_auto_start="false",
        face_checks_enabled="false",
        log_level="WARNING",
        metrics_token=METRICS_TOKEN,
        # every client comes from 127.0.0.1: the per-address abuse limits would refuse them
        max_connections_per_address="100000",
        login_requests_per_minute="1000000",
        login_requests_per_minute_per_token="1000000",
    )


async def wait_ready(urls: list[str], proc: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + READY_S
    async with aiohttp.ClientSession() as http:
        for url in urls:
            while True:
                if proc.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not get ready at {url}")
                try:
                    async with http.get(f"{url}/readyz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)


async def server_metrics(urls: list[str]) -> dict[str, float]:
    """From every worker's /metrics: the highest load level and event-loop lag p95, and the
    datagrams dropped on the workers' sockets so far (summed)."""
    out = {"load_level": 0.0, "lag_p95_ms": 0.0, "udp_dropped": 0.0}
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    async with aiohttp.ClientSession() as http:
        for url in urls:
            async with http.get(f"{url}/metrics", headers=headers) as resp:
                text = await resp.text()
            for line in text.splitlines():
                if line.startswith("#") or " " not in line:
                    continue
                name, value = line.rsplit(" ", 1)
                if name.endswith("_load_level"):
                    out["load_level"] = max(out["load_level"], float(value))
                elif name.endswith('_event_loop_lag_seconds{stat="p95"}'):
                    out["lag_p95_ms"] = max(out["lag_p95_ms"], float(value) * 1000)
                elif name.endswith("_udp_dropped_datagrams_total"):
                    out["udp_dropped"] += float(value)
    return out


class Clients:
    """One client process (``bench.workers.clients``) and its line protocol."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, spec: dict[str, Any], log: Path) -> Clients:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.workers.clients", json.dumps(spec),
            cwd=REPO, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=log.open("ab"),
        )  # fmt: skip
        return cls(proc)

    async def event(self, name: str, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        while True:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
            if not line:
                raise RuntimeError(f"a client process ended before {name}")
            data: dict[str, Any] = json.loads(line)
            if data.get("event") == name:
                return data

    async def command(self, cmd: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"cmd": cmd}) + "\n").encode())
        await self.proc.stdin.drain()


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += process_cpu_seconds(pid)
    return total


async def step(args: argparse.Namespace, redis: Redis, workers: int, hearings: int,
               root: Path) -> dict[str, Any]:  # fmt: skip
    """One run: ``workers`` workers, ``hearings`` hearings of 1 publisher + K subscribers."""
    redis.flush()
    run_dir = root / f"w{workers}-h{hearings:02d}"
    run_dir.mkdir()
    port = free_ports(workers)
    urls = [f"http://127.0.0.1:{port + i}" for i in range(workers)]
    server_log = (run_dir / "server.log").open("ab")
    server = await asyncio.create_subprocess_exec(
        # SIGTERM (the server's own orderly stop) if this process dies first
        "setpriv", "--pdeathsig", "TERM",
        sys.executable, "-m", "hearing_server", "serve", "--workers", str(workers),
        cwd=REPO, env=server_env(run_dir / "data", port, redis.url),
        stdout=server_log, stderr=server_log,
    )  # fmt: skip
    clients: list[Clients] = []
    try:
        await wait_ready(urls, server)
        async with aiohttp.ClientSession() as http:
            api = Api(http, urls[0], ADMIN_KEY)
            made: list[BenchHearing] = [
                await api.create_bench_hearing(args.subscribers) for _ in range(hearings)
            ]
        per = args.hearings_per_process
        for first in range(0, hearings, per):
            spec = {
                "server_url": urls[0],
                "seed": first,
                "nice": args.client_nice,
                "hearings": [
                    {"judge": h.judge.token, "parties": [s.token for s in h.subscribers]}
                    for h in made[first : first + per]
                ],
            }
            clients.append(await Clients.start(spec, run_dir / "clients.log"))
        joined = [await c.event("joined", 180) for c in clients]
        failures = [f for j in joined for f in j["failures"]]
        placement: dict[str, int] = {}
        async with aiohttp.ClientSession() as http:
            for url in urls:
                async with http.get(f"{url}/api/node", headers={"X-API-Key": ADMIN_KEY}) as r:
                    data = await r.json()
                    placement[data["node"]["id"]] = len(data["hearings"])
        # every subscriber's connection is up (each join renegotiates) before the window
        deadline = time.monotonic() + args.tracks_timeout
        while True:
            for c in clients:
                await c.command("sample")
            rows = [await c.event("sample", 30) for c in clients]
            waiting = sum(
                1
                for r in rows
                for hearing in r["received"]
                for party in hearing
                if party["video_frames"] == 0
            )
            if waiting == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        await asyncio.sleep(args.warmup)

        server_pids = [server.pid, *descendants(server.pid)]
        client_pids = [c.proc.pid for c in clients]
        ours = [*server_pids, *client_pids, redis.proc.pid]

        async def sample() -> tuple[float, MachineCpu, list[dict[str, Any]], dict[str, float]]:
            for c in clients:
                await c.command("sample")
            rows = [await c.event("sample", 30) for c in clients]
            cpu = {
                "server": _cpu(server_pids),
                "clients": _cpu(client_pids),
                "ours": _cpu(ours),
            }
            return time.monotonic(), MachineCpu.read(), rows, cpu

        t0, m0, before, cpu0 = await sample()
        metrics0 = await server_metrics(urls)
        # the load level and lag as the window ends, and its highest lag in between
        highest_lag = 0.0
        highest_level = 0.0
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            await asyncio.sleep(min(2.0, max(0.0, end - time.monotonic())))
            now = await server_metrics(urls)
            highest_lag = max(highest_lag, now["lag_p95_ms"])
            highest_level = max(highest_level, now["load_level"])
        t1, m1, after, cpu1 = await sample()
        metrics1 = await server_metrics(urls)
    finally:
        for c in clients:
            if c.proc.returncode is None:
                await c.command("stop")
        for c in clients:
            try:
                await asyncio.wait_for(c.proc.wait(), 30)
            except TimeoutError:
                c.proc.kill()
                await c.proc.wait()
        if server.returncode is None:
            server.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(server.wait(), 60)
            except TimeoutError:
                server.kill()
                await server.wait()
        server_log.close()

    span = t1 - t0
    sent = received = packets = 0
    worst = 1.0
    for b, a in zip(before, after, strict=True):
        for i, (rows_b, rows_a) in enumerate(zip(b["received"], a["received"], strict=True)):
            cam = a["sent"][i] - b["sent"][i]
            for rb, ra in zip(rows_b, rows_a, strict=True):
                got = ra["video_frames"] - rb["video_frames"]
                sent += cam
                received += got
                packets += (ra["video_packets"] - rb["video_packets"]) + (
                    ra["audio_packets"] - rb["audio_packets"]
                )
                worst = min(worst, got / cam if cam else 0.0)
    server_cpu = (cpu1["server"] - cpu0["server"]) / span
    client_cpu = (cpu1["clients"] - cpu0["clients"]) / span
    ours_cpu = (cpu1["ours"] - cpu0["ours"]) / span
    machine_busy = m1.busy_fraction_since(m0) * (os.cpu_count() or 1)
    streams = hearings * args.subscribers
    return {
        "workers": workers,
        "hearings": hearings,
        "subscribers_per_hearing": args.subscribers,
        "forwarded_video_streams": streams,
        "window_s": round(span, 2),
        "placement": placement,
        "join_failures": failures,
        "subscribers_without_video_at_start": waiting,
        "frames_received_ratio": round(received / sent, 4) if sent else 0.0,
        "worst_subscriber_ratio": round(worst, 4),
        "forwarded_packets_per_s": round(packets / span),
        "server_lag_p95_ms_highest": round(highest_lag, 1),
        "server_load_level_highest": int(highest_level),
        "server_udp_dropped": int(metrics1["udp_dropped"] - metrics0["udp_dropped"]),
        "server_cpu_cores": round(server_cpu, 3),
        "server_us_per_packet": round(server_cpu / packets * span * 1e6, 1) if packets else None,
        "streams_per_server_core": round(streams / server_cpu, 1) if server_cpu else None,
        "client_cpu_cores": round(client_cpu, 3),
        "others_cpu_cores": round(max(0.0, machine_busy - ours_cpu), 3),
        "machine_busy_cores": round(machine_busy, 3),
    }


def table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| workers | hearings | streams | frames received (worst subscriber) | forwarded pkt/s "
        "| server CPU (cores) | µs/packet | streams per server core | server lag p95 (ms), "
        "shedding | clients CPU | others' CPU | hearings per worker |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        spread = "/".join(str(v) for _, v in sorted(r["placement"].items()))
        out.append(
            f"| {r['workers']} | {r['hearings']} | {r['forwarded_video_streams']} "
            f"| {r['frames_received_ratio'] * 100:.1f} % "
            f"({r['worst_subscriber_ratio'] * 100:.1f} %)"
            f" | {r['forwarded_packets_per_s']} | {r['server_cpu_cores']:.2f} "
            f"| {r['server_us_per_packet']} | {r['streams_per_server_core']} "
            f"| {r.get('server_lag_p95_ms_highest', '?')}, level "
            f"{r.get('server_load_level_highest', '?')} "
            f"| {r['client_cpu_cores']:.2f} | {r['others_cpu_cores']:.2f} | {spread} |"
        )
    return "\n".join(out)


def capacity(rows: list[dict[str, Any]], target: float) -> dict[str, int]:
    """Per worker count: the most streams at which every subscriber got ``target``."""
    best: dict[str, int] = {}
    for r in rows:
        key = str(r["workers"])
        if r["worst_subscriber_ratio"] >= target and not r["join_failures"]:
            best[key] = max(best.get(key, 0), r["forwarded_video_streams"])
        else:
            best.setdefault(key, 0)
    return best


async def main_async(args: argparse.Namespace) -> int:
    started = datetime.now(UTC).isoformat(timespec="seconds")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        root = Path(tmp)
        logs = Path(args.logs) if args.logs else root
        logs.mkdir(parents=True, exist_ok=True)
        redis = Redis(root)
        try:
            for hearings in args.hearings:  # loads interleaved: the machine's others hit both
                for workers in args.workers:
                    row = await step(args, redis, workers, hearings, logs)
                    rows.append(row)
                    print(json.dumps(row), flush=True)
        finally:
            redis.stop()
    result = {
        "benchmark": "bench.workers.run",
        "started": started,
        "command": " ".join(sys.argv),
        "machine": describe_machine(),
        "code": describe_code(),
        "shared_machine_note": args.note,
        "capacity_streams_at_99pct": capacity(rows, 0.99),
        "runs": rows,
    }
    text = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    await asyncio.to_thread(Path(args.out).write_text, text)
    print(table(rows))
    print("most streams with every subscriber at >= 99 %:", result["capacity_streams_at_99pct"])
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--hearings", type=int, nargs="+", default=[4, 8, 12, 16])
    parser.add_argument("--subscribers", type=int, default=16, help="K per hearing")
    parser.add_argument("--seconds", type=float, default=20.0, help="the measured window")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument(
        "--tracks-timeout", type=float, default=60.0, help="wait for every subscriber's video"
    )
    parser.add_argument("--hearings-per-process", type=int, default=2)
    parser.add_argument("--client-nice", type=int, default=0)
    parser.add_argument("--logs", help="keep the processes' logs here (default: discarded)")
    parser.add_argument("--note", default="", help="what else ran on the machine")
    parser.add_argument("--out", default=str(REPO / "bench/results/workers-capacity.json"))
    args = parser.parse_args()
    if any(w < 1 for w in args.workers) or math.prod(args.hearings) <= 0:
        parser.error("workers and hearings are positive")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
