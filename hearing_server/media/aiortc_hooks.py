"""Every use of aiortc/aioice internals in one place, checked when this module is imported.

The SFU forwards RTP without decoding or encoding, which aiortc 1.16 has no public API
for. The hooks, all per instance except the host-address override:

* receiver: the receiver's jitter buffer is replaced by a tap. aiortc's
  ``RTCRtpReceiver._handle_rtp_packet`` still does REMB, RTCP statistics, RTX unwrap and
  NACK generation, then hands the packet to ``self.__jitter_buffer.add(packet)``: the tap
  forwards it and returns "no frame", so nothing reaches the decoder thread. The thread
  itself is left running because ``stop()`` and RTCP BYE end it with ``put(None)``; its
  queue is replaced by one that counts decode jobs, which is the evidence for
  ``decoded_frames``.
* sender: its encoder is preset to a pass-through one whose ``pack`` returns the
  forwarded payloads (``_next_encoded_frame`` calls ``pack`` for anything that is not an
  ``av.Frame``); ``_send_keyframe`` (a subscriber's PLI/FIR) is redirected upstream;
  ``_stream_id`` is set so the subscriber's msid names the publisher (and set again when
  a retired section is reused for another publisher's track; the msid's track id follows
  the public ``replaceTrack``, which stores ``track.id`` in ``_track_id``).
* upstream PLI: ``RTCRtpReceiver._send_rtcp_pli(media_ssrc)``.
* host candidates: ``aioice.ice.get_host_addresses`` is wrapped once by a function that
  returns the announced addresses inside ``announced_host_addresses()`` (a context
  variable, so it applies to the server's own gathering only) and otherwise calls the
  function it wrapped.

* socket reads: asyncio's selector loop reads one datagram per readiness event per socket, so
  when a loop iteration is long (a busy hearing) a socket is read only as often as the loop
  turns, its kernel buffer overflows and ICE consent checks are dropped with the media (after
  30 s every connection is declared dead, RFC 7675). ``batch_datagram_reads(pc)`` makes each
  of the server's ICE sockets read everything waiting (up to a batch) per readiness event:
  aioice answers STUN as it reads, and hands media to the DTLS transport's queue.

``verify()`` runs at import and raises ``AiortcIncompatible`` if an aiortc/aioice upgrade
moved any of these; tests/unit/media/test_aiortc_hooks.py checks the same.
"""

from __future__ import annotations

import asyncio
import asyncio.selector_events
import contextvars
import inspect
import logging
import queue
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import aioice
import aioice.ice
import aiortc
import aiortc.rtcicetransport
import aiortc.rtcpeerconnection
from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.codecs.base import Encoder
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import RtpPacket

from .errors import MediaError

_SelectorDatagramTransport: Any = vars(asyncio.selector_events)["_SelectorDatagramTransport"]
_SelectorTransport: Any = vars(asyncio.selector_events)["_SelectorTransport"]

logger = logging.getLogger(__name__)

TESTED_AIORTC_VERSION = "1.16.0"
TESTED_AIOICE_VERSION = "0.13.0"

_RECEIVER_JITTER_BUFFER = "_RTCRtpReceiver__jitter_buffer"
_RECEIVER_DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"
_RECEIVER_SEND_PLI = "_send_rtcp_pli"
_RECEIVER_HANDLE_RTP = "_handle_rtp_packet"
_SENDER_ENCODER = "_RTCRtpSender__encoder"
_SENDER_SEND_KEYFRAME = "_send_keyframe"
_SENDER_NEXT_FRAME = "_next_encoded_frame"
_SENDER_STREAM_ID = "_stream_id"
_SENDER_TRACK_ID = "_track_id"
_OVERRIDE_MARK = "_hearing_server_host_override"


class AiortcIncompatible(MediaError):
    """The installed aiortc/aioice lacks an internal the media layer relies on."""

    def __init__(self, message: str) -> None:
        super().__init__(
            "aiortc_incompatible",
            f"{message} (hooks written for aiortc {TESTED_AIORTC_VERSION} / aioice "
            f"{TESTED_AIOICE_VERSION}; installed aiortc {aiortc.__version__} / aioice "
            f"{aioice.__version__}; see hearing_server/media/aiortc_hooks.py)",
        )


def _names(func: Any) -> set[str]:
    code = getattr(func, "__code__", None)
    if code is None:
        raise AiortcIncompatible(f"{func!r} is not a Python function")
    return set(code.co_names)


