"""One run: the server, a hearing in session, the judge's camera measured at the clerk, and
parties doing the camera check; every phase in the same run, against the same processes.

Phases, in order (each a span of monotonic time; everything is cut out of one record after):

- ``idle``: the judge publishes, the clerk receives; nobody at the camera step;
- ``before``: three parties have joined (identity step) and publish their cameras, no check;
- ``during`` (``rounds`` times): those three start the camera check at the same moment and
  act out the challenges until the server decides; then they hang up and three new parties
  join and publish (not measured) for the next round;
- ``single``: one party joins, publishes, and does the check alone.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.actions.server import LAG_SERIES_PATH
from bench.sfu.children import Child, ChildFailed
from bench.sfu.procstat import (
    MachineCpu,
    descendants,
    process_cpu_seconds,
    process_waiting_seconds,
)
from bench.sfu.session import (
    free_port,
    loopback_server_env,
    wait_healthy,
    wait_quiet_for,
    web_client_env,
)
from bench.transcription.e2e_session import PersonSpec, Server, StaffApi

REPO = Path(__file__).resolve().parents[3]
PHOTO_REFERENCE = "obama.jpg"  # registered by the clerk
PHOTO_CAMERA = "obama3.jpg"  # another photo of him: the camera (the genuine person)
POLICY = {"preset": "none", "party": ["face", "liveness"]}
CHECKS_AT_ONCE = 3
WAITING = "waiting for a CPU: "  # a process's run-queue time (not CPU time), by this prefix
CLIENTS = ("publisher", "receiver", "parties")


@dataclass(frozen=True)
class RunConfig:
    rounds: int = 3
    idle_s: float = 10.0
    before_s: float = 20.0
    settle_s: float = 3.0  # after a round's parties publish, before their checks
    gap_s: float = 2.0  # after a round's parties hang up
    warmup_s: float = 3.0  # after the clerk's first frame
    bitrate: int = 1_000_000  # the judge's camera (bench.sfu's publisher)
    server_log_level: str = "INFO"  # the face checks' log lines (frames analysed)
    client_nice: int = 0  # the clients' priority below the server's (they stand for phones)
    quiet_below: float = 0.15
    quiet_timeout_s: float = 120.0
    quiet_s: int = 5


@dataclass
class Cpu:
    """CPU seconds so far of each of our processes, and the machine's jiffies."""

    t: float
    by_process: dict[str, float]
    machine: MachineCpu

    def rates_since(self, a: Cpu) -> dict[str, Any]:
        wall = self.t - a.t
        rates = {
            k: round((v - a.by_process.get(k, 0.0)) / wall, 3) for k, v in self.by_process.items()
        }
        ours = sum(v for k, v in rates.items() if not k.startswith(WAITING))
        busy = self.machine.busy_fraction_since(a.machine) * (os.cpu_count() or 1)
        return {
            "window_s": round(wall, 2),
            "cpu_s_per_s": rates,
            "machine_busy": round(busy, 3),
            "other_processes": round(max(0.0, busy - ours), 3),
        }

    def seconds_since(self, a: Cpu, name: str) -> float:
        return self.by_process.get(name, 0.0) - a.by_process.get(name, 0.0)


@dataclass
class Phase:
    name: str
    start: float
    end: float = 0.0
    cpu: dict[str, Any] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)


