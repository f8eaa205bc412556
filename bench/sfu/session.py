"""One benchmark run: server, publisher, direct call and K subscribers, each a process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import socket
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

from .api import Api
from .children import Child, ChildFailed
from .procstat import (
    MachineCpu,
    descendants,
    process_cpu_seconds,
    process_runtime_seconds,
    process_user_system_seconds,
)
from .server import STATS_PATH
from .summary import SERVER_CHILDREN, Observations, Snapshot, summarize

log = logging.getLogger("bench.session")
# What the server runs besides forwarding when a hearing is in session; off to measure the
# SFU alone (docs/configuration.md). (The benchmark publishes no audio, so transcription
# would idle anyway.)
SFU_ONLY_ENV = {
    "HEARING_COMPOSITE_ENABLED": "false",
    "HEARING_RECORDING_AUTO_START": "false",
    "HEARING_TRANSCRIPTION_ENABLED": "false",
    # The subscribers are bots with no registration: they skip the identity step.
    "HEARING_IDENTITY_DEFAULT_POLICY": "none",
}
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class RunConfig:
    subscribers: int
    per_process: int = 4  # subscribers sharing one client process
    stagger_s: float = 0.5  # between two subscribers' join starts
    warmup_s: float = 3.0  # after the last first frame, before the window
    window_s: float = 20.0
    bitrate: int = 1_000_000
    server_nice: int = 0  # e.g. -10: the server ahead of the clients for the CPU
    profile_server: bool = False  # cProfile the server (slower; diagnosis only)
    quiet_below: float = 0.15  # wait for the machine to be this idle before starting
    quiet_timeout_s: float = 120.0
    #: False: the SFU alone (no composite view, no recording); True: the server's defaults
    #: for a hearing in session (composite + recording on)
    server_defaults: bool = False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def loopback_server_env(data_dir: Path, port: int, api_key: str) -> dict[str, str]:
    """The settings every benchmark gives its server: a fresh data directory, 127.0.0.1 only
    (listening and in its ICE candidates), the admin API key."""
    return {
        "HEARING_DATA_DIR": str(data_dir),
        "HEARING_HOST": "127.0.0.1",
        "HEARING_PORT": str(port),
        "HEARING_ADMIN_API_KEY": api_key,
        "HEARING_MEDIA_ANNOUNCED_ADDRESSES": "127.0.0.1",
    }


async def wait_healthy(
    session: aiohttp.ClientSession, url: str, server: Child, timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.returncode is not None:
            raise ChildFailed(f"the server exited:\n{server.tail()}")
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(url + "/healthz") as resp:
                if resp.status == 200:
                    return
        await asyncio.sleep(0.1)
    raise ChildFailed(f"the server did not become healthy in {timeout:g} s")


async def wait_quiet(below: float, timeout: float) -> float:
    """Wait (up to ``timeout`` s) for a second in which the machine is busy less than
    ``below`` (other people's work would skew the figures); return the last reading."""
    deadline = time.monotonic() + timeout
    while True:
        before = MachineCpu.read()
        await asyncio.sleep(1.0)
        busy = MachineCpu.read().busy_fraction_since(before)
        if busy < below or time.monotonic() > deadline:
            if busy >= below:
                log.warning("machine still %.0f%% busy; starting anyway", busy * 100)
            return busy


async def wait_quiet_for(below: float, timeout: float, seconds: int) -> dict[str, Any]:
    """``wait_quiet`` until ``seconds`` quiet seconds come in a row (or ``timeout`` s pass): a
    heavy benchmark beside this one pauses for a second between its phases, not for minutes.
    Returns what was seen (the last second's busy fraction, the load average)."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    deadline = t0 + timeout
    quiet = 0
    busy = 1.0
    while quiet < seconds:
        busy = await wait_quiet(below, max(0.0, deadline - loop.time()))
        quiet = quiet + 1 if busy < below else 0
        if loop.time() > deadline:
            log.warning("machine still %.0f%% busy after %.0f s; starting", busy * 100, timeout)
            break
    return {
        "busy_last_s": round(busy, 3),
        "quiet_s_in_a_row": quiet,
        "waited_s": round(loop.time() - t0),
        "load": [round(v, 2) for v in os.getloadavg()],
    }


def web_client_env(data_dir: Path) -> dict[str, str]:
    """The server refuses to start without web_client/static/join.html; while the checkout
    lacks it (the web client is work in progress), point it at a stub page."""
    if (REPO / "web_client" / "static" / "join.html").is_file():
        return {}
    stub = data_dir / "web_client"
    (stub / "static").mkdir(parents=True)
    (stub / "static" / "join.html").write_text("<!doctype html><title>bench</title>\n")
    return {"HEARING_WEB_CLIENT_DIR": str(stub)}


def _chunks(items: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class Session:
    """Runs one configuration; ``run()`` returns its result record."""

    def __init__(self, config: RunConfig, log_dir: Path) -> None:
        self.config = config
        self.log_dir = log_dir
        self.children: list[Child] = []
        self.server: Child | None = None
        self.publisher: Child | None = None
        self.receiver_procs: list[Child] = []
        self.receivers_in: dict[str, int] = {}  # receiver process name -> receivers
        self.obs = Observations(config.subscribers, asdict(config))

    async def run(self) -> dict[str, Any]:
        data_dir = Path(tempfile.mkdtemp(prefix="bench-sfu-"))
        try:
            async with aiohttp.ClientSession() as http:
                await self._run(http, data_dir)
        finally:
            await self._stop_all()
            shutil.rmtree(data_dir, ignore_errors=True)
        return summarize(self.obs)

    async def _start(self, name: str, module: str, args: list[str], **kw: Any) -> Child:
        child = await Child.start(name, module, args, self.log_dir, cwd=REPO, **kw)
        self.children.append(child)
        return child

    async def _run(self, http: aiohttp.ClientSession, data_dir: Path) -> None:
        cfg = self.config
        self.obs.background_busy = await wait_quiet(cfg.quiet_below, cfg.quiet_timeout_s)
        port, direct_port = free_port(), free_port()
        url = f"http://127.0.0.1:{port}"
        api_key = secrets.token_urlsafe(24)
        server_args = ["--nice", str(cfg.server_nice)]
        if cfg.profile_server:
            server_args += ["--profile", str(self.log_dir / "server.pstats")]
        self.server = await self._start(
            "server",
            "bench.sfu.server",
            server_args,
            env={
                **loopback_server_env(data_dir, port, api_key),
                "HEARING_LOG_LEVEL": "WARNING",
                **web_client_env(data_dir),
                **({} if cfg.server_defaults else SFU_ONLY_ENV),
            },
        )
        await wait_healthy(http, url, self.server)
        api = Api(http, url, api_key)
        hearing = await api.create_bench_hearing(cfg.subscribers)

        self.publisher = await self._start(
            "publisher",
            "bench.sfu.publisher",
            [
                "--url", url,
                "--token", hearing.judge.token,
                "--direct-port", str(direct_port),
                "--bitrate", str(cfg.bitrate),
            ],
        )  # fmt: skip
        ready = await self.publisher.expect("ready", 30)
        publisher_id = ready["participant_id"]

        direct = [
            {"name": "direct", "kind": "direct", "start_after_s": 0.0,
             "url": f"http://127.0.0.1:{direct_port}/offer"}
        ]  # fmt: skip
        subs = [
            {"name": f"sub-{i + 1:02d}", "kind": "sfu", "token": p.token,
             "start_after_s": 0.5 + i * cfg.stagger_s}
            for i, p in enumerate(hearing.subscribers)
        ]  # fmt: skip
        groups = [("direct", direct)] + [
            (f"subs-{n + 1}", chunk)
            for n, chunk in enumerate(_chunks(subs, max(1, cfg.per_process)))
        ]
        for name, specs in groups:
            spec = {"server_url": url, "publisher_id": publisher_id, "receivers": specs}
            self.receiver_procs.append(
                await self._start(name, "bench.sfu.receivers", [json.dumps(spec)])
            )
            self.receivers_in[name] = len(specs)
        for child in self.receiver_procs:
            await child.expect("loaded", 30)
        t0 = time.time() + 0.2
        for child in self.receiver_procs:
            await child.send("join", t0=t0)

        await self._wait_first_frames(len(direct) + len(subs), 30 + len(subs) * cfg.stagger_s)
        await asyncio.sleep(cfg.warmup_s)
        await self._mark("start", http, url, api_key)
        await asyncio.sleep(cfg.window_s)
        await self._mark("end", http, url, api_key)
        await self._collect_results()

    async def _wait_first_frames(self, expected: int, timeout: float) -> None:
        async def collect(child: Child) -> None:
            for _ in range(self.receivers_in[child.name]):
                got = await child.events.get()
                if got is None:
                    raise ChildFailed(f"{child.name} exited:\n{child.tail()}")
                if got["event"] == "failed":
                    self.obs.failures.append(got)
                elif got["event"] != "first_frame":
                    raise ChildFailed(f"{child.name}: unexpected {got}")

        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(*(collect(c) for c in self.receiver_procs))
        except TimeoutError:
            raise ChildFailed(f"not all {expected} receivers got a frame in {timeout} s") from None

    async def _mark(self, label: str, http: aiohttp.ClientSession, url: str, key: str) -> None:
        """Read every counter at the start or the end of the window."""
        assert self.server is not None and self.publisher is not None
        stats_url = url + STATS_PATH
        if label == "start":  # the stats request's own CPU stays outside the window
            stats = await get_json(http, stats_url, key)
        user, system = process_user_system_seconds(self.server.pid)
        runtime = process_runtime_seconds(self.server.pid)
        machine = MachineCpu.read()
        now = time.monotonic()
        processes = {
            c.name: process_cpu_seconds(c.pid) for c in self.children if c is not self.server
        }
        processes["orchestrator"] = process_cpu_seconds(os.getpid())
        processes[SERVER_CHILDREN] = sum(
            cpu_or_zero(child) for child in descendants(self.server.pid)
        )
        for c in [self.publisher, *self.receiver_procs]:
            await c.send("mark", label=label)
        publisher = await self.publisher.expect("mark", 10)
        packets: dict[str, int] = {}
        for c in self.receiver_procs:
            packets.update((await c.expect("mark", 10))["packets"])
        if label == "end":
            stats = await get_json(http, stats_url, key)
        snapshot = Snapshot(
            now, user, system, runtime, machine, processes, stats, publisher, packets
        )
        if label == "start":
            self.obs.start = snapshot
        else:
            self.obs.end = snapshot

    async def _collect_results(self) -> None:
        assert self.publisher is not None
        for c in [self.publisher, *self.receiver_procs]:
            await c.send("stop")
        for c in self.receiver_procs:
            result = await c.expect("result", 20)
            self.obs.receivers.extend(result["receivers"])
        result = await self.publisher.expect("result", 20)
        self.obs.keyframe_requests = result["keyframe_requests"]

    async def _stop_all(self) -> None:
        clients = [c for c in self.children if c is not self.server]
        await asyncio.gather(*(c.stop(exit_wait=5.0) for c in clients))
        if self.server is not None:
            await self.server.stop()


def cpu_or_zero(pid: int) -> float:
    try:
        return process_cpu_seconds(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0  # it ended meanwhile


async def get_json(http: aiohttp.ClientSession, url: str, key: str) -> dict[str, Any]:
    async with http.get(url, headers={"X-API-Key": key}) as resp:
        resp.raise_for_status()
        data: dict[str, Any] = await resp.json()
        return data