def _require_method(cls: type, name: str, params: list[str], *, is_async: bool) -> Any:
    func = getattr(cls, name, None)
    if func is None:
        raise AiortcIncompatible(f"{cls.__name__}.{name} is missing")
    if inspect.iscoroutinefunction(func) != is_async:
        kind = "a coroutine function" if is_async else "a plain function"
        raise AiortcIncompatible(f"{cls.__name__}.{name} is no longer {kind}")
    got = list(inspect.signature(func).parameters)
    if got != params:
        raise AiortcIncompatible(f"{cls.__name__}.{name} parameters are {got}, expected {params}")
    return func


def _require_names(where: str, func: Any, names: Sequence[str]) -> None:
    missing = [n for n in names if n not in _names(func)]
    if missing:
        raise AiortcIncompatible(f"{where} no longer uses {', '.join(missing)}")


def verify() -> None:
    """Check every internal this module relies on; raise ``AiortcIncompatible`` if not."""
    # receiver: the jitter buffer is the last step of _handle_rtp_packet before decoding
    handle = _require_method(
        RTCRtpReceiver, _RECEIVER_HANDLE_RTP, ["self", "packet", "arrival_time_ms"], is_async=True
    )
    _require_names(
        "RTCRtpReceiver.__init__",
        RTCRtpReceiver.__init__,
        [_RECEIVER_JITTER_BUFFER, _RECEIVER_DECODER_QUEUE],
    )
    _require_names(
        "RTCRtpReceiver._handle_rtp_packet",
        handle,
        [_RECEIVER_JITTER_BUFFER, "add", _RECEIVER_DECODER_QUEUE, "put"],
    )
    _require_names("RTCRtpReceiver.receive", RTCRtpReceiver.receive, [_RECEIVER_DECODER_QUEUE])
    _require_method(JitterBuffer, "add", ["self", "packet"], is_async=False)
    _require_method(RTCRtpReceiver, _RECEIVER_SEND_PLI, ["self", "media_ssrc"], is_async=True)

    # sender: pre-encoded data goes through encoder.pack; PLI/FIR calls _send_keyframe
    next_frame = _require_method(RTCRtpSender, _SENDER_NEXT_FRAME, ["self", "codec"], is_async=True)
    _require_names(
        "RTCRtpSender.__init__", RTCRtpSender.__init__, [_SENDER_ENCODER, _SENDER_STREAM_ID]
    )
    _require_names(
        "RTCRtpSender._next_encoded_frame", next_frame, [_SENDER_ENCODER, "pack", "encode"]
    )
    _require_method(RTCRtpSender, _SENDER_SEND_KEYFRAME, ["self"], is_async=False)
    # msid = "<sender._stream_id> <sender._track_id>", the latter set by replaceTrack
    _require_names(
        "aiortc.rtcpeerconnection.create_media_description_for_transceiver",
        getattr(aiortc.rtcpeerconnection, "create_media_description_for_transceiver", None),
        [_SENDER_STREAM_ID, _SENDER_TRACK_ID, "msid"],
    )
    _require_names("RTCRtpSender.replaceTrack", RTCRtpSender.replaceTrack, [_SENDER_TRACK_ID])
    _require_names(
        "RTCRtpSender._handle_rtcp_packet",
        RTCRtpSender._handle_rtcp_packet,
        [_SENDER_SEND_KEYFRAME],
    )
    for name in ("encode", "pack"):
        if not callable(getattr(Encoder, name, None)):
            raise AiortcIncompatible(f"aiortc.codecs.base.Encoder.{name} is missing")

    # aioice: host candidates come from the module-level get_host_addresses
    gha = getattr(aioice.ice, "get_host_addresses", None)
    if gha is None:
        raise AiortcIncompatible("aioice.ice.get_host_addresses is missing")
    if list(inspect.signature(gha).parameters) != ["use_ipv4", "use_ipv6"]:
        raise AiortcIncompatible("aioice.ice.get_host_addresses signature changed")
    _require_names(
        "aioice.ice.Connection.gather_candidates",
        aioice.ice.Connection.gather_candidates,
        ["get_host_addresses"],
    )

    # asyncio: the selector loop's datagram transport and its reader registration
    for name in ("_read_ready", "_sock", "_protocol", "_conn_lost", "_sock_fd", "max_size"):
        if not hasattr(_SelectorDatagramTransport, name) and name not in _names(
            _SelectorDatagramTransport.__init__
        ) | _names(_SelectorTransport.__init__):
            raise AiortcIncompatible(f"asyncio's datagram transport lacks {name}")
    if not hasattr(asyncio.selector_events.BaseSelectorEventLoop, "_add_reader"):
        raise AiortcIncompatible("asyncio's selector loop lacks _add_reader")
    _require_names("aioice.ice.Connection.__init__", aioice.ice.Connection.__init__, ["_protocols"])
    _require_names(
        "aiortc.rtcicetransport.RTCIceGatherer.__init__",
        aiortc.rtcicetransport.RTCIceGatherer.__init__,
        ["_connection"],
    )

    if aiortc.__version__ != TESTED_AIORTC_VERSION:
        logger.warning(
            "aiortc %s is installed; the media hooks were written for %s (checks passed)",
            aiortc.__version__,
            TESTED_AIORTC_VERSION,
        )