def _has_dlib(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/maps") as fh:
            return "dlib" in fh.read()
    except OSError:
        return False


def say(what: str) -> None:
    print(f"  {time.strftime('%H:%M:%S')} {what}", file=sys.stderr, flush=True)


class FaceRun:
    """Runs once; ``run()`` returns the raw record (``report`` makes the figures)."""

    def __init__(self, config: RunConfig, log_dir: Path, faces: Path) -> None:
        self.config = config
        self.log_dir = log_dir
        self.faces = faces
        self.children: dict[str, Child] = {}
        self.server: Child | None = None
        self.worker_pid: int | None = None
        self.phases: list[Phase] = []
        self.last_cpu: Cpu | None = None

    async def run(self) -> dict[str, Any]:
        data_dir = Path(tempfile.mkdtemp(prefix="bench-faces-data-"))
        record: dict[str, Any] = {"config": asdict(self.config), "logs": str(self.log_dir)}
        try:
            async with aiohttp.ClientSession() as http:
                cfg = self.config
                record["machine_before"] = await wait_quiet_for(
                    cfg.quiet_below, cfg.quiet_timeout_s, cfg.quiet_s
                )
                record.update(await self._run(http, data_dir))
        finally:
            for child in self.children.values():
                await child.stop(exit_wait=5.0)
            if self.server is not None:
                await self.server.stop(term_wait=30)
            shutil.rmtree(data_dir, ignore_errors=True)
        record["load_after"] = [round(v, 2) for v in os.getloadavg()]
        record["face_check_log"] = _face_log(self.log_dir / "server.log")
        return record

    async def _start(self, name: str, module: str, args: list[str], **kw: Any) -> Child:
        child = await Child.start(name, module, args, self.log_dir, cwd=REPO, **kw)
        self.children[name] = child
        if self.config.client_nice:  # before it starts any thread (they inherit it)
            mine = os.getpriority(os.PRIO_PROCESS, 0)
            os.setpriority(os.PRIO_PROCESS, child.pid, mine + self.config.client_nice)
        return child

    async def _start_server(self, http: aiohttp.ClientSession, data_dir: Path) -> Server:
        port = free_port()
        key = secrets.token_urlsafe(24)
        env = {
            **loopback_server_env(data_dir, port, key),
            "HEARING_LOG_LEVEL": self.config.server_log_level,
            **web_client_env(data_dir),
        }
        self.server = await Child.start(
            "server", "bench.actions.server", [], self.log_dir, env=env, cwd=REPO
        )
        url = f"http://127.0.0.1:{port}"
        await wait_healthy(http, url, self.server)
        return Server(url, key, self.server.pid)

    def _cpu(self) -> Cpu:
        assert self.server is not None
        by: dict[str, float] = {
            "server": process_cpu_seconds(self.server.pid),
            WAITING + "server": process_waiting_seconds(self.server.pid),
        }
        others = 0.0
        for pid in descendants(self.server.pid):
            try:
                seconds = process_cpu_seconds(pid)
            except OSError:
                continue  # ended meanwhile
            if pid == self.worker_pid:
                by["face_worker"] = seconds
                by[WAITING + "face_worker"] = process_waiting_seconds(pid)
            else:
                others += seconds
        by["server_other_children"] = others
        for name, child in self.children.items():
            try:
                by[name] = process_cpu_seconds(child.pid)
            except OSError:
                by[name] = 0.0
        by["orchestrator"] = process_cpu_seconds(os.getpid())
        return Cpu(time.monotonic(), by, MachineCpu.read())

    def _open(self, name: str) -> Phase:
        self.last_cpu = self._cpu()
        phase = Phase(name, self.last_cpu.t)
        self.phases.append(phase)
        return phase

    def _close(self, phase: Phase) -> None:
        assert self.last_cpu is not None
        now = self._cpu()
        phase.end = now.t
        phase.cpu = now.rates_since(self.last_cpu)
        phase.cpu_seconds = {
            k: round(now.seconds_since(self.last_cpu, k), 3) for k in now.by_process
        }

    async def _run(self, http: aiohttp.ClientSession, data_dir: Path) -> dict[str, Any]:
        cfg = self.config
        server = await self._start_server(http, data_dir)
        api = StaffApi(http, server)
        n_parties = cfg.rounds * CHECKS_AT_ONCE + 1
        names = [f"p{i + 1:02d}" for i in range(n_parties)]
        people = [
            PersonSpec("judge", "judge", "judge"),
            PersonSpec("clerk", "clerk", "clerk"),
            *(PersonSpec(n, "party", f"party {n}", side="plaintiff") for n in names),
        ]
        hid, made = await api.create_hearing("face check benchmark", people)
        await api.request("PUT", f"/api/hearings/{hid}/identity-policy", POLICY)
        reference = (self.faces / PHOTO_REFERENCE).read_bytes()
        for n in names:
            async with http.put(
                f"{server.url}/api/participants/{made[n][0]}/reference-photo",
                data=reference,
                headers={"X-API-Key": server.api_key, "Content-Type": "image/jpeg"},
            ) as resp:
                if resp.status != 200:
                    raise ChildFailed(f"reference photo: {resp.status} {await resp.text()}")
        workers = [pid for pid in descendants(server.pid) if _has_dlib(pid)]
        if len(workers) != 1:
            raise ChildFailed(f"expected one face worker process, found {workers}")
        self.worker_pid = workers[0]
        say(f"hearing {hid}: {n_parties} parties registered; face worker pid {self.worker_pid}")

        publisher = await self._start(
            "publisher",
            "bench.sfu.publisher",
            [
                "--url", server.url,
                "--token", made["judge"][1],
                "--direct-port", str(free_port()),
                "--bitrate", str(cfg.bitrate),
            ],
        )  # fmt: skip
        judge_id = (await publisher.expect("ready", 60))["participant_id"]
        spec = {
            "server_url": server.url,
            "publisher_id": judge_id,
            "receivers": [
                {"name": "clerk", "kind": "sfu", "token": made["clerk"][1], "start_after_s": 0}
            ],
        }
        receiver = await self._start("receiver", "bench.sfu.receivers", [json.dumps(spec)])
        parties = await self._start(
            "parties",
            "bench.faces.concurrent.parties",
            [
                json.dumps(
                    {
                        "server_url": server.url,
                        "photo": str(self.faces / PHOTO_CAMERA),
                        "tokens": {n: made[n][1] for n in names},
                    }
                )
            ],
        )
        await receiver.expect("loaded", 60)
        await receiver.send("join", t0=time.time())
        first = await receiver.expect("first_frame", 60)
        await parties.expect("loaded", 120)
        say(f"the clerk sees the judge ({first['join_to_first_frame_ms']:.0f} ms); warm-up")
        await asyncio.sleep(cfg.warmup_s)
        await receiver.send("mark", label="start")
        await receiver.expect("mark", 10)

        phase = self._open("idle")
        await asyncio.sleep(cfg.idle_s)
        self._close(phase)

        groups = [names[i * 3 : i * 3 + 3] for i in range(cfg.rounds)] + [names[-1:]]
        await self._join(parties, groups[0])
        phase = self._open("before")
        await asyncio.sleep(cfg.before_s)
        self._close(phase)
        for i, group in enumerate(groups):
            if i > 0:
                await self._join(parties, group)
                await asyncio.sleep(cfg.settle_s)
            label = "single" if len(group) == 1 else f"during-{i + 1}"
            phase = self._open(label)
            await parties.send("check", names=group, at=time.time() + 0.1)
            phase.checks = (await parties.expect("checked", 90))["results"]
            self._close(phase)
            for check in phase.checks:
                check["participant_id"] = made[check["name"]][0]
            took = [
                None if c.get("decided") is None else round(c["decided"] - c["started"], 1)
                for c in phase.checks
            ]
            say(f"{label}: {[c.get('outcome') for c in phase.checks]}, decided after {took} s")
            await parties.send("leave", names=group)
            await parties.expect("left", 30)
            await asyncio.sleep(cfg.gap_s)

        await receiver.send("mark", label="end")
        await receiver.expect("mark", 10)
        await receiver.send("stop")
        received = (await receiver.expect("result", 30))["receivers"][0]
        await publisher.send("mark", label="end")
        sent = await publisher.expect("mark", 10)
        lag = await api.request("GET", f"{LAG_SERIES_PATH}?since=0")
        return {
            "hearing_id": hid,
            "face_worker_pid": self.worker_pid,
            "phases": [asdict(p) for p in self.phases],
            "receiver": received,
            "publisher_mark": sent,
            "loop_lag_ticks": lag,
        }

    async def _join(self, parties: Child, group: list[str]) -> None:
        await parties.send("join", names=group)
        joined = await parties.expect("joined", 60)
        states = set(joined["states"].values())
        if states != {"identifying"}:
            raise ChildFailed(f"parties joined as {joined['states']}, not at the identity step")


def _face_log(path: Path) -> list[str]:
    """The server's line for each face check (frames analysed, encodings, liveness)."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [line for line in lines if "face check of" in line]
