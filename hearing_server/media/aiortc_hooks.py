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
* sender: forwarded frames do not go through the sender's RTP task (a queue hop, an
  ``RtpPacket`` built and serialized with its extensions, two datetime clock reads per
  packet). ``DirectSender`` takes over: ``_run_rtp`` is replaced by a task that only marks
  the sender started and ready, and each frame is sent by a direct call: the RTP header is
  packed from a per-sender template (the extension block is aiortc's own, built once; only
  abs-send-time changes, once per frame), protected by the DTLS transport's SRTP session and
  written to the nominated ICE pair's socket. The sender's RTCP task stays aiortc's: the
  sender report's counters are kept up to date, and ``_retransmit`` (a subscriber's NACK)
  is replaced by one that resends from the direct sender's history (RTX-wrapped when RTX
  was negotiated). ``_send_keyframe`` (a subscriber's PLI/FIR) is redirected upstream;
  ``_stream_id`` is set so the subscriber's msid names the publisher (and set again when
  a retired section is reused for another publisher's track; the msid's track id follows
  the public ``replaceTrack``, which stores ``track.id`` in ``_track_id``).
* upstream PLI: ``RTCRtpReceiver._send_rtcp_pli(media_ssrc)``.
* host candidates: ``aioice.ice.get_host_addresses`` is wrapped once by a function that
  returns the announced addresses inside ``announced_host_addresses()`` (a context
  variable, so it applies to the server's own gathering only) and otherwise calls the
  function it wrapped.
* media ports: aioice binds each host candidate with ``loop.create_datagram_endpoint(...,
  local_addr=(address, 0))``; inside the same context, with a port range, the event loop's
  method (wrapped once) binds a free port of the range instead of port 0.

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
import random
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import aioice
import aioice.ice
import aiortc
import aiortc.rtcicetransport
import aiortc.rtcpeerconnection
import pylibsrtp
from aiortc import RTCDtlsTransport, RTCRtpReceiver, RTCRtpSender
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpsender import random_sequence_number
from aiortc.rtp import RTP_HISTORY_SIZE, HeaderExtensions, RtpPacket, wrap_rtx
from aiortc.utils import random32

from .errors import MediaError
from .stats import MediaCounters

_SelectorDatagramTransport: Any = vars(asyncio.selector_events)["_SelectorDatagramTransport"]
_SelectorTransport: Any = vars(asyncio.selector_events)["_SelectorTransport"]

logger = logging.getLogger(__name__)

TESTED_AIORTC_VERSION = "1.16.0"
TESTED_AIOICE_VERSION = "0.13.0"

_RECEIVER_JITTER_BUFFER = "_RTCRtpReceiver__jitter_buffer"
_RECEIVER_DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"
_RECEIVER_SEND_PLI = "_send_rtcp_pli"
_RECEIVER_HANDLE_RTP = "_handle_rtp_packet"
_SENDER_SEND_KEYFRAME = "_send_keyframe"
_SENDER_RUN_RTP = "_run_rtp"
_SENDER_RETRANSMIT = "_retransmit"
_SENDER_PRIVATE = {
    "started": "_RTCRtpSender__rtp_started",
    "exited": "_RTCRtpSender__rtp_exited",
    "mid": "_RTCRtpSender__mid",
    "extensions": "_RTCRtpSender__rtp_header_extensions_map",
    "rtx_pt": "_RTCRtpSender__rtx_payload_type",
    "ntp": "_RTCRtpSender__ntp_timestamp",
    "rtp_ts": "_RTCRtpSender__rtp_timestamp",
    "octets": "_RTCRtpSender__octet_count",
    "packets": "_RTCRtpSender__packet_count",
}
_DTLS_TX_BYTES = "_RTCDtlsTransport__tx_bytes"
_DTLS_TX_PACKETS = "_RTCDtlsTransport__tx_packets"
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

    # sender: frames are sent by DirectSender instead of the RTP task; RTCP stays aiortc's
    _require_method(RTCRtpSender, _SENDER_RUN_RTP, ["self", "codec"], is_async=True)
    _require_method(RTCRtpSender, _SENDER_RETRANSMIT, ["self", "sequence_number"], is_async=True)
    _require_names("RTCRtpSender.send", RTCRtpSender.send, [_SENDER_RUN_RTP])
    _require_names(
        "RTCRtpSender.__init__",
        RTCRtpSender.__init__,
        [_SENDER_STREAM_ID, "_ssrc", "_rtx_ssrc", *_SENDER_PRIVATE.values()],
    )
    _require_names(
        "RTCRtpSender._run_rtcp",
        RTCRtpSender._run_rtcp,
        [_SENDER_PRIVATE[k] for k in ("ntp", "rtp_ts", "octets", "packets")],
    )
    _require_method(RTCRtpSender, _SENDER_SEND_KEYFRAME, ["self"], is_async=False)
    _require_names(
        "RTCRtpSender._handle_rtcp_packet",
        RTCRtpSender._handle_rtcp_packet,
        [_SENDER_SEND_KEYFRAME, _SENDER_RETRANSMIT],
    )
    # msid = "<sender._stream_id> <sender._track_id>", the latter set by replaceTrack
    _require_names(
        "aiortc.rtcpeerconnection.create_media_description_for_transceiver",
        getattr(aiortc.rtcpeerconnection, "create_media_description_for_transceiver", None),
        [_SENDER_STREAM_ID, _SENDER_TRACK_ID, "msid"],
    )
    _require_names("RTCRtpSender.replaceTrack", RTCRtpSender.replaceTrack, [_SENDER_TRACK_ID])
    # the send path under the sender: SRTP session, ICE pair, socket
    _require_names(
        "RTCDtlsTransport._send_rtp", RTCDtlsTransport._send_rtp, ["_state", "_tx_srtp", "protect"]
    )
    _require_names(
        "RTCDtlsTransport.__init__", RTCDtlsTransport.__init__, [_DTLS_TX_BYTES, _DTLS_TX_PACKETS]
    )
    _require_names(
        "RTCIceTransport.__init__", aiortc.rtcicetransport.RTCIceTransport.__init__, ["_connection"]
    )
    _require_names("aioice.ice.Connection.sendto", aioice.ice.Connection.sendto, ["_nominated"])
    _require_names(
        "aioice.ice.Connection.sendto",
        aioice.ice.Connection.sendto,
        ["protocol", "send_data", "remote_addr"],
    )
    _require_names(
        "aioice.ice.StunProtocol.send_data",
        aioice.ice.StunProtocol.send_data,
        ["transport", "sendto"],
    )

    # aioice binds each host candidate's socket with loop.create_datagram_endpoint and
    # local_addr=(address, 0): the media port range picks the port instead of the kernel
    _require_names(
        "aioice.ice.Connection.get_component_candidates",
        aioice.ice.Connection.get_component_candidates,
        ["create_datagram_endpoint"],
    )

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

_NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix)
_RTP_HEADER = struct.Struct("!BBHLL")


