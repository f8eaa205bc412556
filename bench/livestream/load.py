"""200 HLS viewers against the app on loopback (issue 15, performance).

The app runs alone in its process (``bench.livestream.server``) with a public hearing in
session; two publishers (``bench.livestream.publishers``, another process) feed the
composite and the judge starts the livestream (4 s delay, 2 s segments). This process then
plays N viewers, each from its own loopback address (127.0.1.x: the per-address rate limit
and the viewer count see N clients), like a player: fetch the playlist every target
duration, fetch every new segment in order, start playing once three segments are buffered,
and count a stall whenever the play position catches up with what has been downloaded.

Measured: the server process's CPU with no viewers and with N viewers over equal windows,
p50/p95/max fetch times of segments and playlists, stalls, errors and 429s, and the viewer
count the public API reports.

    unshare -rn sh -c 'ip link set lo up && exec python -m bench.livestream.load --viewers 200'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.sfu.machine import describe_machine
from bench.sfu.procstat import process_cpu_seconds


@dataclass
class Viewer:
    address: str
    segment_ms: list[float] = field(default_factory=list)
    playlist_ms: list[float] = field(default_factory=list)
    stalls: int = 0
    stalled_s: float = 0.0
    errors: int = 0
    limited: int = 0
    bytes: int = 0


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 1)


async def play(base: str, hid: str, viewer: Viewer, until: float) -> None:
    connector = aiohttp.TCPConnector(local_addr=(viewer.address, 0), limit=2)
    timeout = aiohttp.ClientTimeout(total=20)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        fetched: set[str] = set()
        buffered_s = 0.0
        play_start: float | None = None
        stall_since: float | None = None
        target = 2.0
        while time.monotonic() < until:
            t0 = time.monotonic()
            try:
                async with http.get(f"{base}/live/{hid}/index.m3u8") as resp:
                    text = await resp.text()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError):
                viewer.errors += 1
                await asyncio.sleep(1)
                continue
            viewer.playlist_ms.append((time.monotonic() - t0) * 1000)
            if status == 429:
                viewer.limited += 1
                await asyncio.sleep(1)
                continue
            if status != 200:
                viewer.errors += 1
                await asyncio.sleep(1)
                continue
            lines = text.splitlines()
            entries: list[tuple[str, float]] = []
            for i, line in enumerate(lines):
                if line.startswith("#EXT-X-TARGETDURATION:"):
                    target = float(line.split(":")[1])
                if line.startswith("#EXTINF:"):
                    entries.append((lines[i + 1], float(line[8:].split(",")[0])))
            if not fetched:  # join at the live edge, three segments back (as hls.js does)
                for name, _ in entries[:-3]:
                    fetched.add(name)
            for name, duration in entries:
                if name in fetched:
                    continue
                t1 = time.monotonic()
                try:
                    async with http.get(f"{base}/live/{hid}/{name}") as resp:
                        body = await resp.read()
                        status = resp.status
                except (aiohttp.ClientError, TimeoutError):
                    viewer.errors += 1
                    break
                if status == 429:
                    viewer.limited += 1
                    break
                if status != 200:
                    viewer.errors += 1
                    fetched.add(name)
                    continue
                viewer.segment_ms.append((time.monotonic() - t1) * 1000)
                viewer.bytes += len(body)
                fetched.add(name)
                buffered_s += duration
            now = time.monotonic()
            if play_start is None and buffered_s >= 3 * target - 0.5:
                play_start = now
            if play_start is not None:
                position = now - play_start
                if position > buffered_s:  # ran dry: rebuffer
                    if stall_since is None:
                        stall_since = now
                        viewer.stalls += 1
                    play_start += position - buffered_s  # the clock waits for media
                elif stall_since is not None:
                    viewer.stalled_s += now - stall_since
                    stall_since = None
            await asyncio.sleep(max(0.2, target / 2 - (time.monotonic() - t0)))


def _loadavg() -> float:
    with open("/proc/loadavg") as fh:
        return float(fh.read().split()[0])


def _spawn(args: list[str], log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
    )


async def worker(base: str, hid: str, until: float, indices: list[int]) -> None:
    """One load-generator process: its share of the viewers; prints their stats as JSON."""
    crowd = [Viewer(f"127.0.{1 + i // 250}.{i % 250 + 2}") for i in indices]
    await asyncio.gather(*(play(base, hid, v, until) for v in crowd))
    print(json.dumps([v.__dict__ for v in crowd]))


async def main(viewers: int, seconds: float, out: Path | None, workers: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="livestream-load-"))
    server = _spawn(["bench.livestream.server", str(tmp / "var")], tmp / "server.log")
    publishers: subprocess.Popen[str] | None = None
    try:
        assert server.stdout is not None
        info = json.loads(await asyncio.to_thread(server.stdout.readline))
        base = f"http://127.0.0.1:{info['port']}"
        hid = info["hearing_id"]
        publishers = _spawn(
            ["bench.livestream.publishers", base, info["tokens"]["judge"], info["tokens"]["party"]],
            tmp / "publishers.log",
        )
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                async with http.get(f"{base}/live/{hid}/index.m3u8") as resp:
                    if resp.status == 200 and (await resp.text()).count("#EXTINF") >= 4:
                        break
                await asyncio.sleep(1)
            else:
                raise RuntimeError("the livestream never appeared")
            # No viewers: the composite, the publishers' media and the livestream.
            c0, w0 = process_cpu_seconds(server.pid), time.monotonic()
            await asyncio.sleep(seconds)
            idle = (process_cpu_seconds(server.pid) - c0) / (time.monotonic() - w0)
            load_before = _loadavg()
            until = time.monotonic() + seconds + 20  # CLOCK_MONOTONIC: the same in every process
            chunks = [list(range(i, viewers, workers)) for i in range(workers)]
            procs = [
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bench.livestream.load",
                    "--worker",
                    base,
                    hid,
                    str(until),
                    ",".join(map(str, chunk)),
                    stdout=asyncio.subprocess.PIPE,
                )
                for chunk in chunks
            ]
            await asyncio.sleep(10)  # everyone joined and playing
            c1, w1 = process_cpu_seconds(server.pid), time.monotonic()
            g1 = sum(process_cpu_seconds(p.pid) for p in procs)
            await asyncio.sleep(seconds / 2)
            async with http.get(f"{base}/api/public/hearings/{hid}") as resp:
                reported = (await resp.json())["viewers"]
            await asyncio.sleep(seconds / 2)
            busy = (process_cpu_seconds(server.pid) - c1) / (time.monotonic() - w1)
            generator = (sum(process_cpu_seconds(p.pid) for p in procs) - g1) / (
                time.monotonic() - w1
            )
            crowd = []
            for p in procs:
                out_b, _ = await p.communicate()
                crowd += [Viewer(**v) for v in json.loads(out_b)]
        seg = [x for v in crowd for x in v.segment_ms]
        pl = [x for v in crowd for x in v.playlist_ms]
        result = {
            "bench": "livestream-load",
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": describe_machine(),
            "loadavg_1m_before": load_before,
            "viewers": viewers,
            "window_s": seconds,
            "server_cpu_s_per_s_no_viewers": round(idle, 3),
            "server_cpu_s_per_s_with_viewers": round(busy, 3),
            "serving_cores": round(busy - idle, 3),
            "load_generator_cpu_s_per_s": round(generator, 3),
            "load_generator_processes": workers,
            "viewers_reported_by_api": reported,
            "segments_fetched": len(seg),
            "segment_fetch_ms": {
                "p50": _pct(seg, 0.5),
                "p95": _pct(seg, 0.95),
                "max": _pct(seg, 1.0),
            },
            "playlist_fetch_ms": {
                "p50": _pct(pl, 0.5),
                "p95": _pct(pl, 0.95),
                "max": _pct(pl, 1.0),
            },
            "mean_segment_kib": round(sum(v.bytes for v in crowd) / max(1, len(seg)) / 1024, 1),
            "stalls": sum(v.stalls for v in crowd),
            "viewers_with_stalls": sum(1 for v in crowd if v.stalls),
            "stalled_s_total": round(sum(v.stalled_s for v in crowd), 1),
            "errors": sum(v.errors for v in crowd),
            "rate_limited": sum(v.limited for v in crowd),
            "segments_per_viewer_median": statistics.median([len(v.segment_ms) for v in crowd]),
        }
        text = json.dumps(result, indent=2, ensure_ascii=False)
        print(text)
        if out:
            await asyncio.to_thread(out.write_text, text + "\n")
        return result
    finally:
        for proc in (publishers, server):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if os.environ.get("KEEP_LOGS") is None:  # KEEP_LOGS=1 keeps the server's log
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--viewers", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--workers", type=int, default=2, help="load-generator processes")
    ap.add_argument("--worker", nargs=4, metavar=("URL", "HEARING", "UNTIL", "INDICES"))
    args = ap.parse_args()
    if args.worker:
        url, hid, until, indices = args.worker
        asyncio.run(worker(url, hid, float(until), [int(i) for i in indices.split(",")]))
    else:
        asyncio.run(main(args.viewers, args.seconds, args.out, args.workers))
