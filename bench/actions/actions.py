"""The judge's, the clerk's and a party's actions, each timed from emit to ack.

One round is every action once, in an order that keeps each one valid (pause before resume,
return to the waiting room before admit); the target of mute and return_to_waiting moves
to the next speaker each round, so it is sometimes the one speaking.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hearing_server.core.hearing import LAYOUTS
from signaling.client import HearingClient, SignalingError


@dataclass(frozen=True)
class Step:
    name: str  # the row of the table
    by: str  # who acts: "judge", "clerk" or a speaker's key
    event: str
    payload: dict[str, Any]


# (row, who acts) in the order of the table; "party" and "target" are filled in per round.
ROWS: tuple[tuple[str, str], ...] = (
    ("raise_hand", "party"),
    ("lower_hand", "party"),
    ("mute", "judge"),
    ("unmute", "judge"),
    ("mute_and_lock", "judge"),
    ("unmute_and_unlock", "judge"),
    ("set_layout", "judge"),
    ("return_to_waiting", "judge"),
    ("admit", "judge"),
    ("pause", "judge"),
    ("resume_after_pause", "judge"),
    ("suspend", "clerk"),
    ("resume_after_suspend", "judge"),
    ("recording_pause", "judge"),
    ("recording_resume", "judge"),
)


def round_steps(r: int, party: str, target: str, target_id: str) -> list[Step]:
    """Round ``r``: ``party`` (a speaker's key) raises a hand; ``target`` is muted and sent
    to the waiting room and back."""
    pid = {"participant_id": target_id}
    payloads: dict[str, tuple[str, dict[str, Any]]] = {
        "raise_hand": ("raise_hand", {"raised": True}),
        "lower_hand": ("raise_hand", {"raised": False}),
        "mute": ("mute", {**pid, "muted": True}),
        "unmute": ("mute", {**pid, "muted": False}),
        "mute_and_lock": ("mute", {**pid, "muted": True, "lock": True}),
        "unmute_and_unlock": ("mute", {**pid, "muted": False, "lock": False}),
        # Cycling from the one after the default (judge_focus) changes the layout every time.
        "set_layout": ("set_layout", {"layout": LAYOUTS[(r + 1) % len(LAYOUTS)]}),
        "return_to_waiting": ("return_to_waiting", pid),
        "admit": ("admit", pid),
        "pause": ("hearing_action", {"action": "pause"}),
        "resume_after_pause": ("hearing_action", {"action": "resume"}),
        "suspend": ("hearing_action", {"action": "suspend"}),
        "resume_after_suspend": ("hearing_action", {"action": "resume"}),
        "recording_pause": ("recording", {"action": "pause"}),
        "recording_resume": ("recording", {"action": "resume"}),
    }
    steps = []
    for name, by in ROWS:
        event, payload = payloads[name]
        steps.append(Step(name, party if by == "party" else by, event, payload))
    return steps


@dataclass
class Timed:
    """One action: when it was emitted (monotonic), how long until its ack, and any refusal."""

    name: str
    by: str
    round: int
    at: float
    latency_s: float
    error: str | None = None

    def to_json(self, t0: float) -> dict[str, Any]:
        return {
            "name": self.name,
            "by": self.by,
            "round": self.round,
            "at_s": round(self.at - t0, 3),
            "latency_s": round(self.latency_s, 4),
            "error": self.error,
        }


async def timed_call(
    client: HearingClient, event: str, payload: dict[str, Any]
) -> tuple[float, float, dict[str, Any] | None, str | None]:
    """(emitted at, emit-to-ack seconds, ack, refusal) of one socket.io call."""
    at = time.monotonic()
    try:
        ack = await client.call(event, payload)
    except SignalingError as exc:
        return at, time.monotonic() - at, None, exc.code
    except TimeoutError:
        return at, time.monotonic() - at, None, "no ack (client timeout)"
    return at, time.monotonic() - at, ack, None


async def run_rounds(
    clients: Mapping[str, HearingClient],
    speakers: list[str],
    parties: list[str],
    ids: Mapping[str, str],
    rounds: int,
    spacing_s: float,
    progress: Callable[[str], None],
) -> list[Timed]:
    """Every action ``rounds`` times, ``spacing_s`` after the previous one was answered (a
    judge reads the screen before the next click; a slow answer delays what follows)."""
    out: list[Timed] = []
    for r in range(rounds):
        target = speakers[r % len(speakers)]
        for step in round_steps(r, parties[r % len(parties)], target, ids[target]):
            await asyncio.sleep(spacing_s)
            at, latency, _, error = await timed_call(clients[step.by], step.event, step.payload)
            out.append(Timed(step.name, step.by, r, at, latency, error))
        slowest = max(out[-len(ROWS) :], key=lambda t: t.latency_s)
        progress(f"round {r + 1}/{rounds}: slowest {slowest.name} {slowest.latency_s:.3f} s")
    return out