def _ntp_now() -> int:
    """The wall clock as a 64-bit NTP timestamp, without aiortc's datetime arithmetic."""
    return int((time.time() + _NTP_EPOCH_OFFSET) * 4294967296.0)


class DirectSender:
    """Sends forwarded frames on one ``RTCRtpSender`` by a direct call: no RTP task, no
    queue, one RTP header template per sender.

    ``on_ready`` is called once the sender has been started by aiortc (its DTLS transport is
    connected and the negotiated parameters are known); ``send`` refuses frames before that
    and after the sender stops. NACKed packets are resent from a history of the last
    ``RTP_HISTORY_SIZE`` packets, as aiortc's own sender does.
    """

    def __init__(
        self,
        sender: RTCRtpSender,
        on_ready: Callable[[], None],
        counters: MediaCounters | None = None,
    ) -> None:
        self._sender: Any = sender
        self._on_ready = on_ready
        # forwarded_bytes: the payload octets are summed for aiortc's stats anyway
        self._counters = counters if counters is not None else MediaCounters()
        self.ready = False
        self.closed = False
        self.packets_sent = 0
        self.retransmitted = 0
        self.send_failures = 0
        self._ssrc: int = sender._ssrc
        self._sequence = random_sequence_number()
        self._timestamp_origin = random32()
        self._first_byte = 0x80
        self._payload_type = 0
        self._ext_head = b""  # extension header and elements before abs-send-time's value
        self._ext_tail = b""  # the elements after it, and padding
        self._abs_send_time = False
        self._extensions_map: Any = None
        self._rtx_payload_type: int | None = None
        self._rtx_sequence = random_sequence_number()
        self._history: list[bytes | None] = [None] * RTP_HISTORY_SIZE
        self._relayed: set[asyncio.Future[None]] = set()
        sender._run_rtp = self._run  # type: ignore[method-assign]
        sender._retransmit = self._retransmit  # type: ignore[method-assign]

    async def _run(self, codec: Any) -> None:
        # takes the place of RTCRtpSender._run_rtp, which aiortc starts from send() once
        # the transport is connected; stop() cancels it and waits for "exited"
        s = self._sender
        getattr(s, _SENDER_PRIVATE["started"]).set()
        try:
            self._configure(codec.payloadType)
            self.ready = True
            self._on_ready()
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.exception("forwarding sender could not start; it sends nothing")
        finally:
            self.ready = False
            self.closed = True
            getattr(s, _SENDER_PRIVATE["exited"]).set()

    def _configure(self, payload_type: int) -> None:
        s = self._sender
        self._payload_type = payload_type
        self._extensions_map = getattr(s, _SENDER_PRIVATE["extensions"])
        self._rtx_payload_type = getattr(s, _SENDER_PRIVATE["rtx_pt"])
        mid = getattr(s, _SENDER_PRIVATE["mid"])
        # aiortc's own extension block, built twice with abs-send-time all zeros and all
        # ones: the bytes that differ are where each frame's send time goes
        zeros = self._extension_block(mid, 0)
        ones = self._extension_block(mid, 0xFFFFFF)
        differ = [i for i in range(len(zeros)) if zeros[i] != ones[i]]
        if not zeros:
            self._first_byte, self._ext_head, self._ext_tail = 0x80, b"", b""
        elif not differ:
            self._first_byte, self._ext_head, self._ext_tail = 0x90, zeros, b""
        elif len(differ) == 3 and differ[2] - differ[0] == 2:
            self._first_byte = 0x90
            self._ext_head, self._ext_tail = zeros[: differ[0]], zeros[differ[0] + 3 :]
            self._abs_send_time = True
        else:
            raise AiortcIncompatible("the abs-send-time extension is not three bytes")

    def _extension_block(self, mid: str | None, abs_send_time: int) -> bytes:
        values = HeaderExtensions()
        values.mid = mid
        values.abs_send_time = abs_send_time
        profile, value = self._extensions_map.set(values)
        if not value:
            return b""
        return struct.pack("!HH", profile, len(value) >> 2) + bytes(value)

    def send(self, payloads: Sequence[bytes], timestamp: int) -> int:
        """Send one frame's payloads (the last one marked); returns the packets sent, 0 if
        the sender is not ready or its transport is gone."""
        if not self.ready:
            return 0
        s = self._sender
        dtls: Any = s.transport
        if dtls._state is not DtlsState.CONNECTED:
            return 0
        pair = dtls.transport._connection._nominated.get(1)
        if pair is None:
            return 0
        ntp = _ntp_now()
        ext_head = self._ext_head
        if self._abs_send_time:
            ext_head += ((ntp >> 14) & 0xFFFFFF).to_bytes(3, "big")
        ext_tail = self._ext_tail
        rtp_timestamp = (self._timestamp_origin + timestamp) & 0xFFFFFFFF
        first, pt, ssrc = self._first_byte, self._payload_type, self._ssrc
        pack = _RTP_HEADER.pack
        protect = dtls._tx_srtp.protect
        protocol = pair.protocol
        addr = pair.remote_addr
        sendto = protocol.transport.sendto if type(protocol) is aioice.ice.StunProtocol else None
        history = self._history
        sequence = self._sequence
        last = len(payloads) - 1
        sent_bytes = octets = 0
        try:
            for i, payload in enumerate(payloads):
                plain = b"".join(
                    (
                        pack(first, pt | 0x80 if i == last else pt, sequence, rtp_timestamp, ssrc),
                        ext_head,
                        ext_tail,
                        payload,
                    )
                )
                history[sequence % RTP_HISTORY_SIZE] = plain
                data = protect(plain)
                if sendto is not None:
                    sendto(data, addr)
                else:  # a relayed (TURN) pair: its protocol wraps the data itself
                    self._send_relayed(protocol, data, addr)
                sequence = (sequence + 1) & 0xFFFF
                sent_bytes += len(data)
                octets += len(payload)
        except (pylibsrtp.Error, OSError, RuntimeError) as exc:
            self._failed(exc)
        count = (sequence - self._sequence) & 0xFFFF
        self._sequence = sequence
        if count:
            self.packets_sent += count
            for key, value in (("ntp", ntp), ("rtp_ts", rtp_timestamp)):
                setattr(s, _SENDER_PRIVATE[key], value)
            for key, add in (("octets", octets), ("packets", count)):
                name = _SENDER_PRIVATE[key]
                setattr(s, name, getattr(s, name) + add)
            setattr(dtls, _DTLS_TX_BYTES, getattr(dtls, _DTLS_TX_BYTES) + sent_bytes)
            setattr(dtls, _DTLS_TX_PACKETS, getattr(dtls, _DTLS_TX_PACKETS) + count)
            self._counters.forwarded_bytes += octets
        return count

    def _send_relayed(self, protocol: Any, data: bytes, addr: Any) -> None:
        task = asyncio.ensure_future(protocol.send_data(data, addr))
        self._relayed.add(task)
        task.add_done_callback(self._relayed.discard)

    def _failed(self, exc: BaseException) -> None:
        self.send_failures += 1
        if self.send_failures <= 3 or self.send_failures % 1000 == 0:
            logger.warning("forwarding send failed (%d so far): %r", self.send_failures, exc)

    async def _retransmit(self, sequence_number: int) -> None:
        # takes the place of RTCRtpSender._retransmit (a subscriber's NACK)
        plain = self._history[sequence_number % RTP_HISTORY_SIZE]
        if plain is None or int.from_bytes(plain[2:4], "big") != sequence_number:
            return
        if self._rtx_payload_type is not None:
            packet = RtpPacket.parse(plain, self._extensions_map)
            plain = wrap_rtx(
                packet,
                payload_type=self._rtx_payload_type,
                sequence_number=self._rtx_sequence,
                ssrc=self._sender._rtx_ssrc,
            ).serialize(self._extensions_map)
            self._rtx_sequence = (self._rtx_sequence + 1) & 0xFFFF
        try:
            await self._sender.transport._send_rtp(plain)
        except ConnectionError:
            return
        self.retransmitted += 1


