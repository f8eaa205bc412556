"""A client process: a few participants of the hearing. Each is a ``HearingClient`` that
publishes a 320x180@15 camera and a microphone and receives everyone else without decoding
(``observe``).

``python -m bench.overload.participants SPEC_JSON`` where the spec is::

    {"server_url": "http://127.0.0.1:PORT", "out": "/path/samples.jsonl",
     "speech_s": 120, "everyone": ["<participant id>", ...],
     "participants": [{"name": "judge", "role": "judge", "id": "...", "token": "...",
                       "speaks": true, "seed": 0}, ...]}

Once loaded it says ``loaded``; then ``{"cmd": "join", "name": N, "at": WALL}`` makes N
join at that wall-clock time (the judge also starts the hearing) and publish; events
``joined``, ``join_failed`` and ``tracks`` (N receives audio and video of every other
participant). ``{"cmd": "stop"}`` ends it with ``result``.

Once per whole second it appends to ``out`` a line with the cumulative frames, packets and
bytes N received per (publisher, kind), the frames N's camera and microphone handed to the
encoders, and this process's event-loop lags; at the end one line with every connection's
state changes and the consent expiries aioice logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from typing import Any, TextIO

from bench.sfu.control import commands, die_with_parent, emit, next_command
from bench.sfu.loopback import use_loopback_only
from signaling.client import HearingClient

from .observe import (
    CONSENT,
    COUNTERS,
    PCS,
    count_at_transport,
    count_consent_expiry,
    count_instead_of_decoding,
    counter_of,
    label_connection,
    watch_every_connection,
)
from .sources import EncodedCamera, SyntheticCamera, microphone
from .ticks import LagTicks, every_second, name_os_threads

log = logging.getLogger("bench.overload.participants")
KINDS = ("audio", "video")


class Participant:
    def __init__(self, spec: dict[str, Any], server_url: str, speech_s: float) -> None:
        self.name: str = spec["name"]
        self.role: str = spec["role"]
        self.id: str = spec["id"]
        self.client = HearingClient(server_url, spec["token"])
        seed = spec.get("seed", 0)
        self.camera: EncodedCamera | SyntheticCamera = (
            SyntheticCamera(seed) if spec.get("encode_live") else EncodedCamera(seed)
        )
        self.mic = microphone(bool(spec.get("speaks")), speech_s, dtx=spec.get("dtx", True))
        self.tracks_complete = False

    async def join(self, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.time()))
        await self.client.connect()
        info = await self.client.join()
        hearing = info["hearing"]
        if self.role == "judge" and hearing["state"] != "in_session":
            hearing = (await self.client.call("hearing_action", {"action": "start"}))["hearing"]
        pc = await self.client.publish([self.camera, self.mic])
        label_connection(pc, f"{self.name}/publish")
        emit(
            "joined",
            name=self.name,
            t=time.time(),
            state=info["me"].get("state"),
            hearing_state=hearing["state"],
        )

    def received(self) -> dict[str, list[int]]:
        """Cumulative [frames, packets, bytes] per "publisher kind", closed connections'
        included (a restarted subscribe connection starts new counters)."""
        pc = self.client.subscribe_pc
        if pc is not None:
            label_connection(pc, f"{self.name}/subscribe")
            by_track = {
                id(r.track): (r.publisher_id, r.kind) for r in self.client.received.values()
            }
            for transceiver in pc.getTransceivers():
                counter = counter_of(transceiver.receiver)
                label = by_track.get(id(transceiver.receiver.track))
                if counter is not None and label is not None:
                    counter.owner, counter.label = self.name, label
        out: dict[str, list[int]] = {}
        for c in COUNTERS:
            if c.owner == self.name and c.label is not None:
                row = out.setdefault(f"{c.label[0]} {c.label[1]}", [0, 0, 0])
                row[0] += c.frames
                row[1] += c.packets
                row[2] += c.bytes
        return out

    def summary(self) -> dict[str, Any]:
        pushes: dict[str, int] = {}
        restarts = 0
        errors = []
        for name, data in self.client.events:
            pushes[name] = pushes.get(name, 0) + 1
            if name == "subscriber_offer" and isinstance(data, dict) and data.get("restart"):
                restarts += 1
            if name == "error" and isinstance(data, dict):
                errors.append(f"{data.get('event')}: {data.get('code')}")
        return {
            "name": self.name,
            "pushes": pushes,
            "subscriber_restarts": restarts,
            "signaling_errors": errors,
            "camera_skipped_frames": self.camera.skipped,
        }


class Process:
    def __init__(self, spec: dict[str, Any], out: TextIO) -> None:
        self.participants = {
            p["name"]: Participant(p, spec["server_url"], spec["speech_s"])
            for p in spec["participants"]
        }
        self.everyone: list[str] = spec["everyone"]
        self.out = out
        self.ticks = LagTicks()
        self.join_failures: dict[str, str] = {}

    def sample(self, s: int) -> None:
        line: dict[str, Any] = {"s": s, "t": round(time.time(), 3), "lags_ms": self.ticks.take()}
        people: dict[str, Any] = {}
        for p in self.participants.values():
            received = p.received()
            people[p.name] = {
                "sent": {"video": p.camera.sent, "audio": p.mic.sent},
                "withheld_dtx": p.mic.withheld,
                "received": received,
            }
            if not p.tracks_complete and self._complete(p, received):
                p.tracks_complete = True
                emit("tracks", name=p.name, t=time.time())
        line["participants"] = people
        self.out.write(json.dumps(line) + "\n")
        self.out.flush()

    def _complete(self, p: Participant, received: dict[str, list[int]]) -> bool:
        return all(
            received.get(f"{other} {kind}", [0])[0] > 0
            for other in self.everyone
            if other != p.id
            for kind in KINDS
        )

    async def join(self, name: str, at: float) -> None:
        try:
            await self.participants[name].join(at)
        except Exception as exc:
            log.exception("%s failed to join", name)
            self.join_failures[name] = repr(exc)
            emit("join_failed", name=name, error=repr(exc))

    def final(self) -> dict[str, Any]:
        return {
            "final": True,
            "t": round(time.time(), 3),
            "pcs": [
                {"number": r.number, "label": r.label, "events": r.events, "ports": r.ports}
                for r in PCS
            ],
            "consent_expired": CONSENT.expired,
            "participants": [p.summary() for p in self.participants.values()],
            "join_failures": self.join_failures,
        }

    async def close(self) -> None:
        # All at once: one by one, each leave renegotiates the others mid-close.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await asyncio.gather(
                    *(p.client.close() for p in self.participants.values()),
                    return_exceptions=True,
                )


async def run(spec: dict[str, Any], out: TextIO) -> None:
    reader = await commands()
    process = Process(spec, out)
    loop = asyncio.get_running_loop()
    tasks = [
        loop.create_task(process.ticks.run(), name="lag"),
        loop.create_task(every_second(process.sample), name="sampler"),
    ]
    emit("loaded")
    try:
        while True:
            cmd = await next_command(reader)
            if cmd["cmd"] == "join":
                tasks.append(loop.create_task(process.join(cmd["name"], cmd["at"])))
            elif cmd["cmd"] == "stop":
                break
        final = process.final()
        out.write(json.dumps(final) + "\n")
        out.flush()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await process.close()
    emit("result", join_failures=process.join_failures)


def main() -> None:
    die_with_parent()
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    spec = json.loads(sys.argv[1])
    if spec.get("nice"):
        os.nice(spec["nice"])
    name_os_threads()
    use_loopback_only()
    count_instead_of_decoding()
    if not spec.get("full_receive"):
        count_at_transport()
    watch_every_connection()
    count_consent_expiry()
    with open(spec["out"], "a") as out:
        asyncio.run(run(spec, out))


if __name__ == "__main__":
    main()
