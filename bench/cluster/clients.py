"""One signaling-only participant of the signaling benchmark: it connects to the node it was
given (following ``moved`` to the hearing's node), joins, and then does what a connected
client does while a hearing runs: socket.io's pings (python-socketio answers the server's on
its own), the judge starting the hearing when they arrive, a ``network_report`` every 30 s
as the web client sends, and, for a party, a raised and lowered hand now and then. No
media."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field
from typing import Any

from signaling.client import HearingClient, SignalingError

REPORT_EVERY_S = 30.0  # the web client's network_report period (docs/protocol.md)
HAND_EVERY_S = 120.0
CHECK_EVERY_S = 5.0


@dataclass(frozen=True)
class Person:
    hearing_id: str
    role: str  # "judge" or "party"
    token: str


@dataclass
class Outcome:
    """What happened to one client, in seconds of ``time.monotonic()``."""

    person: Person
    entry_url: str
    node_url: str = ""
    moved: bool = False
    started: float = 0.0  # when the connect began
    join_s: float | None = None
    error: str | None = None  # the connect or join refusal's code, or the exception's name
    dropped_at: float | None = None  # the connection went down before the end
    calls: list[float] = field(default_factory=list)  # request round trips, s
    call_errors: dict[str, int] = field(default_factory=dict)
    pushes: int = 0

    def row(self) -> dict[str, Any]:
        return {
            "hearing_id": self.person.hearing_id,
            "role": self.person.role,
            "entry_url": self.entry_url,
            "node_url": self.node_url,
            "moved": self.moved,
            "started": round(self.started, 3),
            "join_s": None if self.join_s is None else round(self.join_s, 4),
            "error": self.error,
            "dropped": self.dropped_at is not None,
            "calls": len(self.calls),
            "call_errors": self.call_errors,
            "pushes": self.pushes,
        }


class SignalingParticipant:
    """Joins once, then stays until ``stop`` is set; never reconnects (a dropped connection
    is what the benchmark counts)."""

    def __init__(self, person: Person, entry_url: str, rng: random.Random, timeout: float):
        self.outcome = Outcome(person, entry_url)
        self._client = HearingClient(entry_url, person.token, request_timeout=timeout)
        self._rng = rng

    async def join(self) -> bool:
        """Connect (with the ``moved`` hop) and join; the time from the start of the connect
        to the join's acknowledgement is the join latency."""
        start = self.outcome.started = time.monotonic()
        try:
            await self._client.connect()
            info = await self._client.join()
        except SignalingError as exc:
            self.outcome.error = exc.code
            return False
        except Exception as exc:  # a timeout, a refused TCP connect: counted, not raised
            self.outcome.error = type(exc).__name__
            return False
        self.outcome.join_s = time.monotonic() - start
        self.outcome.node_url = self._client.base_url
        self.outcome.moved = self._client.base_url != self.outcome.entry_url
        if self.outcome.person.role == "judge" and info["hearing"]["state"] != "in_session":
            # from the judge's console, on the hearing's node: those waiting move in
            await self._call("hearing_action", {"action": "start"})
        return True

    async def live(self, stop: asyncio.Event) -> None:
        """Until ``stop``: a network report every 30 s, a party's hand up and down every
        2 minutes, both starting at a random offset so that the clients do not beat in step."""
        now = time.monotonic()
        next_report = now + self._rng.uniform(0, REPORT_EVERY_S)
        next_hand = now + self._rng.uniform(0, HAND_EVERY_S)
        while not stop.is_set():
            if not self._client.connected:
                self.outcome.dropped_at = time.monotonic()
                return
            now = time.monotonic()
            if now >= next_report:
                next_report += REPORT_EVERY_S
                await self._call("network_report", {"grade": "good", "loss_pct": 1, "rtt_ms": 12})
            if self.outcome.person.role == "party" and now >= next_hand:
                next_hand += HAND_EVERY_S
                await self._call("raise_hand", {"raised": True})
                await self._call("raise_hand", {"raised": False})
            wake = min(next_report, next_hand, time.monotonic() + CHECK_EVERY_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, wake - time.monotonic()))
        if not self._client.connected:
            self.outcome.dropped_at = time.monotonic()

    async def _call(self, event: str, data: dict[str, Any]) -> None:
        start = time.monotonic()
        try:
            await self._client.call(event, data)
        except SignalingError as exc:
            self.outcome.call_errors[exc.code] = self.outcome.call_errors.get(exc.code, 0) + 1
            return
        except Exception as exc:
            name = type(exc).__name__
            self.outcome.call_errors[name] = self.outcome.call_errors.get(name, 0) + 1
            return
        self.outcome.calls.append(time.monotonic() - start)

    async def close(self) -> None:
        self.outcome.pushes = len(self._client.events)
        with contextlib.suppress(Exception):
            await self._client.close()
