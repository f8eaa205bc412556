"""One scenario of the end-to-end transcription benchmark against a running server.

A hearing is created through the staff HTTP API (admin key) and opened; the judge joins
and starts it (``hearing_action``), the others join (a witness waits outside and the judge
admits them), the speakers publish their microphones, the clerk listens. Once the clerk
receives every speaker's audio, all microphones start their scripts together; the clerk's
captions are stamped on arrival. Afterwards the judge closes the hearing and the stored
transcript is read back (JSON export, staff route).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from bench.sfu.api import Api
from signaling.client import HearingClient
from transcription.stt import SAMPLE_RATE
from transcription.testing import Script, SpeechTrack

from .e2e_lag import LagTicker
from .e2e_measure import (
    CaptionLog,
    CpuSnapshot,
    Drain,
    HearingTime,
    WallTurn,
    analyse,
    assign,
)
from .e2e_script import GatedMicrophone
from .e2e_server import LAG_PATH

SETTLE_S = 2.0  # after the clerk receives every speaker: the server's taps and pipeline open
QUIET_AFTER_S = 2.0  # no caption for this long after the last turn was captioned: done
CAPTION_WAIT_S = 20.0  # at most this long after the script ends for the last captions
SAMPLE_S = 5.0  # CPU readings during the window, to see others' bursts
CLOSE_SETTLE_S = 2.0  # after the hearing closed, before the clients disconnect


@dataclass(frozen=True)
class PersonSpec:
    """Someone in the hearing: ``key`` names them in the script; ``voice`` labels their WER
    (None: they do not speak)."""

    key: str
    role: str
    name: str
    voice: str | None = None
    side: str | None = None
    represents: str | None = None  # key of the party a counsel represents


@dataclass(frozen=True)
class Server:
    """Where the server listens and how to reach its staff API."""

    url: str
    api_key: str
    pid: int


class StaffApi(Api):
    """The staff routes the benchmark needs (admin API key)."""

    def __init__(self, http: aiohttp.ClientSession, server: Server) -> None:
        super().__init__(http, server.url, server.api_key)

    async def create_hearing(
        self, title: str, people: Sequence[PersonSpec]
    ) -> tuple[str, dict[str, tuple[str, str]]]:
        """An open hearing with ``people``: its id and (participant id, join token) by key."""
        now = datetime.now(UTC)
        hearing = await self.request(
            "POST",
            "/api/hearings",
            {
                "case_number": "(2026)京0105民初00007号",
                "court": "bench",
                "title": title,
                "scheduled_start": now.isoformat(),
                "scheduled_end": (now + timedelta(hours=1)).isoformat(),
                "visibility": "public",
            },
        )
        hid = hearing["id"]
        out: dict[str, tuple[str, str]] = {}
        for p in people:
            body: dict[str, Any] = {"role": p.role, "display_name": p.name}
            if p.side:
                body["side"] = p.side
            if p.represents:
                body["represents"] = out[p.represents][0]
            made = await self.request("POST", f"/api/hearings/{hid}/participants", body)
            link = await self.request("POST", f"/api/participants/{made['id']}/links", {})
            out[p.key] = (made["id"], link["token"])
        await self.request("POST", f"/api/hearings/{hid}/transitions", {"action": "open"})
        return hid, out

    async def transcript(self, hearing_id: str, *, timeout_s: float = 60.0) -> dict[str, Any]:
        """The stored transcript (JSON export) once every queued utterance is recognised."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            doc: dict[str, Any] = await self.request(
                "GET", f"/api/hearings/{hearing_id}/transcript/json"
            )
            if doc["complete"] or loop.time() > deadline:
                return doc
            await asyncio.sleep(0.5)

    async def loop_lag(self, *, reset: bool) -> dict[str, Any]:
        """The server's event-loop lag since the last reset."""
        result: dict[str, Any] = await self.request("GET", LAG_PATH + ("?reset=1" if reset else ""))
        return result