def prepare_forwarding_sender(
    sender: RTCRtpSender,
    on_keyframe_request: Callable[[], None],
    stream_id: str,
    on_ready: Callable[[], None],
    counters: MediaCounters | None = None,
) -> DirectSender:
    """Make ``sender`` send forwarded frames through the returned ``DirectSender``, report
    the subscriber's PLI/FIR to ``on_keyframe_request`` and announce ``stream_id`` in msid.
    The payload bytes it sends are added to ``counters.forwarded_bytes``.

    Must be called before the sender starts (before the offer is applied).
    """
    if not hasattr(sender, _SENDER_STREAM_ID):
        raise AiortcIncompatible("RTCRtpSender instance lacks the stream id slot")
    if getattr(sender, _SENDER_PRIVATE["started"]).is_set():
        raise AiortcIncompatible("RTCRtpSender already started")
    direct = DirectSender(sender, on_ready, counters)
    setattr(sender, _SENDER_SEND_KEYFRAME, on_keyframe_request)
    setattr(sender, _SENDER_STREAM_ID, stream_id)
    return direct


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


_port_range: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "hearing_server_media_port_range", default=None
)
_PORT_RANGE_MARK = "_hearing_server_port_range"


def _install_port_range() -> None:
    """Wrap the event loop's ``create_datagram_endpoint`` once: inside
    ``announced_host_addresses(..., port_range=...)`` a bind to port 0 takes a free port of the
    range instead (tried from a random place in it); elsewhere it is the call it wraps."""
    loop_class = asyncio.BaseEventLoop
    current = loop_class.create_datagram_endpoint
    if getattr(current, _PORT_RANGE_MARK, False):
        return
    wrapped = current

    async def create_datagram_endpoint(self: Any, *args: Any, **kwargs: Any) -> Any:
        span = _port_range.get()
        local = kwargs.get("local_addr")
        if span is None or not (isinstance(local, tuple) and len(local) >= 2 and local[1] == 0):
            return await wrapped(self, *args, **kwargs)
        low, high = span
        count = high - low + 1
        start = random.randrange(count)
        last: OSError | None = None
        for i in range(count):
            port = low + (start + i) % count
            try:
                return await wrapped(self, *args, **{**kwargs, "local_addr": (local[0], port)})
            except OSError as exc:  # taken (by another connection, or anyone): the next one
                last = exc
        raise OSError(f"no free UDP port in the media port range {low}-{high}: {last}")

    setattr(create_datagram_endpoint, _PORT_RANGE_MARK, True)
    loop_class.create_datagram_endpoint = create_datagram_endpoint  # type: ignore[method-assign]


@contextmanager
def announced_host_addresses(
    addresses: Sequence[str], port_range: tuple[int, int] | None = None
) -> Iterator[None]:
    """Within this block (and tasks it starts), aioice gathers host candidates on
    ``addresses`` only (an empty sequence leaves aioice's default gathering alone), each on
    a port of ``port_range`` (inclusive) when one is given (else any port)."""
    tokens: list[tuple[contextvars.ContextVar[Any], contextvars.Token[Any]]] = []
    if addresses:
        _install_host_address_override()
        tokens.append((_host_addresses, _host_addresses.set(tuple(addresses))))
    if port_range is not None:
        _install_port_range()
        tokens.append((_port_range, _port_range.set(port_range)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


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
