"""The party on the weak line: a child process run inside the lab's namespace.

``python -m bench.weaknet.party SPEC_JSON`` with ``{"url", "token", "address", "speech_s"}``:
it gathers ICE candidates on ``address`` (its end of the lab's veth) only, joins the hearing,
publishes the benchmark's 320x180@15 camera (encoded live, so a keyframe request is answered
with a keyframe) and a microphone speaking continuously (no DTX: the audio measured must be
there every 20 ms), and says ``joined``. ``{"cmd": "status"}`` answers ``status`` (whether its
socket and both connections are up, and every connection state it went through);
``{"cmd": "stop"}`` or end of stdin closes it after a ``result``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from typing import Any

import aioice.ice
from aiortc import RTCPeerConnection

from bench.overload.sources import SyntheticCamera, microphone
from bench.sfu.control import commands, die_with_parent, emit, next_command
from signaling.client import HearingClient


def _on_address(address: str) -> None:
    def ours(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [address] if use_ipv4 else []

    aioice.ice.get_host_addresses = ours


class Party:
    """The client and what happened to its connections."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.client = HearingClient(spec["url"], spec["token"], request_timeout=20.0)
        self.speech_s = float(spec.get("speech_s", 120))
        self.states: list[dict[str, Any]] = []
        self._watched: set[int] = set()

    def _watch(self, pc: RTCPeerConnection | None, label: str) -> None:
        if pc is None or id(pc) in self._watched:
            return
        self._watched.add(id(pc))

        @pc.on("connectionstatechange")
        def changed() -> None:
            self.states.append({"t": time.time(), "pc": label, "state": pc.connectionState})

    async def join(self) -> dict[str, Any]:
        await self.client.connect()
        info = await self.client.join()
        pc = await self.client.publish(
            [SyntheticCamera(seed=3), microphone(True, self.speech_s, dtx=False)]
        )
        self._watch(pc, "publish")
        return info

    def status(self) -> dict[str, Any]:
        self._watch(self.client.subscribe_pc, "subscribe")
        pub, sub = self.client.publish_pc, self.client.subscribe_pc
        return {
            "socket": self.client.connected,
            "publish": pub.connectionState if pub else None,
            "subscribe": sub.connectionState if sub else None,
            "states": self.states,
        }


async def run(spec: dict[str, Any]) -> None:
    party = Party(spec)
    reader = await commands()
    info = await party.join()
    emit("joined", id=info["me"]["id"])
    try:
        while True:
            cmd = await next_command(reader)
            if cmd["cmd"] == "status":
                emit("status", **party.status())
            elif cmd["cmd"] == "stop":
                emit("result", **party.status())
                return
    finally:
        await party.client.close()


def main() -> None:
    die_with_parent()
    logging.basicConfig(level=logging.WARNING)
    spec = json.loads(sys.argv[1])
    _on_address(spec["address"])
    asyncio.run(run(spec))


if __name__ == "__main__":
    main()