class ScenarioRun:
    """One scenario: a fresh hearing, its clients, the measured window, the figures."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        server: Server,
        title: str,
        people: Sequence[PersonSpec],
        script: Script,
        nproc: int,
    ) -> None:
        self.api = StaffApi(http, server)
        self.server = server
        self.title = title
        self.people = list(people)
        self.script = script
        self.nproc = nproc
        self.clients: dict[str, HearingClient] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self.drains: list[Drain] = []
        self.ticker = LagTicker()  # this process's loop: where captions are stamped

    async def run(self) -> dict[str, Any]:
        """Run the script through a new hearing; always closes every client."""
        try:
            return await self._run()
        finally:
            await self.ticker.stop()
            for task in self.tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for drain in self.drains:
                await drain.stop()
            # All at once: each close() first marks its client closing (later subscriber
            # offers are ignored). One by one, every disconnect made the server renegotiate
            # the clients still open, whose answers then failed mid-close (logged tracebacks).
            await asyncio.gather(
                *(c.close() for c in self.clients.values()), return_exceptions=True
            )

    async def _run(self) -> dict[str, Any]:
        hid, ids = await self.api.create_hearing(self.title, self.people)
        self.clients.update(
            {p.key: HearingClient(self.server.url, ids[p.key][1]) for p in self.people}
        )
        _say(f"hearing {hid}: joining")
        clock = await self._join(ids)
        captions = CaptionLog()
        loop = asyncio.get_running_loop()
        self.tasks.append(loop.create_task(captions.follow(self.clients["clerk"]), name="cc"))
        mics = await self._publish(ids)
        _say(f"every speaker received; speaking for {self.script.duration:.0f} s")
        window = await self._speak(mics, captions, ids, clock)
        _say(f"speech done, {len(captions.finals)} final captions; closing the hearing")

        await self.clients["judge"].call("hearing_action", {"action": "close"})
        transcript = await self.api.transcript(hid)
        _say(f"transcript: {len(transcript.get('segments', []))} lines")
        # Closing the hearing renegotiates everyone's subscriptions; let that finish, or the
        # clients' close() races their own answers (errors logged, nothing measured).
        await asyncio.sleep(CLOSE_SETTLE_S)

        starts = [m.speech.started for m in mics.values() if m.speech.started is not None]
        voices = {ids[p.key][0]: p.voice for p in self.people if p.voice is not None}
        result = analyse(_wall_turns(self.script, mics, ids), captions, transcript, clock, voices)
        result.update(
            {
                "hearing_id": hid,
                "speakers": len(mics),
                "audio_s": round(self.script.duration, 1),
                "start_spread_s": round(max(starts) - min(starts), 4) if starts else None,
                **window,
                "hypothesis": {
                    "captions": " ".join(c.data["text"] for c in captions.finals),
                    "transcript": " ".join(
                        s["text"] for s in transcript.get("segments", []) if s.get("text")
                    ),
                },
            }
        )
        return result

    async def _join(self, ids: dict[str, tuple[str, str]]) -> HearingTime:
        """Everyone in the hearing room, the hearing in session; its clock."""
        judge = self.clients["judge"]
        await judge.connect()
        await judge.join()
        started = await judge.call("hearing_action", {"action": "start"})
        clock = HearingTime(datetime.fromisoformat(started["hearing"]["actual_start"]))
        for p in self.people:
            if p.key != "judge":
                await self.clients[p.key].connect()
                await self.clients[p.key].join()
            if p.role in ("witness", "expert"):
                # Witnesses always wait outside until the judge calls them in (docs/domain.md).
                await judge.call("admit", {"participant_id": ids[p.key][0]})
        return clock

    async def _publish(self, ids: dict[str, tuple[str, str]]) -> dict[str, GatedMicrophone]:
        """Every speaker's microphone published (silent until the go) and reaching the
        clerk; received audio drained from then on."""
        mics = {
            p.key: GatedMicrophone(SpeechTrack(self.script.signals[p.key], SAMPLE_RATE))
            for p in self.people
            if p.voice is not None
        }
        for key, mic in mics.items():
            await self.clients[key].publish([mic])
        for key in mics:
            await self.clients["clerk"].wait_for_track(ids[key][0], "audio", timeout=30)
        self.drains.extend(Drain(c) for c in self.clients.values())
        await asyncio.sleep(SETTLE_S)
        return mics

    async def _speak(
        self,
        mics: dict[str, GatedMicrophone],
        captions: CaptionLog,
        ids: dict[str, tuple[str, str]],
        clock: HearingTime,
    ) -> dict[str, Any]:
        """The measured window: all microphones start together; it ends when every turn has
        its final caption and none has come for a while (or after CAPTION_WAIT_S)."""
        loop = asyncio.get_running_loop()
        self.ticker.start()
        await self.api.loop_lag(reset=True)
        samples = [CpuSnapshot.take(self.server.pid)]
        sampler = loop.create_task(self._sample(samples), name="cpu-sampler")
        self.tasks.append(sampler)
        load_start = _loadavg()
        go = loop.time() + 0.1
        for mic in mics.values():
            mic.go_at = go
        async with asyncio.timeout(self.script.duration + 30):
            await asyncio.gather(*(m.speech.done.wait() for m in mics.values()))
        turns = _wall_turns(self.script, mics, ids)  # known once every microphone started
        deadline = loop.time() + CAPTION_WAIT_S
        while loop.time() < deadline:
            by_turn, _ = assign(turns, captions.finals, clock)
            if len(by_turn) == len(turns) and loop.time() - captions.last_at > QUIET_AFTER_S:
                break
            await asyncio.sleep(0.2)
        sampler.cancel()
        samples.append(CpuSnapshot.take(self.server.pid))
        return {
            "cpu_s_per_s": samples[-1].rates_since(samples[0], self.nproc),
            # Others' work comes in bursts that a mean over minutes hides.
            "other_processes_per_interval": [
                b.rates_since(a, self.nproc)["other_processes"]
                for a, b in itertools.pairwise(samples)
            ],
            "server_loop_lag": await self.api.loop_lag(reset=False),
            "client_loop_lag": self.ticker.summary(),
            "load_window": {"start": load_start, "end": _loadavg()},
        }

    async def _sample(self, into: list[CpuSnapshot]) -> None:
        while True:
            await asyncio.sleep(SAMPLE_S)
            into.append(CpuSnapshot.take(self.server.pid))


def _wall_turns(
    script: Script, mics: dict[str, GatedMicrophone], ids: dict[str, tuple[str, str]]
) -> list[WallTurn]:
    """The script's turns on the monotonic clock, from each microphone's start."""
    out = []
    for t in script.turns:
        started = mics[t.speaker].speech.started
        assert started is not None
        out.append(
            WallTurn(t.speaker, ids[t.speaker][0], t.text, started + t.start, started + t.end)
        )
    return out


def _say(what: str) -> None:
    """Progress on stderr, with the wall time (to match the clients' and server's logs)."""
    print(f"  {time.strftime('%H:%M:%S')} {what}", file=sys.stderr, flush=True)


def _loadavg() -> list[float]:
    with open("/proc/loadavg") as fh:
        return [float(v) for v in fh.read().split()[:3]]
