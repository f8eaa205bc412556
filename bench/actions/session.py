"""One run of the action benchmark against a fresh server process.

The hearing (staff API, admin key): judge, clerk, two parties and their counsel; the judge
starts it, the others join; the four speakers publish microphones (flite speech, silent until
everyone's audio reaches the clerk). Then, while they talk in turn and over each other, the
judge, the clerk and a party perform every action they have, repeatedly (``actions``); once
the last burst (all four at once) is over, the judge closes the hearing. Before the close the
transcript is read, right after it again (it must say ``complete: false``: recognition is
still draining) and then until it is complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiortc import RTCPeerConnection

from bench.sfu.children import Child
from bench.sfu.session import free_port, loopback_server_env, wait_quiet_for
from bench.transcription.e2e import wait_healthy
from bench.transcription.e2e_lag import LagTicker
from bench.transcription.e2e_measure import CpuSnapshot, Drain, HearingTime
from bench.transcription.e2e_session import PersonSpec, Server, StaffApi
from signaling.client import HearingClient
from transcription.stt import SAMPLE_RATE
from transcription.testing import Script, SpeechTrack

from .actions import ROWS, run_rounds, timed_call
from .lag import lag_summary
from .script import BURST_GAP_S, PhasedMicrophone, burst_script, talk_script
from .server import LAG_SERIES_PATH

REPO = Path(__file__).resolve().parents[2]
JUDGE = PersonSpec("judge", "judge", "Judge")
CLERK = PersonSpec("clerk", "clerk", "Clerk")
SPEAKERS = (
    PersonSpec("plaintiff", "party", "Plaintiff", voice="slt", side="plaintiff"),
    PersonSpec("plaintiff_counsel", "counsel", "Counsel P", voice="awb", represents="plaintiff"),
    PersonSpec("defendant", "party", "Defendant", voice="rms", side="defendant"),
    PersonSpec("defendant_counsel", "counsel", "Counsel D", voice="kal16", represents="defendant"),
)
PARTIES = ["plaintiff", "defendant"]
SETTLE_S = 2.0  # after the clerk receives every speaker: taps and pipelines open
ACK_TIMEOUT_S = 120.0  # a client's wait for an ack: long enough to time a blocked close
COMPLETE_POLL_S = 0.1
COMPLETE_WAIT_S = 300.0
REPUBLISH_AFTER_S = 1.0  # the server drops the dead connection first
REPUBLISH_ATTEMPTS = 5


@dataclass(frozen=True)
class RunConfig:
    rounds: int = 20
    spacing_s: float = 0.6  # between two actions
    burst_s: float = 6.5  # each speaker's last monologue, all four at once
    server_nice: int = 0
    server_log_level: str = "WARNING"
    quiet_below: float = 0.15
    quiet_timeout_s: float = 120.0
    quiet_s: int = 10  # quiet seconds in a row before the run starts


def say(what: str) -> None:
    print(f"  {time.strftime('%H:%M:%S')} {what}", file=sys.stderr, flush=True)


class ActionRun:
    """Server up, hearing, clients, actions, close, figures; always stops what it started."""

    def __init__(self, config: RunConfig, log_dir: Path) -> None:
        self.config = config
        self.log_dir = log_dir
        self.people = [JUDGE, CLERK, *SPEAKERS]
        self.clients: dict[str, HearingClient] = {}
        self.drains: list[Drain] = []
        self.client_lag = LagTicker()  # this process's loop: where acks are timed
        self.connection_events: list[tuple[float, str, str]] = []  # publish connections
        self.republishing: list[asyncio.Task[None]] = []
        self.finishing = False  # the close is near: connections end on purpose

    async def run(self) -> dict[str, Any]:
        data_dir = Path(tempfile.mkdtemp(prefix="bench-actions-data-"))
        server: Child | None = None
        record: dict[str, Any] = {}
        try:
            async with aiohttp.ClientSession() as http:
                record["machine_before"] = await wait_quiet(self.config)
                server, url, key = await self._start_server(data_dir)
                await wait_healthy(http, url, server)
                record.update(await self._run(http, Server(url, key, server.pid)))
                record["machine_after"] = {"load": _loadavg()}
        finally:
            await self._close_clients()
            if server is not None:
                await server.stop(term_wait=30)
            shutil.rmtree(data_dir, ignore_errors=True)  # this run's database, keys, recordings
        record["slow_listeners"] = slow_listeners(self.log_dir / "server.log")
        return record

    async def _start_server(self, data_dir: Path) -> tuple[Child, str, str]:
        port = free_port()
        key = secrets.token_urlsafe(24)
        env = {
            **loopback_server_env(data_dir, port, key),
            # The bots stand for people already identified: the identity step is not measured.
            "HEARING_IDENTITY_DEFAULT_POLICY": "none",
            "HEARING_LOG_LEVEL": self.config.server_log_level,
        }
        child = await Child.start(
            "server",
            "bench.actions.server",
            ["--nice", str(self.config.server_nice)],
            self.log_dir,
            env=env,
            cwd=REPO,
        )
        return child, f"http://127.0.0.1:{port}", key

    async def _run(self, http: aiohttp.ClientSession, server: Server) -> dict[str, Any]:
        cfg = self.config
        api = StaffApi(http, server)
        hid, made = await api.create_hearing("action benchmark", self.people)
        ids = {key: pid for key, (pid, _) in made.items()}
        self.clients = {
            key: HearingClient(server.url, token, request_timeout=ACK_TIMEOUT_S)
            for key, (_, token) in made.items()
        }
        judge = self.clients["judge"]
        await judge.connect()
        await judge.join()
        start_at, start_s, started, error = await timed_call(
            judge, "hearing_action", {"action": "start"}
        )
        if started is None:
            raise RuntimeError(f"the hearing did not start: {error}")
        clock = HearingTime(datetime.fromisoformat(started["hearing"]["actual_start"]))
        for p in self.people[1:]:
            await self.clients[p.key].connect()
            await self.clients[p.key].join()

        voices = [(p.key, p.voice) for p in SPEAKERS if p.voice is not None]
        # Slow answers stretch the actions phase; the talk should last until its end.
        talk = talk_script(voices, 3 * cfg.rounds * len(ROWS) * cfg.spacing_s + 30)
        burst = burst_script(voices, cfg.burst_s)
        mics = await self._publish(talk, burst, ids)
        say(f"hearing {hid}: {cfg.rounds} rounds of actions while four people talk")

        loop = asyncio.get_running_loop()
        self.client_lag.start()
        cpu = [CpuSnapshot.take(server.pid)]
        go = loop.time() + 0.1
        for mic in mics.values():
            mic.talk.go_at = go
        timed = await run_rounds(
            self.clients,
            [p.key for p in SPEAKERS],
            PARTIES,
            ids,
            cfg.rounds,
            cfg.spacing_s,
            say,
        )
        burst_at = loop.time() + BURST_GAP_S
        for mic in mics.values():
            mic.burst_at = burst_at
        # A microphone whose connection failed is no longer read: its burst never ends.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(BURST_GAP_S + burst.duration + 5):
                await asyncio.gather(*(m.burst.done.wait() for m in mics.values()))
        silenced = [k for k, m in mics.items() if not m.burst.done.is_set()]
        self.finishing = True
        speech_end = loop.time()
        said = _said(talk, burst, mics, burst_at)

        before = await api.request("GET", f"/api/hearings/{hid}/transcript/json")
        cpu.append(CpuSnapshot.take(server.pid))
        close_at, close_s, _, close_error = await timed_call(
            judge, "hearing_action", {"action": "close"}
        )
        after = await api.request("GET", f"/api/hearings/{hid}/transcript/json")
        say(f"close answered in {close_s:.3f} s; transcript complete: {after['complete']}")
        final = after
        while not final["complete"] and loop.time() - close_at < COMPLETE_WAIT_S:
            await asyncio.sleep(COMPLETE_POLL_S)
            final = await api.request("GET", f"/api/hearings/{hid}/transcript/json")
        completed_at = loop.time()
        cpu.append(CpuSnapshot.take(server.pid))
        say(f"transcript complete {completed_at - close_at:.1f} s after the close")

        lag_ticks = await api.request("GET", f"{LAG_SERIES_PATH}?since={go}")
        nproc = os.cpu_count() or 1
        queued = _queued_speech(before, final, said, clock, ids)
        return {
            "hearing_id": hid,
            "talk_s": round(burst_at - BURST_GAP_S - go, 1),
            "burst": {
                "starts_s": round(burst_at - go, 1),
                "duration_s": round(burst.duration, 1),
                "speech_s": round(sum(t.end - t.start for t in burst.turns), 1),
                "ended_before_close_s": round(close_at - speech_end, 3),
            },
            "start": {"latency_s": round(start_s, 4), "at_s": round(start_at - go, 3)},
            "actions": [t.to_json(go) for t in timed],
            "close": {
                "latency_s": round(close_s, 4),
                "error": close_error,
                "complete_right_after_close": after["complete"],
                "complete_s_after_close": round(completed_at - close_at, 2),
                "completed": final["complete"],
                **queued,
            },
            "server_loop_lag": {
                "run": lag_summary(lag_ticks, go, completed_at),
                "actions": lag_summary(lag_ticks, go, close_at),
                "close_to_complete": lag_summary(lag_ticks, close_at, completed_at),
            },
            "client_loop_lag": self.client_lag.summary(),
            "cpu_s_per_s": {
                "actions": cpu[1].rates_since(cpu[0], nproc),
                "close_to_complete": cpu[2].rates_since(cpu[1], nproc),
            },
            "transcript_segments": len(final.get("segments", [])),
            "speakers_without_burst": silenced,
            "publish_connection_events": [
                {"at_s": round(at - go, 2), "who": key, "state": state}
                for at, key, state in self.connection_events
            ],
            "tracks_unpublished_seen_by_clerk": sum(
                1 for name, _ in self.clients["clerk"].events if name == "track_unpublished"
            ),
        }

    async def _publish(
        self, talk: Script, burst: Script, ids: dict[str, str]
    ) -> dict[str, PhasedMicrophone]:
        """Every speaker's microphone published and reaching the clerk; everything received
        is read and dropped from then on."""
        mics = {
            p.key: PhasedMicrophone(
                SpeechTrack(talk.signals[p.key], SAMPLE_RATE),
                SpeechTrack(burst.signals[p.key], SAMPLE_RATE),
            )
            for p in SPEAKERS
        }
        for key, mic in mics.items():
            self._watch(key, mic, await self.clients[key].publish([mic]))
        for key in mics:
            await self.clients["clerk"].wait_for_track(ids[key], "audio", timeout=30)
        self.drains.extend(Drain(c) for c in self.clients.values())
        await asyncio.sleep(SETTLE_S)
        return mics

    def _watch(self, key: str, mic: PhasedMicrophone, pc: RTCPeerConnection) -> None:
        """Keep a speaker's publish connection state changes, and publish again when it
        dies, as a browser would: the server unpublishes the tracks of a dead connection,
        which would take that speaker out of the transcript for the rest of the run."""

        @pc.on("connectionstatechange")
        def changed() -> None:
            loop = asyncio.get_running_loop()
            self.connection_events.append((loop.time(), key, pc.connectionState))
            if pc.connectionState in ("failed", "closed") and not self.finishing:
                say(f"{key}'s publish connection {pc.connectionState}; publishing again")
                self.republishing.append(
                    loop.create_task(self._republish(key, mic), name=f"republish:{key}")
                )

    async def _republish(self, key: str, mic: PhasedMicrophone) -> None:
        # The server may still hold the dead connection for a moment (it answers invalid_sdp
        # then): try again, later each time.
        for attempt in range(REPUBLISH_ATTEMPTS):
            await asyncio.sleep(REPUBLISH_AFTER_S * 2**attempt)
            try:
                self._watch(key, mic, await self.clients[key].publish([mic]))
                return
            except Exception as exc:
                say(f"publishing {key} again failed: {exc!r}")
                at = asyncio.get_running_loop().time()
                self.connection_events.append((at, key, f"publish refused: {exc}"))
        self.connection_events.append((asyncio.get_running_loop().time(), key, "lost"))

    async def _close_clients(self) -> None:
        self.finishing = True
        for task in self.republishing:
            task.cancel()
        await asyncio.gather(*self.republishing, return_exceptions=True)
        await self.client_lag.stop()
        for drain in self.drains:
            await drain.stop()
        # All at once, so no client is renegotiated while the others are closing.
        await asyncio.gather(*(c.close() for c in self.clients.values()), return_exceptions=True)


def _said(
    talk: Script, burst: Script, mics: dict[str, PhasedMicrophone], burst_at: float
) -> list[tuple[str, float, float]]:
    """(speaker, start, end) of everything said, on the monotonic clock: the talk up to where
    the burst cut it, then the burst."""
    out = []
    for t in talk.turns:
        started = mics[t.speaker].talk.speech.started
        if started is not None and started + t.start < burst_at - BURST_GAP_S:
            end = min(started + t.end, burst_at - BURST_GAP_S)
            out.append((t.speaker, started + t.start, end))
    for t in burst.turns:
        started = mics[t.speaker].burst.started
        if started is not None:
            out.append((t.speaker, started + t.start, started + t.end))
    return out


def _queued_speech(
    before: dict[str, Any],
    final: dict[str, Any],
    said: list[tuple[str, float, float]],
    clock: HearingTime,
    ids: dict[str, str],
) -> dict[str, Any]:
    """What recognition still had to do when the judge closed: the segments stored after the
    transcript read just before the close, as their spans and as the speech in them (a span
    includes the VAD's padding around the speech)."""
    seen = {s["seq"] for s in before.get("segments", [])}
    late = [s for s in final.get("segments", []) if s["seq"] not in seen]
    speech = 0.0
    for seg in late:
        a, b = clock.monotonic(float(seg["start"])), clock.monotonic(float(seg["end"]))
        for speaker, start, end in said:
            if ids[speaker] == seg["participant_id"]:
                speech += max(0.0, min(b, end) - max(a, start))
    return {
        "segments_before_close": len(seen),
        "segments_after_close": len(late),
        "queued_segment_spans_s": round(sum(float(s["end"]) - float(s["start"]) for s in late), 1),
        "queued_speech_s": round(speech, 1),
    }


# The bus's own warning (hearing_server/service/events.py) for a listener slower than 0.2 s.
_SLOW = re.compile(r"hearing_server\.service\.events: (.+?) took ([0-9.]+) s on (\w+)")


def slow_listeners(server_log: Path) -> list[dict[str, Any]]:
    """Per (listener, event): how often the bus logged it as slow, and its longest time.
    They name what held an action up (servers before the bus logged it: none)."""
    found: dict[tuple[str, str], list[float]] = {}
    with contextlib.suppress(OSError):
        for m in _SLOW.finditer(server_log.read_text(errors="replace")):
            listener = re.sub(r" object at 0x[0-9a-f]+", "", m.group(1)).strip("<>")
            found.setdefault((listener, m.group(3)), []).append(float(m.group(2)))
    rows = [
        {
            "listener": k[0],
            "event": k[1],
            "times": len(v),
            "max_s": max(v),
            "total_s": round(sum(v), 2),
        }
        for k, v in found.items()
    ]
    return sorted(rows, key=lambda r: -r["total_s"])


async def wait_quiet(cfg: RunConfig) -> dict[str, Any]:
    """``quiet_s`` quiet seconds in a row (bench.sfu's check), up to ``quiet_timeout_s``."""
    return await wait_quiet_for(cfg.quiet_below, cfg.quiet_timeout_s, cfg.quiet_s)


def _loadavg() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]
