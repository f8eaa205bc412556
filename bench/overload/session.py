"""One run of the overload benchmark: the server, the probe and the client processes.

The hearing is made through the staff API (judge, clerk, then parties and their counsel,
as in a civil hearing) and opened; the judge joins and starts it, then the others join
``stagger_s`` apart, every one publishing a camera and a microphone. The measured window
starts at the first whole second after every participant receives every other one's audio
and video (or after ``tracks_timeout_s``), and lasts ``seconds``. Everything each process
observed is returned raw; ``analysis.analyse`` turns it into the record.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import secrets
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench.sfu.children import Child, ChildFailed
from bench.sfu.procstat import MachineCpu
from bench.sfu.server import STATS_PATH
from bench.sfu.session import free_port, get_json, wait_healthy, wait_quiet, web_client_env
from bench.transcription.e2e_session import PersonSpec, Server, StaffApi

from .observe import CONSENT_EXPIRED

log = logging.getLogger("bench.overload")
REPO = Path(__file__).resolve().parents[2]
_LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) (\w+) (\S+): (.*)$")
_CONNECTION = re.compile(r"participant (\w+) (publish|subscribe) connection: (\w+)")


@dataclass(frozen=True)
class RunConfig:
    participants: int = 9
    seconds: float = 60.0
    speaking: int = 1  # the first ones speak (real speech); the others send silence
    per_process: int = 3  # participants sharing one client process
    stagger_s: float = 0.5  # between two participants' joins
    #: the window starts when everyone receives everyone, plus ``warmup_s`` (a new
    #: connection's first second carries what its microphone and camera queued while it
    #: connected), or ``tracks_timeout_s`` after the last join began, whichever comes first
    tracks_timeout_s: float = 15.0
    warmup_s: float = 5.0
    quiet_below: float = 0.15  # wait for the machine to be this idle before starting
    quiet_timeout_s: float = 120.0
    #: consecutive quiet seconds wanted: other sessions' work on this machine comes in
    #: bursts of minutes with quiet seconds between them
    quiet_seconds: int = 5
    client_nice: int = 0
    server_nice: int = 0
    #: the server in a session (so a scheduling group) of its own, as a service in its own
    #: cgroup is deployed; False: it competes thread by thread with the clients' threads
    server_own_group: bool = True
    #: each client encodes its camera live (aiortc's VP8 encoder on this machine's cores);
    #: False: the pictures are encoded once and sent in a loop (``sources.EncodedCamera``)
    encode_live: bool = False
    #: each client's receivers run aiortc's whole receive path (RTCP reports, NACKs);
    #: False: known streams are counted at the DTLS transport (``observe.count_at_transport``)
    full_receive: bool = False
    #: silent microphones send as Chromium does with the Opus DTX the server asks for
    #: (``sources.CountedAudio``); False: 50 frames a second of silence, as without DTX
    dtx: bool = True
    #: extra HEARING_* settings (diagnosis, e.g. the composite off); none: the defaults
    server_env: dict[str, str] = field(default_factory=dict)


def roster(n: int) -> list[PersonSpec]:
    """Judge, clerk, then plaintiff, defendant and a counsel for each, in rounds."""
    people = [PersonSpec("judge", "judge", "Judge"), PersonSpec("clerk", "clerk", "Clerk")]
    k = 0
    while len(people) < n:
        k += 1
        cycle = [
            PersonSpec(f"plaintiff-{k}", "party", f"Plaintiff {k}", side="plaintiff"),
            PersonSpec(f"defendant-{k}", "party", f"Defendant {k}", side="defendant"),
            PersonSpec(f"counsel-p{k}", "counsel", f"Counsel P{k}", represents=f"plaintiff-{k}"),
            PersonSpec(f"counsel-d{k}", "counsel", f"Counsel D{k}", represents=f"defendant-{k}"),
        ]
        people += cycle[: n - len(people)]
    return people[:n]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    lines = []
    with contextlib.suppress(FileNotFoundError):
        for text in path.read_text().splitlines():
            with contextlib.suppress(json.JSONDecodeError):  # a line cut by a kill
                lines.append(json.loads(text))
    return lines


def read_server_log(path: Path) -> dict[str, Any]:
    """Consent expiries (wall times), the server's connection state changes (wall time,
    participant id, publish/subscribe, state) and the warnings and errors, by logger and
    message."""
    expired: list[float] = []
    connections: list[tuple[float, str, str, str]] = []
    problems: dict[str, int] = {}
    with contextlib.suppress(FileNotFoundError):
        for line in path.read_text(errors="replace").splitlines():
            m = _LOG_TIME.match(line)
            if m is None:
                continue
            stamp, ms, level, logger, message = m.groups()
            wall = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").timestamp() + int(ms) / 1000
            if CONSENT_EXPIRED in message:
                expired.append(wall)
            elif (c := _CONNECTION.search(message)) is not None:
                connections.append((wall, c[1], c[2], c[3]))
            elif level in ("WARNING", "ERROR", "CRITICAL"):
                # ids and numbers vary; the first words say what happened
                key = f"{level} {logger}: {re.sub(r'[0-9a-f]{8,}|[0-9]+', '#', message)[:90]}"
                problems[key] = problems.get(key, 0) + 1
    return {"consent_expired": expired, "connections": connections, "warnings": problems}


def _loadavg() -> list[float]:
    with open("/proc/loadavg") as fh:
        return [float(v) for v in fh.read().split()[:3]]


class OverloadRun:
    """``run()`` returns everything observed, raw, plus the run's own timeline."""

    def __init__(self, config: RunConfig, log_dir: Path) -> None:
        self.config = config
        self.log_dir = log_dir
        self.server: Child | None = None
        self.probe: Child | None = None
        self.clients: list[Child] = []
        self.timeline: dict[str, float] = {}  # what happened when (wall)
        self.events: list[dict[str, Any]] = []  # the clients' events
        self.people: list[dict[str, Any]] = []
        self.merged: asyncio.Queue[tuple[Child, dict[str, Any] | None]] = asyncio.Queue()
        self.forwarders: list[asyncio.Task[None]] = []

    def _mark(self, what: str) -> None:
        self.timeline[what] = round(time.time(), 3)

    async def run(self) -> dict[str, Any]:
        data_dir = Path(tempfile.mkdtemp(prefix="bench-overload-"))
        raw: dict[str, Any] = {"config": asdict(self.config)}
        try:
            async with aiohttp.ClientSession() as http:
                raw.update(await self._run(http, data_dir))
        finally:
            await self._stop_all()
            shutil.rmtree(data_dir, ignore_errors=True)
        raw["timeline"] = self.timeline
        raw["client_events"] = self.events
        raw["people"] = self.people
        raw["server_samples"] = _read_jsonl(self.log_dir / "server-samples.jsonl")
        raw["probe_samples"] = _read_jsonl(self.log_dir / "probe.jsonl")
        raw["client_samples"] = {
            c.name: _read_jsonl(self.log_dir / f"{c.name}.jsonl") for c in self.clients
        }
        raw["client_pids"] = {c.name: c.pid for c in self.clients}
        raw["server_pid"] = self.server.pid if self.server else None
        raw["server_log"] = read_server_log(self.log_dir / "server.log")
        raw["load_average_end"] = _loadavg()
        return raw

    async def _wait_quiet(self) -> float:
        """``quiet_seconds`` consecutive seconds below ``quiet_below`` (bench.sfu's
        wait_quiet, repeated), or whatever the machine is at after ``quiet_timeout_s``;
        returns the busiest of the last quiet seconds."""
        cfg = self.config
        deadline = time.monotonic() + cfg.quiet_timeout_s
        quiet: list[float] = []
        while len(quiet) < cfg.quiet_seconds:
            left = deadline - time.monotonic()
            busy = await wait_quiet(cfg.quiet_below, max(0.0, left))
            quiet = [*quiet, busy] if busy < cfg.quiet_below else []
            if left <= 0:
                return busy
        return max(quiet)

    async def _start(self, name: str, module: str, args: list[str], **kw: Any) -> Child:
        return await Child.start(name, module, args, self.log_dir, cwd=REPO, **kw)

    async def _run(self, http: aiohttp.ClientSession, data_dir: Path) -> dict[str, Any]:
        cfg = self.config
        out: dict[str, Any] = {"load_average_start": _loadavg()}
        out["machine_busy_before"] = round(await self._wait_quiet(), 3)
        out["load_average_after_quiet_wait"] = _loadavg()
        self._mark("start")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        api_key = secrets.token_urlsafe(24)
        self.server = await self._start(
            "server",
            "bench.overload.server",
            [
                "--samples",
                str(self.log_dir / "server-samples.jsonl"),
                "--nice",
                str(cfg.server_nice),
            ],
            env={
                "HEARING_DATA_DIR": str(data_dir),
                "HEARING_HOST": "127.0.0.1",
                "HEARING_PORT": str(port),
                "HEARING_ADMIN_API_KEY": api_key,
                "HEARING_MEDIA_ANNOUNCED_ADDRESSES": "127.0.0.1",
                # The bots stand for people already identified: the identity step is not measured.
                "HEARING_IDENTITY_DEFAULT_POLICY": "none",
                **web_client_env(data_dir),
                **cfg.server_env,
            },
            own_session=cfg.server_own_group,
        )
        await wait_healthy(http, url, self.server, timeout=120)
        self._mark("server_healthy")
        staff = StaffApi(http, Server(url, api_key, self.server.pid))
        people = roster(cfg.participants)
        hearing_id, ids = await staff.create_hearing("Overload benchmark", people)
        out["hearing_id"] = hearing_id
        self.people = [
            {"name": p.key, "role": p.role, "id": ids[p.key][0], "speaks": i < cfg.speaking}
            for i, p in enumerate(people)
        ]
        await self._start_clients(url, [ids[p.key][1] for p in people])
        self.probe = await self._start(
            "probe",
            "bench.overload.probe",
            [
                "--server", str(self.server.pid),
                "--clients", ",".join(str(c.pid) for c in self.clients),
                "--out", str(self.log_dir / "probe.jsonl"),
            ],
        )  # fmt: skip
        await self.probe.expect("ready", 10)
        out["media_stats_before"] = await get_json(http, url + STATS_PATH, api_key)
        await self._join_everyone()
        ready = await self._wait_tracks()
        # the window starts on a whole second: every process samples on whole seconds
        start = math.floor(ready) + 1
        await asyncio.sleep(start - time.time())
        self.timeline["window_start"] = start
        self.timeline["window_end"] = start + cfg.seconds
        _say(f"window: {cfg.seconds:g} s")
        while (left := start + cfg.seconds - time.time()) > 0:
            await asyncio.sleep(min(10.0, left))
            _say(f"  {min(cfg.seconds, time.time() - start):.0f} s")
        await asyncio.sleep(1.5)  # the samples of the window's last second get written
        self._mark("stopping")
        out["machine_cpu_end"] = asdict(MachineCpu.read())
        with contextlib.suppress(Exception):
            async with asyncio.timeout(30):
                out["media_stats_after"] = await get_json(http, url + STATS_PATH, api_key)
        return out

    async def _start_clients(self, url: str, tokens: list[str]) -> None:
        cfg = self.config
        specs = [
            {**p, "token": token, "seed": i, "encode_live": cfg.encode_live}
            for i, (p, token) in enumerate(zip(self.people, tokens, strict=True))
        ]
        everyone = [p["id"] for p in self.people]
        speech_s = cfg.seconds + cfg.tracks_timeout_s + 60
        for n, first in enumerate(range(0, len(specs), max(1, cfg.per_process))):
            name = f"clients-{n + 1}"
            spec = {
                "server_url": url,
                "out": str(self.log_dir / f"{name}.jsonl"),
                "speech_s": speech_s,
                "everyone": everyone,
                "nice": cfg.client_nice,
                "full_receive": cfg.full_receive,
                "dtx": cfg.dtx,
                "participants": specs[first : first + cfg.per_process],
            }
            self.clients.append(
                await self._start(name, "bench.overload.participants", [json.dumps(spec)])
            )
        for c in self.clients:
            await c.expect("loaded", 120)
        self._mark("clients_loaded")
        loop = asyncio.get_running_loop()
        self.forwarders = [loop.create_task(self._forward(c)) for c in self.clients]

    def _client_of(self, name: str) -> Child:
        index = next(i for i, p in enumerate(self.people) if p["name"] == name)
        return self.clients[index // max(1, self.config.per_process)]

    async def _forward(self, client: Child) -> None:
        while True:
            event = await client.events.get()
            await self.merged.put((client, event))
            if event is None:
                return

    async def _next_event(self, timeout: float) -> dict[str, Any]:
        """The next event of any client (recorded); ChildFailed if a client exits."""
        async with asyncio.timeout(timeout):
            client, event = await self.merged.get()
        if event is None:
            raise ChildFailed(f"{client.name} exited:\n{client.tail()}")
        self.events.append({"process": client.name, **event})
        return event

    async def _join_everyone(self) -> None:
        judge = self.people[0]["name"]
        await self._client_of(judge).send("join", name=judge, at=time.time())
        while True:
            event = await self._next_event(60)
            if event.get("name") == judge and event["event"] in ("joined", "join_failed"):
                break
        if event["event"] == "join_failed":
            raise ChildFailed(f"the judge could not join: {event['error']}")
        self._mark("judge_joined")
        t0 = time.time() + 0.2
        for i, p in enumerate(self.people[1:]):
            await self._client_of(p["name"]).send(
                "join", name=p["name"], at=t0 + i * self.config.stagger_s
            )

    async def _wait_tracks(self) -> float:
        """Wait until everyone receives everyone; return when the window may start: that
        moment plus the warmup, or ``tracks_timeout_s`` after the last join began, if that
        comes first (an overloaded server may never get there, and its collapse is what is
        measured)."""
        cfg = self.config
        waiting = {p["name"] for p in self.people}
        last_join = self.timeline["judge_joined"] + 0.2 + (len(waiting) - 2) * cfg.stagger_s
        deadline = last_join + cfg.tracks_timeout_s
        while waiting:
            left = deadline - time.time()
            if left <= 0:
                _say(f"{len(waiting)} not receiving everyone yet; measuring anyway")
                self._mark("tracks_timeout")
                return deadline
            try:
                event = await self._next_event(left)
            except TimeoutError:
                continue
            if event["event"] == "tracks":
                waiting.discard(event["name"])
            elif event["event"] == "join_failed":
                _say(f"{event['name']} failed to join: {event['error']}")
                waiting.discard(event["name"])
        self._mark("all_tracks")
        return min(deadline, time.time() + cfg.warmup_s)

    async def _stop_all(self) -> None:
        for task in self.forwarders:
            task.cancel()
        for c in self.clients:
            with contextlib.suppress(Exception):
                await c.send("stop")
        await asyncio.gather(*(c.stop(exit_wait=20.0) for c in self.clients))
        if self.probe is not None:
            await self.probe.stop()
        if self.server is not None:
            # the server finishes and signs the recording before it exits
            await self.server.stop(term_wait=40.0)


def _say(what: str) -> None:
    """Progress on stderr, with the wall time (to match the processes' logs)."""
    print(f"  {time.strftime('%H:%M:%S')} {what}", file=sys.stderr, flush=True)
