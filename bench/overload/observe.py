"""What a client process observes, without decoding anything.

* Received media: every receiving ``RTCRtpReceiver`` gets the server's own forwarding tap
  (``hearing_server.media.aiortc_hooks.tap_receiver``) in place of its jitter buffer, so
  aiortc still does SRTP, RTCP, NACK and REMB, but no frame reaches a decoder. A
  :class:`FrameCounter` counts what arrives: RTP packets, and frames (a video frame is the
  packet carrying the marker bit, an Opus packet is one 20 ms audio frame). Decoding 16
  tracks per participant would cost the clients more CPU than the server's whole job.
* With ``count_at_transport`` (the default in ``participants``), a packet of a known
  stream is counted where the DTLS transport has unprotected it, from its RTP header
  alone, and goes no further: no RTP parsing, no receiver statistics, receiver reports or
  NACKs. aiortc's receive path costs ~0.1 ms of a client's CPU per packet, and nine
  participants' clients on the server's two cores would otherwise take most of a core
  that, in a hearing, the participants' own phones spend. A packet of a stream not yet
  known (the first of each, RTX) takes aiortc's own path.
* Connection states: every ``RTCPeerConnection`` created in the process reports its
  connection and ICE state changes, with the wall time.
* aioice's "Consent to send expired" (RFC 7675: no answer to consent checks for 30 s),
  counted with the wall time.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCDtlsTransport, RTCPeerConnection, RTCRtpReceiver
from aiortc.rtp import RtpPacket

from hearing_server.media.aiortc_hooks import tap_receiver

CONSENT_EXPIRED = "Consent to send expired"
_SINK_ATTR = "_bench_frame_counter"


class FrameCounter:
    """Counts one receiver's packets; ``owner`` and ``label`` ((publisher id, kind)) are
    filled in later from the subscriber's SDP, which names the publisher."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.packets = 0
        self.frames = 0
        self.bytes = 0
        self.owner: str | None = None
        self.label: tuple[str, str] | None = None

    def on_rtp(self, packet: RtpPacket) -> None:
        self.count(len(packet.payload), bool(packet.marker))

    def count(self, payload_bytes: int, marker: bool) -> None:
        self.packets += 1
        self.bytes += payload_bytes
        if self.kind == "audio" or marker:
            self.frames += 1


COUNTERS: list[FrameCounter] = []  # every one made in this process, closed pcs' included


def counter_of(receiver: RTCRtpReceiver) -> FrameCounter | None:
    found = getattr(receiver, _SINK_ATTR, None)
    return found if isinstance(found, FrameCounter) else None


def count_instead_of_decoding() -> None:
    """Make every receiver in this process count its packets instead of decoding them.

    The tap must be in place before ``receive()`` hands the decoder queue to its thread,
    hence a wrapper of ``receive`` (aiortc calls it on each negotiation; tap once)."""
    receive = RTCRtpReceiver.receive

    async def counting_receive(self: RTCRtpReceiver, parameters: Any) -> None:
        if counter_of(self) is None:
            counter = FrameCounter(self.track.kind)
            tap_receiver(self, counter, lambda: None)
            setattr(self, _SINK_ATTR, counter)
            COUNTERS.append(counter)
        await receive(self, parameters)

    setattr(RTCRtpReceiver, "receive", counting_receive)  # noqa: B010


def count_at_transport() -> None:
    """Count the packets of known streams at the DTLS transport (see the module's note).

    ``bytes`` then counts what follows the fixed 12-byte header (header extensions
    included, a few bytes per packet)."""
    handle = RTCDtlsTransport._handle_rtp_data

    async def counting_handle(self: RTCDtlsTransport, data: bytes, arrival_time_ms: int) -> None:
        if len(data) >= 12:
            receiver = self._rtp_router.ssrc_table.get(int.from_bytes(data[8:12], "big"))
            counter = counter_of(receiver) if isinstance(receiver, RTCRtpReceiver) else None
            if counter is not None:
                counter.count(len(data) - 12, bool(data[1] & 0x80))
                return
        await handle(self, data, arrival_time_ms)

    setattr(RTCDtlsTransport, "_handle_rtp_data", counting_handle)  # noqa: B010


@dataclass
class PcRecord:
    """One peer connection and what it went through; ``label`` is set by whoever
    recognises it (e.g. "party-2/publish")."""

    pc: RTCPeerConnection
    number: int
    label: str | None = None
    events: list[tuple[float, str, str]] = field(default_factory=list)  # (wall, what, state)
    #: (local, remote) UDP ports of the selected candidate pair: the remote one is the
    #: server's socket for this connection, which is how /proc/net/udp's rows get names
    ports: tuple[int, int] | None = None


PCS: list[PcRecord] = []  # keeps every pc alive, so no id is ever reused
_numbers = itertools.count(1)


def watch_every_connection() -> None:
    """Record the state changes of every RTCPeerConnection this process creates, from
    its first (they can happen before the code that made it gets it back)."""
    init: Callable[..., None] = RTCPeerConnection.__init__

    def watched_init(self: RTCPeerConnection, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        record = PcRecord(self, next(_numbers))
        PCS.append(record)

        def note(what: str, state: Callable[[], str]) -> Callable[[], None]:
            def changed() -> None:
                now = state()
                record.events.append((time.time(), what, now))
                if now == "connected" and record.ports is None:
                    record.ports = selected_ports(self)

            return changed

        self.on("connectionstatechange", note("connection", lambda: self.connectionState))
        self.on("iceconnectionstatechange", note("ice", lambda: self.iceConnectionState))

    setattr(RTCPeerConnection, "__init__", watched_init)  # noqa: B010


def selected_ports(pc: RTCPeerConnection) -> tuple[int, int] | None:
    """(local, remote) port of ``pc``'s nominated ICE pair (aiortc/aioice internals: the
    DTLS transport's ICE transport's aioice Connection)."""
    for transceiver in pc.getTransceivers():
        ice = getattr(transceiver.sender.transport, "transport", None)
        nominated = getattr(getattr(ice, "_connection", None), "_nominated", None) or {}
        for pair in nominated.values():
            return int(pair.local_addr[1]), int(pair.remote_addr[1])
    return None


def label_connection(pc: RTCPeerConnection | None, label: str) -> None:
    for record in PCS:
        if record.pc is pc and record.label is None:
            record.label = label


class _ConsentLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.expired: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        if CONSENT_EXPIRED in record.getMessage():
            self.expired.append(record.created)


CONSENT = _ConsentLog()


def count_consent_expiry() -> None:
    """aioice logs the expiry at INFO; the clients otherwise log at WARNING."""
    ice_log = logging.getLogger("aioice.ice")
    ice_log.setLevel(logging.INFO)
    ice_log.addHandler(CONSENT)
