"""``python -m bench.sfu.sendpath``: CPU per forwarded packet on the send path, the direct
sender against aiortc's own sender task, side by side in one process (issue 21, item 1).

For each K, K pairs of real aiortc peers are connected over loopback: a server peer with one
sendonly VP8 section and a client peer whose receiver is tapped (it counts RTP packets and
decodes nothing). The same frames (30 fps, 4 packets of 1,100 bytes each) go to all K
sections, either through ``DirectSender`` (what the server does now) or through aiortc's
stock path (a queue per section read by the sender's RTP task, payloads handed through
``Encoder.pack``: what the server did before). Each (mode, K) pair runs in turn, repeated,
so a busy machine skews both alike. Both modes include the clients' receive cost in the
process CPU; the difference between the modes is the send path's, and the direct mode's own
send cost is also timed around its calls (thread CPU time).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aioice.ice
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender
from aiortc.codecs.base import Encoder
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtp import RtpPacket

from hearing_server.media import aiortc_hooks as hooks
from hearing_server.media.forwarder import ForwardedOutput, SenderTrack
from hearing_server.media.frames import ForwardedFrame
from hearing_server.media.stats import MediaCounters

RESULTS = Path(__file__).resolve().parents[1] / "results"
FPS = 30
PACKETS_PER_FRAME = 4
PAYLOAD = 1100


class _Count:
    def __init__(self) -> None:
        self.packets = 0

    def on_rtp(self, packet: RtpPacket) -> None:
        self.packets += 1


class _QueuedTrack(MediaStreamTrack):
    """aiortc's stock path: the sender's RTP task reads frames from a queue."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.queue: asyncio.Queue[ForwardedFrame] = asyncio.Queue(60)

    async def recv(self) -> ForwardedFrame:  # type: ignore[override]
        return await self.queue.get()


class _Pack(Encoder):
    def encode(self, frame: Any, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        return [], 0

    def pack(self, packet: Any) -> tuple[list[bytes], int]:
        return list(packet.payloads), packet.timestamp


def _vp8_preferences() -> list[Any]:
    return [
        c
        for c in RTCRtpSender.getCapabilities("video").codecs
        if c.mimeType in ("video/VP8", "video/rtx")
    ]


async def _pair(mode: str) -> tuple[RTCPeerConnection, RTCPeerConnection, Any, _Count]:
    server = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    client = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    count = _Count()
    target: Any
    if mode == "direct":
        track = SenderTrack("video", "cam-video-0", 90000, MediaCounters())
        transceiver = server.addTransceiver(track, direction="sendonly")
        track.use_sender(
            hooks.prepare_forwarding_sender(
                transceiver.sender, lambda: None, stream_id="cam", on_ready=track.sender_ready
            )
        )
        output = ForwardedOutput("video", "cam-video-0")
        track.bind(output, "cam-video-0")
        track.activate()
        target = output
    else:
        queued = _QueuedTrack()
        transceiver = server.addTransceiver(queued, direction="sendonly")
        # the pre-encoded payloads go through Encoder.pack, as the server's senders did
        transceiver.sender._RTCRtpSender__encoder = _Pack()  # type: ignore[attr-defined]
        target = queued
    transceiver.setCodecPreferences(_vp8_preferences())

    @client.on("track")
    def on_track(remote: Any) -> None:
        for t in client.getTransceivers():
            if t.receiver.track is remote:
                hooks.tap_receiver(t.receiver, count, lambda: None)

    await server.setLocalDescription(await server.createOffer())
    await client.setRemoteDescription(server.localDescription)
    await client.setLocalDescription(await client.createAnswer())
    await server.setRemoteDescription(client.localDescription)
    for _ in range(500):
        if server.connectionState == "connected" and (mode != "direct" or target.connected):
            break
        await asyncio.sleep(0.02)
    return server, client, target, count


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def run_once(mode: str, k: int, seconds: float) -> dict[str, Any]:
    pairs = [await _pair(mode) for _ in range(k)]
    targets = [p[2] for p in pairs]
    counts = [p[3] for p in pairs]
    payloads: Sequence[bytes] = tuple(
        bytes([0x10 if i == 0 else 0x00]) + bytes(PAYLOAD - 1) for i in range(PACKETS_PER_FRAME)
    )
    await asyncio.sleep(0.5)
    before = [c.packets for c in counts]
    cpu0, wall0 = _cpu(), time.monotonic()
    send_cpu = 0.0
    n = 0
    while time.monotonic() - wall0 < seconds:
        frame = ForwardedFrame(payloads, n * 3000, keyframe=n == 0)
        if mode == "direct":
            t0 = time.thread_time()
            for output in targets:
                output.offer(frame)
            send_cpu += time.thread_time() - t0
        else:
            for queued in targets:
                if not queued.queue.full():
                    queued.queue.put_nowait(frame)
        n += 1
        await asyncio.sleep(max(0.0, wall0 + n / FPS - time.monotonic()))
    await asyncio.sleep(0.2)  # what is in flight arrives
    wall = time.monotonic() - wall0
    cpu = _cpu() - cpu0
    received = sum(c.packets for c in counts) - sum(before)
    for server, client, *_ in pairs:
        await server.close()
        await client.close()
    sent = n * PACKETS_PER_FRAME * k
    return {
        "mode": mode,
        "k": k,
        "window_s": round(wall, 2),
        "packets_sent": sent,
        "packets_received": received,
        "process_cpu_s_per_s": round(cpu / wall, 4),
        "us_per_packet_process": round(cpu / max(received, 1) * 1e6, 2),
        "us_per_packet_send_timed": round(send_cpu / max(received, 1) * 1e6, 2)
        if mode == "direct"
        else None,
    }


def _table(runs: list[dict[str, Any]]) -> str:
    lines = [
        "| K | repeat | mode | packets received / sent | process CPU-s/s "
        "| µs per packet (process: send + receive) | µs per packet (direct send calls, timed) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        timed = "" if r["us_per_packet_send_timed"] is None else r["us_per_packet_send_timed"]
        lines.append(
            f"| {r['k']} | {r['repeat']} | {r['mode']} "
            f"| {r['packets_received']} / {r['packets_sent']} "
            f"| {r['process_cpu_s_per_s']} | {r['us_per_packet_process']} | {timed} |"
        )
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    runs = []
    for repeat in range(1, args.repeats + 1):
        for k in args.k:
            for mode in ("aiortc", "direct"):
                result = await run_once(mode, k, args.seconds)
                result["repeat"] = repeat
                runs.append(result)
                print(json.dumps(result), flush=True)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "sfu-sendpath.json")
    args = parser.parse_args()
    # loopback only: the peers gather their host candidates on 127.0.0.1
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]  # type: ignore[assignment]
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    runs = asyncio.run(main_async(args))
    record = {
        "command": "python -m bench.sfu.sendpath --k "
        + " ".join(map(str, args.k))
        + f" --seconds {args.seconds:g} --repeats {args.repeats}",
        "started": started,
        "machine": {
            "python": platform.python_version(),
            "nproc": len(__import__("os").sched_getaffinity(0)),
        },
        "load_before": load_before,
        "load_after": Path("/proc/loadavg").read_text().split()[:3],
        "runs": runs,
    }
    args.out.write_text(json.dumps(record, indent=2))
    print(_table(runs))


if __name__ == "__main__":
    main()
