"""The media port range: inside the server's gathering context a bind to port 0 takes a free
port of the range; a full range is a clear error; outside the context nothing changes."""

from __future__ import annotations

import asyncio
import socket

import pytest

from hearing_server.media import aiortc_hooks as hooks


def _free_udp_ports(n: int) -> list[socket.socket]:
    """``n`` consecutive free UDP ports on 127.0.0.1, held open (closed by the caller)."""
    for base in range(41000, 60000, 37):
        held: list[socket.socket] = []
        try:
            for port in range(base, base + n):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                held.append(s)
                s.bind(("127.0.0.1", port))
            return held
        except OSError:
            for s in held:
                s.close()
    raise RuntimeError("no free port run")


async def _bind(port_range: tuple[int, int] | None) -> int:
    loop = asyncio.get_running_loop()
    with hooks.announced_host_addresses(["127.0.0.1"], port_range):
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
        )
    try:
        return int(transport.get_extra_info("sockname")[1])
    finally:
        transport.close()


def test_binds_take_ports_of_the_range_until_it_is_full() -> None:
    async def run() -> None:
        held = _free_udp_ports(3)
        low = held[0].getsockname()[1]
        high = low + 2
        for s in held:
            s.close()
        loop = asyncio.get_running_loop()
        transports = []
        with hooks.announced_host_addresses(["127.0.0.1"], (low, high)):
            for _ in range(3):
                t, _p = await loop.create_datagram_endpoint(
                    asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
                )
                transports.append(t)
            ports = sorted(t.get_extra_info("sockname")[1] for t in transports)
            assert ports == [low, low + 1, high]
            with pytest.raises(OSError, match=f"no free UDP port in the media port range {low}"):
                await loop.create_datagram_endpoint(
                    asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
                )
        # outside the server's gathering: the kernel's choice, as before
        outside = await _bind(None)
        assert not low <= outside <= high
        for t in transports:
            t.close()

    asyncio.run(run())