verify()


# --- receiver -------------------------------------------------------------------------


class PacketSink(Protocol):
    """Receives each RTP packet of a publisher track after aiortc's RTX unwrap and NACK."""

    def on_rtp(self, packet: RtpPacket) -> None: ...


class _ForwardingTap:
    """Takes the jitter buffer's place in a publisher receiver."""

    def __init__(self, sink: PacketSink) -> None:
        self._sink = sink
        self._failures = 0

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        try:
            self._sink.on_rtp(packet)
        except Exception:
            # an exception here would end aiortc's receive loop for the whole transport
            self._failures += 1
            if self._failures <= 3 or self._failures % 1000 == 0:
                logger.exception("forwarding an RTP packet failed (%d so far)", self._failures)
        # (no PLI from here, no frame for the decoder)
        return False, None


class _CountingDecoderQueue(queue.Queue[Any]):
    """The decoder thread's input queue; counts decode jobs, passes everything through."""

    def __init__(self, on_decode_job: Callable[[], None]) -> None:
        super().__init__()
        self._on_decode_job = on_decode_job

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is not None:  # None is the stop signal from stop()/BYE, not a frame
            self._on_decode_job()
        super().put(item, block, timeout)


def tap_receiver(
    receiver: RTCRtpReceiver, sink: PacketSink, on_decode_job: Callable[[], None]
) -> None:
    """Make ``receiver`` forward its packets to ``sink`` instead of decoding them.

    Must be called before the receiver starts (``receive()`` hands the decoder queue to
    its thread), i.e. right after the transceiver is created.
    """
    for attr in (_RECEIVER_JITTER_BUFFER, _RECEIVER_DECODER_QUEUE):
        if not hasattr(receiver, attr):
            raise AiortcIncompatible(f"RTCRtpReceiver instance has no {attr}")
    old_queue = getattr(receiver, _RECEIVER_DECODER_QUEUE)
    if not isinstance(old_queue, queue.Queue) or not old_queue.empty():
        raise AiortcIncompatible("RTCRtpReceiver decoder queue is not an empty queue.Queue")
    setattr(receiver, _RECEIVER_JITTER_BUFFER, _ForwardingTap(sink))
    setattr(receiver, _RECEIVER_DECODER_QUEUE, _CountingDecoderQueue(on_decode_job))


