"""Soak (issue 19, item 6): many hearings with real aiortc participants for a long time, and
whether the server's resources stay flat.

    python -m bench.soak.run [--hearings 10] [--participants 5] [--seconds 600]
                             [--warmup 60] [--out bench/results/soak.json]

inside a fresh network namespace (``unshare -n sh -c 'ip link set lo up && exec python -m
bench.soak.run'``). A real ``hearing-server serve`` process (recording on; the composite and
live captions off: on two cores ten of either would be the whole machine) hosts the
hearings; each hearing's participants (a judge, then parties) are one client process
(``bench.overload.participants``: a looped, pre-encoded 320x180@15 camera and a microphone
each, the judge speaking, every participant receiving the others without decoding). Every
5 s the server's resident memory, open file descriptors and threads are read from /proc, and
its asyncio tasks and event-loop lag from ``/metrics``. After the warm-up, memory may grow by
less than 5 % and descriptors, threads and tasks must stay flat (within a small allowance for
what comes and goes); the server's log must hold no error. Prints a summary and writes the
record.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.sfu.children import Child
from testbed.nodes import (
    ServerProcess,
    open_hearing_with,
    start_server_process,
)

REPO = Path(__file__).resolve().parents[2]
SAMPLE_S = 5.0
METRICS_TOKEN = "soak-metrics-token-0123456789abcdef"
_METRIC = re.compile(r"^(hearing_server_\w+)(\{[^}]*\})? ([0-9.eE+-]+)$")
_ERROR = re.compile(r" (ERROR|CRITICAL) |^Traceback", re.MULTILINE)


@dataclass
class SoakConfig:
    """The run's shape."""

    hearings: int = 10
    participants: int = 5  # per hearing: a judge, then parties
    seconds: float = 600.0  # after everyone joined
    warmup: float = 60.0  # of those, not judged
    memory_growth: float = 0.05
    recording: bool = True
    allowance: int = 8  # descriptors, threads or tasks that may come and go


def _proc(pid: int) -> dict[str, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE).group(1))  # type: ignore[union-attr]
    return {
        "rss_kb": rss_kb,
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": len(os.listdir(f"/proc/{pid}/task")),
    }


async def _metrics(http: aiohttp.ClientSession, url: str) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    async with http.get(f"{url}/metrics", headers=headers) as resp:
        text = await resp.text()
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = _METRIC.match(line)
        if m is None:
            continue
        name, labels, value = m.groups()
        if name == "hearing_server_asyncio_tasks":
            out["tasks"] = float(value)
        elif name == "hearing_server_media_forwarded_packets_total":
            out["forwarded_packets"] = float(value)
        elif name == "hearing_server_event_loop_lag_seconds" and labels == '{stat="p95"}':
            out["lag_p95_ms"] = float(value) * 1000
        elif name == "hearing_server_event_loop_lag_seconds" and labels == '{stat="max"}':
            out["lag_max_ms"] = float(value) * 1000
    return out


