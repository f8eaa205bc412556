"""The emulated link's user-space half: ``python -m testbed.netlab.shaper UP DOWN``.

iptables hands every packet crossing the lab's veth to an NFQUEUE (``UP``: from the
participant to us, ``DOWN``: from us to the participant). This program decides each packet's
fate and lets it go on at its time: lost (random, or in bursts), held back by a blackout,
queued behind a rate limit (and dropped when that queue is longer than its limit), then
delayed by the link's delay and jitter. Packets leave in the order they came, as on a real
link, where jitter comes from queueing; jitter therefore never reorders, and a packet that
drew a short delay waits behind one that drew a long one (the median delay sits above the
setting, by up to half the jitter).

Settings arrive as JSON lines on stdin and apply from the next packet: ``{"up": {...},
"down": {...}}`` with the fields of :class:`Direction` (missing fields: the default, so an
empty object is a clean link), ``{"blackout": seconds}`` (both directions drop everything for
that long), ``{"stats": true}`` (one JSON line of counters on stdout). Stdout's first line is
``ready`` once both queues are bound. It runs in the namespace whose iptables rules feed it
and exits when stdin closes (its owner died or closed it).
"""

from __future__ import annotations

import heapq
import json
import os
import random
import select
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from testbed.netlab.link import Direction

# Packets held at once per queue (the kernel's default of 1024 is a 300 ms delay at 3,400
# packets/s; a video call sends a few hundred).
QUEUE_MAX = 8192


class Packet(Protocol):
    """What the shaper needs of a netfilterqueue packet."""

    def get_payload_len(self) -> int: ...

    def retain(self) -> None: ...

    def accept(self) -> None: ...

    def drop(self) -> None: ...


@dataclass
class Counters:
    """What happened to the packets of one direction."""

    received: int = 0
    delivered: int = 0
    lost: int = 0  # random or burst loss
    blacked_out: int = 0
    overflowed: int = 0  # the rate limiter's queue was full


@dataclass
class Lane:
    """One direction's state."""

    settings: Direction = field(default_factory=Direction)
    counters: Counters = field(default_factory=Counters)
    in_burst: bool = False
    link_free_at: float = 0.0  # when the rate-limited link has sent what it holds
    last_out_at: float = 0.0  # packets leave in order


class Shaper:
    """Decides each packet's fate; :meth:`due` says which held packets may go now."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self.lanes = {"up": Lane(), "down": Lane()}
        self.blackout_until = 0.0
        self._held: list[tuple[float, int, str, Packet]] = []
        self._seq = 0

    def configure(self, message: dict[str, Any], now: float) -> None:
        """Apply one control message (see the module's docstring)."""
        for name in ("up", "down"):
            if name in message:
                self.lanes[name].settings = Direction.from_json(message[name])
        if "blackout" in message:
            self.blackout_until = now + float(message["blackout"])

    def arrive(self, lane_name: str, packet: Packet, now: float) -> None:
        """A packet entered the link: drop it or hold it until its time."""
        lane = self.lanes[lane_name]
        s, c = lane.settings, lane.counters
        c.received += 1
        if now < self.blackout_until:
            c.blacked_out += 1
            packet.drop()
            return
        if self._lost(lane):
            c.lost += 1
            packet.drop()
            return
        sent_at = now
        if s.rate_kbps > 0:
            start = max(now, lane.link_free_at)
            if (start - now) * 1000.0 > s.queue_ms:
                c.overflowed += 1
                packet.drop()
                return
            # netfilter's payload is the whole IP packet: the bytes the link carries.
            sent_at = start + packet.get_payload_len() * 8 / (s.rate_kbps * 1000.0)
            lane.link_free_at = sent_at
        extra = s.delay_ms
        if s.jitter_ms > 0:
            extra = max(0.0, extra + self._rng.uniform(-s.jitter_ms, s.jitter_ms))
        out_at = max(sent_at + extra / 1000.0, lane.last_out_at)
        lane.last_out_at = out_at
        if out_at <= now:
            c.delivered += 1
            packet.accept()
            return
        packet.retain()
        self._seq += 1
        heapq.heappush(self._held, (out_at, self._seq, lane_name, packet))

    def _lost(self, lane: Lane) -> bool:
        s = lane.settings
        if s.loss <= 0:
            return False
        if s.burst <= 1.0:
            return self._rng.random() < s.loss
        # Gilbert's two states: every packet in a burst is lost; a burst ends with
        # probability 1/burst, and one starts at the rate that makes the average `loss`.
        leave = 1.0 / s.burst
        enter = s.loss * leave / (1.0 - s.loss)
        if lane.in_burst:
            lane.in_burst = self._rng.random() >= leave
        else:
            lane.in_burst = self._rng.random() < enter
        return lane.in_burst

    def release_due(self, now: float) -> float | None:
        """Let every held packet whose time has come go; the seconds until the next one."""
        while self._held and self._held[0][0] <= now:
            _, _, lane_name, packet = heapq.heappop(self._held)
            self.lanes[lane_name].counters.delivered += 1
            packet.accept()
        return self._held[0][0] - now if self._held else None

    def stats(self) -> dict[str, Any]:
        return {
            name: {**asdict(lane.counters), "held": self._held_in(name)}
            for name, lane in self.lanes.items()
        }

    def _held_in(self, lane_name: str) -> int:
        return sum(1 for h in self._held if h[2] == lane_name)


def main(argv: list[str]) -> int:
    from netfilterqueue import NetfilterQueue  # only where the shaper runs

    up_num, down_num = int(argv[0]), int(argv[1])
    shaper = Shaper()
    queues = []
    for name, num in (("up", up_num), ("down", down_num)):
        q = NetfilterQueue()

        def on_packet(packet: Any, lane: str = name) -> None:
            shaper.arrive(lane, packet, time.monotonic())

        q.bind(num, on_packet, max_len=QUEUE_MAX)
        queues.append(q)
    fds = {q.get_fd(): q for q in queues}
    stdin = sys.stdin.fileno()
    os.set_blocking(stdin, False)
    pending = b""
    print("ready", flush=True)
    try:
        while True:
            wait = shaper.release_due(time.monotonic())
            readable, _, _ = select.select([stdin, *fds], [], [], wait)
            for fd in readable:
                if fd != stdin:
                    fds[fd].run(block=False)
                    continue
                chunk = os.read(stdin, 65536)
                if not chunk:
                    return 0
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if not line.strip():
                        continue
                    try:
                        message = json.loads(line)
                        shaper.configure(message, time.monotonic())
                    except (ValueError, TypeError) as exc:
                        print(json.dumps({"error": str(exc)}), flush=True)
                        continue
                    if message.get("stats"):
                        print(json.dumps(shaper.stats()), flush=True)
                    else:
                        print(json.dumps({"ok": True}), flush=True)
    finally:
        for q in queues:
            q.unbind()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