async def send_pli(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Ask the publisher of ``media_ssrc`` for a keyframe (RTCP PLI)."""
    await getattr(receiver, _RECEIVER_SEND_PLI)(media_ssrc)


# --- sender ---------------------------------------------------------------------------


def prepare_forwarding_sender(
    sender: RTCRtpSender,
    encoder: Encoder,
    on_keyframe_request: Callable[[], None],
    stream_id: str,
) -> None:
    """Make ``sender`` send pre-packetized frames through ``encoder.pack``, report the
    subscriber's PLI/FIR to ``on_keyframe_request`` and announce ``stream_id`` in msid.

    Must be called before the sender starts (before the offer is applied).
    """
    if not hasattr(sender, _SENDER_ENCODER) or not hasattr(sender, _SENDER_STREAM_ID):
        raise AiortcIncompatible("RTCRtpSender instance lacks the encoder/stream id slots")
    if getattr(sender, _SENDER_ENCODER) is not None:
        raise AiortcIncompatible("RTCRtpSender already has an encoder")
    setattr(sender, _SENDER_ENCODER, encoder)
    setattr(sender, _SENDER_SEND_KEYFRAME, on_keyframe_request)
    setattr(sender, _SENDER_STREAM_ID, stream_id)


def set_stream_id(sender: RTCRtpSender, stream_id: str) -> None:
    """The msid stream id ``sender`` announces in the next offer."""
    if not hasattr(sender, _SENDER_STREAM_ID):
        raise AiortcIncompatible("RTCRtpSender instance lacks the stream id slot")
    setattr(sender, _SENDER_STREAM_ID, stream_id)


# --- host candidates --------------------------------------------------------------------

_host_addresses: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar(
    "hearing_server_media_host_addresses", default=None
)


def _install_host_address_override() -> None:
    current = aioice.ice.get_host_addresses
    if getattr(current, _OVERRIDE_MARK, False):
        return
    wrapped: Callable[[bool, bool], list[str]] = current

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        override = _host_addresses.get()
        if override is None:
            return wrapped(use_ipv4, use_ipv6)
        return [a for a in override if (use_ipv6 if ":" in a else use_ipv4)]

    setattr(get_host_addresses, _OVERRIDE_MARK, True)
    aioice.ice.get_host_addresses = get_host_addresses


@contextmanager
def announced_host_addresses(addresses: Sequence[str]) -> Iterator[None]:
    """Within this block (and tasks it starts), aioice gathers host candidates on
    ``addresses`` only. An empty sequence leaves aioice's default gathering alone."""
    if not addresses:
        yield
        return
    _install_host_address_override()
    token = _host_addresses.set(tuple(addresses))
    try:
        yield
    finally:
        _host_addresses.reset(token)


# --- socket reads ---------------------------------------------------------------------

_BATCH_MARK = "_hearing_server_batched_reads"
READ_BATCH = 64
"""Datagrams read per readiness event at most, so one flooded socket cannot starve the loop."""


def batch_datagram_reads(pc: aiortc.RTCPeerConnection, batch: int = READ_BATCH) -> int:
    """Make every ICE socket of ``pc`` gathered so far read up to ``batch`` waiting datagrams
    per readiness event instead of one. Idempotent; returns how many sockets were changed.
    Sockets of other kinds of loops (e.g. uvloop, which already reads in batches) are left
    alone."""
    changed = 0
    for connection in _ice_connections(pc):
        for protocol in list(getattr(connection, "_protocols", ())):
            transport = getattr(protocol, "transport", None)
            if _batch_reads(transport, batch):
                changed += 1
    return changed


def _ice_connections(pc: aiortc.RTCPeerConnection) -> list[Any]:
    seen: list[Any] = []
    for transceiver in pc.getTransceivers():
        dtls = transceiver.sender.transport
        ice = getattr(dtls, "transport", None)
        gatherer = getattr(ice, "iceGatherer", None)
        connection = getattr(gatherer, "_connection", None)
        if connection is not None and all(c is not connection for c in seen):
            seen.append(connection)
    sctp = pc.sctp
    if sctp is not None:
        gatherer = getattr(getattr(sctp.transport, "transport", None), "iceGatherer", None)
        connection = getattr(gatherer, "_connection", None)
        if connection is not None and all(c is not connection for c in seen):
            seen.append(connection)
    return seen


def _batch_reads(transport: Any, batch: int) -> bool:
    if not isinstance(transport, _SelectorDatagramTransport) or getattr(
        transport, _BATCH_MARK, False
    ):
        return False
    sock = transport._sock
    protocol = transport._protocol
    loop = transport._loop
    max_size = transport.max_size

    def read_ready() -> None:
        for _ in range(batch):
            if transport._conn_lost:
                return
            try:
                data, addr = sock.recvfrom(max_size)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                protocol.error_received(exc)
                return
            protocol.datagram_received(data, addr)

    setattr(transport, _BATCH_MARK, True)
    transport._read_ready = read_ready  # what resume_reading registers, should it be paused
    # After any registration still pending from the transport's creation (call_soon, FIFO).
    loop.call_soon(_register_reader, transport, read_ready)
    return True


def _register_reader(transport: Any, read_ready: Callable[[], None]) -> None:
    if not transport._conn_lost and not transport.is_closing():
        transport._loop._add_reader(transport._sock_fd, read_ready)
