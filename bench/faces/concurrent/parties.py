"""The parties process: people at the camera step, each an aiortc ``HearingClient`` whose camera
is a photo of the registered person acted out (facekit.testing: the integration test's warps).

``python -m bench.faces.concurrent.parties SPEC_JSON`` where the spec is::

    {"server_url": "http://127.0.0.1:PORT", "photo": "/.../obama3.jpg",
     "tokens": {"p01": "...", ...}}

Says ``loaded`` once the camera and its motions are made (the image work happens before any
measurement), then answers commands (JSON lines on stdin):

- ``{"cmd": "join", "names": [...]}``: each connects, joins (into the identity step) and
  publishes the camera; ``joined`` once every publish connection is up;
- ``{"cmd": "check", "names": [...], "at": WALL}``: at wall-clock time ``at`` each asks for
  the camera check (``POST /api/me/identity/face/start``), looks at the prompt for a second
  and does the challenges until the server decides; ``checked`` with, per person, the
  monotonic times of the request, its answer, each ``identity_progress`` push and the
  ``identity_updated`` push that carries the decision, and the decision itself;
- ``{"cmd": "leave", "names": [...]}``: they hang up; ``left``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.sfu.control import commands, emit, next_command, run_child
from facekit.testing import (
    Frame,
    ScriptedVideoTrack,
    act_out,
    camera_of,
    every_motion,
    read_photo,
)
from signaling.client import HearingClient

READ_PROMPT_S = 1.0  # the person reads the first prompt before moving
DECISION_TIMEOUT_S = 45.0  # the check's 20 s limit, and time for a loaded server
NO_CAMERA_RETRIES = 40  # face/start before the server has the published track: 0.25 s apart


class TimedClient(HearingClient):
    """A ``HearingClient`` that also notes when each push arrived (time.monotonic())."""

    def __init__(self, base_url: str, token: str) -> None:
        super().__init__(base_url, token)
        self.arrivals: list[tuple[float, str, Any]] = []

    async def _record(self, name: str, data: Any = None) -> None:
        self.arrivals.append((time.monotonic(), name, data))
        await super()._record(name, data)


def _decided(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and data.get("face") is not None
        and not data.get("face_check_running")
    )


class Person:
    def __init__(self, name: str, token: str, url: str, still: Frame) -> None:
        self.name = name
        self.token = token
        self.client = TimedClient(url, token)
        self.camera = ScriptedVideoTrack(still)
        self.state: str | None = None

    async def join(self) -> None:
        await self.client.connect()
        info = await self.client.join()
        self.state = info["me"]["state"]
        connected = asyncio.Event()
        pc = await self.client.publish([self.camera])

        @pc.on("connectionstatechange")
        def changed() -> None:
            if pc.connectionState == "connected":
                connected.set()

        changed()
        await asyncio.wait_for(connected.wait(), 30)

    async def check(
        self, http: aiohttp.ClientSession, url: str, motions: dict[str, list[Frame]], at: float
    ) -> dict[str, Any]:
        delay = at - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        seen = len(self.client.events)
        headers = {"Authorization": f"Bearer {self.token}"}
        started = time.monotonic()
        status, body, tries = 0, {}, 0
        while tries < NO_CAMERA_RETRIES:
            tries += 1
            async with http.post(
                url + "/api/me/identity/face/start", json={}, headers=headers
            ) as resp:
                status, body = resp.status, await resp.json()
            if status != 409 or body.get("code") != "no_camera":
                break
            await asyncio.sleep(0.25)
        answered = time.monotonic()
        if status != 200:
            return {"name": self.name, "error": f"face/start {status}: {body}"}
        challenges = body["check"]["challenges"]
        await asyncio.sleep(READ_PROMPT_S)
        acting = asyncio.create_task(
            act_out(self.client, self.camera, challenges, motions), name=f"{self.name} acts"
        )
        try:
            decision = await self.client.wait_for_event(
                "identity_updated", _decided, timeout=DECISION_TIMEOUT_S, start=seen
            )
        except TimeoutError:
            decision = None
        finally:
            acting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await acting
        arrivals = [a for a in self.client.arrivals if a[0] >= started]
        decided_at = next(
            (t for t, name, data in arrivals if name == "identity_updated" and _decided(data)),
            None,
        )
        progress = [
            (round(t, 4), data.get("completed"))
            for t, name, data in arrivals
            if name == "identity_progress" and isinstance(data, dict)
        ]
        return {
            "name": self.name,
            "state_at_join": self.state,
            "start_requests": tries,
            "started": round(started, 4),
            "answered": round(answered, 4),
            "decided": None if decided_at is None else round(decided_at, 4),
            "challenges": challenges,
            "progress": progress,
            "face": None if decision is None else decision["face"],
            "outcome": None if decision is None else decision.get("outcome"),
        }

    async def leave(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await self.client.close()


async def run(spec: dict[str, Any]) -> None:
    url = spec["server_url"]
    still, landmarks = camera_of(read_photo(Path(spec["photo"])))
    motions = every_motion(still, landmarks)
    people = {name: Person(name, token, url, still) for name, token in spec["tokens"].items()}
    reader = await commands()
    emit("loaded")
    async with aiohttp.ClientSession() as http:
        try:
            while True:
                cmd = await next_command(reader)
                names: list[str] = cmd.get("names", [])
                if cmd["cmd"] == "join":
                    await asyncio.gather(*(people[n].join() for n in names))
                    emit("joined", states={n: people[n].state for n in names})
                elif cmd["cmd"] == "check":
                    results = await asyncio.gather(
                        *(people[n].check(http, url, motions, cmd["at"]) for n in names)
                    )
                    emit("checked", results=results)
                elif cmd["cmd"] == "leave":
                    await asyncio.gather(*(people[n].leave() for n in names))
                    emit("left", names=names)
                elif cmd["cmd"] == "stop":
                    break
        finally:
            await asyncio.gather(*(p.leave() for p in people.values()))


def main() -> None:
    run_child(run)


if __name__ == "__main__":
    main()