class SoakRun:
    """One run: the server, the hearings and their client processes, the samples."""

    def __init__(self, config: SoakConfig, work_dir: Path) -> None:
        self.config = config
        self.work_dir = work_dir
        self.samples: list[dict[str, Any]] = []

    async def run(self) -> dict[str, Any]:
        cfg = self.config
        log = self.work_dir / "server.log"
        server = await start_server_process(
            self.work_dir / "data",
            log,
            metrics_token=METRICS_TOKEN,
            recording_auto_start="true" if cfg.recording else "false",
            max_connections_per_address="1000",
        )
        clients: list[Child] = []
        try:
            clients = await self._open_hearings(server)
            start = time.monotonic()
            async with aiohttp.ClientSession() as http:
                while (t := time.monotonic() - start) < cfg.seconds:
                    sample: dict[str, Any] = {"t": round(t, 1), **_proc(server.proc.pid)}
                    sample.update(await _metrics(http, server.url))
                    self.samples.append(sample)
                    await asyncio.sleep(SAMPLE_S)
        finally:
            for child in clients:
                await child.send("stop")
            for child in clients:
                await child.stop(exit_wait=10)
            await server.kill()
        return self._judge(log.read_text(errors="replace"))

    async def _open_hearings(self, server: ServerProcess) -> list[Child]:
        cfg = self.config
        clients = []
        async with aiohttp.ClientSession() as http:
            for h in range(cfg.hearings):
                people = [("judge", f"Judge {h}")] + [
                    ("party", f"Party {h}-{i}") for i in range(1, cfg.participants)
                ]
                _, tokens = await open_hearing_with(server.url, *people)
                specs = []
                for i, (role, name) in enumerate(people):
                    async with http.get(
                        f"{server.url}/api/me", headers={"Authorization": f"Bearer {tokens[name]}"}
                    ) as resp:
                        pid = (await resp.json())["me"]["id"]
                    specs.append({"name": name, "role": role, "id": pid, "token": tokens[name],
                                  "speaks": i == 0, "seed": h * cfg.participants + i})  # fmt: skip
                spec = {
                    "server_url": server.url,
                    "out": str(self.work_dir / f"hearing-{h}.jsonl"),
                    "speech_s": cfg.seconds + 120,
                    "everyone": [s["id"] for s in specs],
                    "participants": specs,
                }
                child = await Child.start(
                    f"hearing-{h}", "bench.overload.participants", [json.dumps(spec)],
                    self.work_dir, cwd=REPO, env={"PYTHONPATH": str(REPO)},
                )  # fmt: skip
                clients.append(child)
                await child.expect("loaded", 60)
                now = time.time()
                for i, s in enumerate(specs):  # the judge first: they start the hearing
                    await child.send("join", name=s["name"], at=now + 0.3 * i)
        return clients

    def _judge(self, log_text: str) -> dict[str, Any]:
        cfg = self.config
        after = [s for s in self.samples if s["t"] >= cfg.warmup]
        base = after[0] if after else None
        out: dict[str, Any] = {"config": asdict(cfg), "samples": self.samples}
        if base is None:
            out["verdict"] = {"ok": False, "why": "no sample after the warm-up"}
            return out
        last = after[-1]
        growth = (last["rss_kb"] - base["rss_kb"]) / base["rss_kb"]
        spread = {
            key: max(s[key] for s in after) - min(s[key] for s in after)
            for key in ("fds", "threads", "tasks")
            if all(key in s for s in after)
        }
        lags = sorted(s["lag_p95_ms"] for s in self.samples if "lag_p95_ms" in s)
        # media really flowed the whole time: packets forwarded per second after the warm-up
        sent = last.get("forwarded_packets", 0.0) - base.get("forwarded_packets", 0.0)
        forwarded_per_s = sent / max(last["t"] - base["t"], 1e-9)
        errors = [m.group(0) for m in _ERROR.finditer(log_text)]
        error_lines = [line for line in log_text.splitlines() if _ERROR.search(line)][:20]
        out["figures"] = {
            "rss_mb_after_warmup": round(base["rss_kb"] / 1024, 1),
            "rss_mb_end": round(last["rss_kb"] / 1024, 1),
            "memory_growth": round(growth, 4),
            "spread_after_warmup": spread,
            "lag_p95_ms_median": round(statistics.median(lags), 1) if lags else None,
            "lag_p95_ms_p99": round(lags[min(len(lags) - 1, int(0.99 * len(lags)))], 1)
            if lags
            else None,
            "lag_max_ms": round(max(s.get("lag_max_ms", 0.0) for s in self.samples), 1),
            "forwarded_packets_per_s": round(forwarded_per_s, 1),
            "log_errors": len(errors),
            "log_error_lines": error_lines,
        }
        out["verdict"] = {
            "memory": growth < cfg.memory_growth,
            "flat": all(v <= cfg.allowance for v in spread.values()),
            "no_errors": not errors,
            "media_flowed": forwarded_per_s > 0,
        }
        out["verdict"]["ok"] = all(out["verdict"].values())
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak.run")
    parser.add_argument("--hearings", type=int, default=10)
    parser.add_argument("--participants", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--warmup", type=float, default=60.0)
    parser.add_argument("--no-recording", action="store_true", help="hearings not recorded")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "soak.json")
    args = parser.parse_args(argv)
    config = SoakConfig(
        args.hearings, args.participants, args.seconds, args.warmup,
        recording=not args.no_recording,
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="soak-") as work:
        record = asyncio.run(SoakRun(config, Path(work)).run())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps({"figures": record.get("figures"), "verdict": record["verdict"]}, indent=1))
    return 0 if record["verdict"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
