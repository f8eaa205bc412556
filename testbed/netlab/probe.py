"""UDP probes across a lab's link: what it really does to packets (delay, loss, bursts,
throughput, gaps), measured, so the emulator can be checked against its settings.

``python -m testbed.netlab.probe send HOST PORT --pps N --size B --seconds S`` paces
numbered, timestamped datagrams and prints how many it sent; ``... recv ADDRESS PORT
--seconds S`` receives them and prints a :func:`summary`. Either end may run inside the
participant's namespace (``Lab.popen``). The one-way delay is exact: both ends read the same
machine's monotonic clock.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import socket
import statistics
import struct
import sys
import time
from typing import Any

HEADER = struct.Struct("!QQ")  # sequence number, send time (monotonic ns)


def send(host: str, port: int, *, pps: float, size: int, seconds: float) -> int:
    """Send ``pps`` datagrams of ``size`` bytes a second for ``seconds``; how many went."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    padding = b"\0" * max(0, size - HEADER.size)
    start = time.monotonic()
    n = 0
    while True:
        due = start + n / pps
        now = time.monotonic()
        if due - start >= seconds:
            break
        if due > now:
            time.sleep(due - now)
        # a full local buffer is the link's business: counted as lost
        with contextlib.suppress(OSError):
            sock.sendto(HEADER.pack(n, time.monotonic_ns()) + padding, (host, port))
        n += 1
    sock.close()
    return n


def receive(
    address: str, port: int, *, seconds: float, quiet: float = 0.6, ready: Any = None
) -> list[tuple[int, int, int]]:
    """(sequence, sent ns, received ns) of every datagram arriving within ``seconds``, or
    until none came for ``quiet`` seconds after the first; ``ready`` (if given) is called
    once the socket listens."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((address, port))
    if ready is not None:
        ready()
    end = time.monotonic() + seconds
    got: list[tuple[int, int, int]] = []
    while (left := end - time.monotonic()) > 0:
        sock.settimeout(min(left, quiet) if got else left)
        try:
            data = sock.recv(65536)
        except TimeoutError:
            break
        seq, sent = HEADER.unpack_from(data)
        got.append((seq, sent, time.monotonic_ns()))
    sock.close()
    return got


def summary(got: list[tuple[int, int, int]], sent: int, size: int) -> dict[str, Any]:
    """The link as the probes saw it."""
    if not got:
        return {"sent": sent, "received": 0, "loss": 1.0}
    delays = sorted((r - s) / 1e6 for _, s, r in got)
    seqs = {seq for seq, _, _ in got}
    # Loss bursts: runs of missing sequence numbers.
    runs, run = [], 0
    for seq in range(sent):
        if seq in seqs:
            if run:
                runs.append(run)
            run = 0
        else:
            run += 1
    if run:
        runs.append(run)
    arrivals = sorted(r for _, _, r in got)
    span_s = (arrivals[-1] - arrivals[0]) / 1e9
    gaps = [(b - a) / 1e6 for a, b in itertools.pairwise(arrivals)]

    def pct(p: float) -> float:
        return delays[min(len(delays) - 1, int(p * len(delays)))]

    return {
        "sent": sent,
        "received": len(got),
        "loss": 1.0 - len(seqs) / sent if sent else 0.0,
        "mean_burst": statistics.fmean(runs) if runs else 0.0,
        "delay_ms": {
            "min": delays[0],
            "p05": pct(0.05),
            "p50": pct(0.5),
            "p95": pct(0.95),
            "max": delays[-1],
        },
        "reordered": sum(1 for a, b in itertools.pairwise(got) if b[0] < a[0]),
        "throughput_kbps": (len(got) - 1) * size * 8 / span_s / 1000 if span_s > 0 else 0.0,
        "longest_gap_ms": max(gaps) if gaps else 0.0,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.netlab.probe")
    sub = parser.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("send")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("--pps", type=float, default=200)
    s.add_argument("--size", type=int, default=200)
    s.add_argument("--seconds", type=float, default=2)
    r = sub.add_parser("recv")
    r.add_argument("address")
    r.add_argument("port", type=int)
    r.add_argument("--seconds", type=float, default=2)
    r.add_argument("--quiet", type=float, default=0.6)
    args = parser.parse_args(argv)
    if args.mode == "send":
        n = send(args.host, args.port, pps=args.pps, size=args.size, seconds=args.seconds)
        print(json.dumps({"sent": n}), flush=True)
    else:
        got = receive(args.address, args.port, seconds=args.seconds, quiet=args.quiet,
                      ready=lambda: print("ready", flush=True))  # fmt: skip
        print(json.dumps(got), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
