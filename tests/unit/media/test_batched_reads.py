"""Reading a UDP socket in batches: a socket keeps up even when the event loop turns slowly.

asyncio's selector loop reads one datagram per socket per turn. A busy server turns slowly, so
its sockets overflow and the kernel drops datagrams, ICE consent checks among them. The hook
reads everything waiting (up to a batch) per turn.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

from hearing_server.media.aiortc_hooks import _batch_reads
from hearing_server.media.load import own_udp_drops

RATE = 2000  # datagrams per second
SECONDS = 1.0
TURN_S = 0.02  # each loop turn takes this long (a busy server)


class Counter(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received = 0

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received += 1


def _send(address: tuple[str, int], stop: threading.Event) -> int:
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        start = time.monotonic()
        while not stop.is_set() and time.monotonic() - start < SECONDS:
            due = int((time.monotonic() - start) * RATE)
            while sent < due:
                s.sendto(b"r" * 200, address)
                sent += 1
            time.sleep(0.001)
    return sent


async def _run(batched: bool) -> tuple[int, int, int]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        Counter, local_addr=("127.0.0.1", 0)
    )
    try:
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 262144)  # as aioice sets it
        if batched:
            assert _batch_reads(transport, 64)
        await asyncio.sleep(0)  # let the reader registration run
        busy = True

        def turn() -> None:
            time.sleep(TURN_S)  # the work of one busy turn of the loop
            if busy:
                loop.call_soon(turn)

        before = own_udp_drops() or 0
        loop.call_soon(turn)
        stop = threading.Event()
        sent = await asyncio.to_thread(_send, transport.get_extra_info("sockname"), stop)
        busy = False
        await asyncio.sleep(0.2)
        dropped = (own_udp_drops() or 0) - before
        return sent, protocol.received, dropped
    finally:
        transport.close()


async def test_a_slow_loop_drops_datagrams_unless_reads_are_batched() -> None:
    sent, received, dropped = await _run(batched=False)
    assert dropped > sent // 4, (sent, received, dropped)  # the problem, shown
    sent, received, dropped = await _run(batched=True)
    assert dropped == 0 and received == sent, (sent, received, dropped)


async def test_batching_is_idempotent_and_leaves_other_transports_alone() -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(Counter, local_addr=("127.0.0.1", 0))
    try:
        assert _batch_reads(transport, 8)
        assert not _batch_reads(transport, 8)
        assert not _batch_reads(object(), 8)
    finally:
        transport.close()
