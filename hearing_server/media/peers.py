"""The server's two peer connections per participant: publish (client offers) and
subscribe (server offers), as thin wrappers around aiortc's RTCPeerConnection."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal

from aiortc import (
    RTCConfiguration,
    RTCIceCandidate,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.rtcconfiguration import RTCBundlePolicy
from aiortc.sdp import MediaDescription, SessionDescription, candidate_from_sdp

from . import aiortc_hooks as hooks
from .codecs import TrackCodec, choose_codec, supported_mime_types
from .errors import MediaError
from .events import MediaEvent, SubscriberOffer
from .forwarder import SenderTrack, TrackForwarder
from .sdp_text import add_video_bitrate_hints, ask_opus_dtx, decline_remb, strip_inactive_msid
from .settings import MediaSettings
from .stats import MediaCounters
from .taps_impl import DecoderRegistry
from .tasks import TaskOwner

logger = logging.getLogger(__name__)

StateCallback = Callable[[str], None]


def make_configuration(settings: MediaSettings) -> RTCConfiguration:
    """Always an explicit ICE server list: given none, aiortc would add Google's STUN."""
    servers = []
    for entry in settings.ice_servers:
        urls = entry.get("urls")
        if not urls:
            raise MediaError("invalid_argument", "every ice_servers entry needs 'urls'")
        servers.append(
            RTCIceServer(
                urls=urls, username=entry.get("username"), credential=entry.get("credential")
            )
        )
    return RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


def parse_sdp(sdp_text: str, what: str) -> SessionDescription:
    """Parse and sanity-check an SDP from a client; MediaError("invalid_sdp") if unusable."""
    if not isinstance(sdp_text, str) or not sdp_text.strip():
        raise MediaError("invalid_sdp", f"{what} is empty")
    try:
        description = SessionDescription.parse(sdp_text)
    except Exception as exc:
        raise MediaError("invalid_sdp", f"{what} does not parse: {exc!r}") from exc
    media = [m for m in description.media if m.kind in ("audio", "video")]
    if not media:
        raise MediaError("invalid_sdp", f"{what} has no audio or video section")
    mids = [m.rtp.muxId for m in description.media]
    if any(not mid for mid in mids) or len(set(mids)) != len(mids):
        raise MediaError("invalid_sdp", f"{what} needs a distinct a=mid on every section")
    for m in media:
        if m.ice is None or not m.ice.usernameFragment or not m.ice.password:
            raise MediaError("invalid_sdp", f"{what} section {m.rtp.muxId} lacks ICE credentials")
        if m.dtls is None or not m.dtls.fingerprints:
            raise MediaError(
                "invalid_sdp", f"{what} section {m.rtp.muxId} lacks a DTLS fingerprint"
            )
        for c in m.ice_candidates:
            if not _usable_port(c):
                raise MediaError("invalid_sdp", f"{what} has a candidate with port {c.port}")
    return description


def _usable_port(candidate: RTCIceCandidate) -> bool:
    """A candidate's port a datagram can be sent to. aiortc takes any integer, and the
    connectivity check to port 99999 failed in the event loop's transport (an error in the
    log, found by fuzzing) instead of here."""
    return 0 <= candidate.port <= 65535


def parse_candidate(candidate: str | None) -> RTCIceCandidate | None:
    """An aiortc RTCIceCandidate from a ``candidate:...`` line (None: end of candidates).

    Both server connections use max-bundle, so every candidate belongs to the one ICE
    transport of section 0, whatever sdpMid/sdpMLineIndex the client gave (aiortc would
    drop a candidate addressed to a bundled section).
    """
    if candidate is None or not candidate.strip():
        return None
    text = candidate.strip()
    if text.startswith("a="):
        text = text[2:]
    if text.startswith("candidate:"):
        text = text[len("candidate:") :]
    try:
        parsed = candidate_from_sdp(text)
    except Exception as exc:
        raise MediaError("invalid_candidate", f"ICE candidate does not parse: {exc!r}") from exc
    if not _usable_port(parsed):
        raise MediaError("invalid_candidate", f"ICE candidate port {parsed.port} is out of range")
    parsed.sdpMid = None
    parsed.sdpMLineIndex = 0
    return parsed


async def _add_candidate(pc: RTCPeerConnection, candidate: str | None) -> None:
    parsed = parse_candidate(candidate)
    try:
        await pc.addIceCandidate(parsed)
    except Exception as exc:
        raise MediaError("invalid_candidate", f"ICE candidate rejected: {exc!r}") from exc


async def close_pc(pc: RTCPeerConnection) -> None:
    """Close ``pc``, shielded: aiortc shares one future between concurrent close() calls,
    and cancelling a waiter would cancel it under the caller doing the work."""
    await asyncio.shield(pc.close())


def _watch_state(pc: RTCPeerConnection, on_state: StateCallback) -> None:
    @pc.on("connectionstatechange")
    def _changed() -> None:
        on_state(pc.connectionState)


@dataclass
class _NewTrack:
    mid: str
    transceiver: RTCRtpTransceiver
    forwarder: TrackForwarder


class PublisherPeer:
    """The connection a participant sends its media on. Each received track is tapped
    into a ``TrackForwarder``; nothing is decoded."""

    def __init__(
        self,
        pid: str,
        settings: MediaSettings,
        counters: MediaCounters,
        tasks: TaskOwner,
        on_state: StateCallback,
        decoders: DecoderRegistry | None = None,
    ) -> None:
        self.pid = pid
        self._settings = settings
        self._counters = counters
        self._tasks = tasks
        self._decoders = decoders if decoders is not None else DecoderRegistry()
        self.pc = RTCPeerConnection(make_configuration(settings))
        self.forwarders: dict[str, TrackForwarder] = {}
        self._mids: set[str] = set()
        self._closed = False
        _watch_state(self.pc, on_state)

    def starts_new_session(self, offer_sdp: str) -> bool:
        """Whether ``offer_sdp`` comes from another client connection than the one this
        publish connection negotiated with (new ICE credentials): a client that reconnected
        opens a new connection, which this one, renegotiated, can never reach (aiortc does
        not restart ICE). Unparseable offers are left to ``negotiate`` to refuse."""
        remote = self.pc.remoteDescription
        if remote is None:
            return False
        try:
            ours = parse_sdp(remote.sdp, "current offer")
            theirs = parse_sdp(offer_sdp, "offer")
        except MediaError:
            return False

        def ufrag(d: SessionDescription) -> str | None:
            return next((m.ice.usernameFragment for m in d.media if m.ice is not None), None)

        return ufrag(ours) != ufrag(theirs)

    async def negotiate(
        self, offer_sdp: str, screen_mid: str | None = None
    ) -> tuple[str, list[TrackForwarder]]:
        """Apply the client's offer; returns the answer and the newly published tracks. The
        new video section ``screen_mid`` (if any) is a shared screen, not the camera."""
        if self._closed:
            raise MediaError("closed", "publish connection is closed")
        if self.pc.signalingState != "stable":
            raise MediaError("negotiation_failed", "a publish negotiation is in progress")
        description = parse_sdp(offer_sdp, "offer")
        sections: list[tuple[MediaDescription, TrackCodec]] = []
        for media in description.media:
            if media.kind not in ("audio", "video") or media.rtp.muxId in self._mids:
                continue
            codec = choose_codec(media)
            if codec is None:
                offered = ", ".join(c.mimeType for c in media.rtp.codecs) or "none"
                raise MediaError(
                    "unsupported_codec",
                    f"section {media.rtp.muxId} offers {offered}; the server forwards "
                    f"{', '.join(supported_mime_types())}",
                )
            sections.append((media, codec))

        # Transceivers created before setRemoteDescription are the ones aiortc matches to
        # the offer's new sections, and only then do codec preferences shape the answer.
        new: list[_NewTrack] = []
        for media, codec in sections:
            transceiver = self.pc.addTransceiver(codec.kind, direction="recvonly")
            transceiver.setCodecPreferences(codec.preferences())
            screen = codec.kind == "video" and media.rtp.muxId == screen_mid
            forwarder = TrackForwarder(
                publisher_pid=self.pid,
                track_id=f"{self.pid}-{'screen' if screen else codec.kind}-{media.rtp.muxId}",
                screen=screen,
                codec=codec,
                counters=self._counters,
                tasks=self._tasks,
                send_pli=self._pli_sender(transceiver),
                keyframe_throttle_s=self._settings.keyframe_throttle_s,
                gap_timeout_s=self._settings.video_gap_timeout_s,
                decoders=self._decoders,
            )
            hooks.tap_receiver(transceiver.receiver, forwarder, self._count_decode_job)
            new.append(_NewTrack(media.rtp.muxId, transceiver, forwarder))

        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            answer = await self.pc.createAnswer()
            with hooks.announced_host_addresses(
                self._settings.announced_host_addresses, self._settings.port_range
            ):
                await self.pc.setLocalDescription(answer)
            hooks.batch_datagram_reads(self.pc)
        except MediaError:
            raise
        except Exception as exc:
            for item in new:
                item.forwarder.close()
            raise MediaError("invalid_sdp", f"offer rejected: {exc!r}") from exc

        published = []
        for item in new:
            if item.transceiver.mid != item.mid:
                item.forwarder.close()
                logger.error(
                    "publisher %s: section %s matched mid %s",
                    self.pid,
                    item.mid,
                    item.transceiver.mid,
                )
                continue
            self._mids.add(item.mid)
            if item.transceiver.currentDirection in ("recvonly", "sendrecv"):
                self.forwarders[item.forwarder.track_id] = item.forwarder
                published.append(item.forwarder)
            else:
                item.forwarder.close()
        answer_sdp = add_video_bitrate_hints(
            self.pc.localDescription.sdp,
            min_kbps=self._settings.publish_video_min_kbps,
            start_kbps=self._settings.publish_video_start_kbps,
            max_kbps=self._settings.publish_video_max_kbps,
        )
        if not self._settings.publish_remb:
            answer_sdp = decline_remb(answer_sdp)
        if self._settings.publish_opus_dtx:
            answer_sdp = ask_opus_dtx(answer_sdp)
        return answer_sdp, published

    @staticmethod
    def _pli_sender(
        transceiver: RTCRtpTransceiver,
    ) -> Callable[[int], Coroutine[Any, Any, None]]:
        receiver = transceiver.receiver

        def send(media_ssrc: int) -> Coroutine[Any, Any, None]:
            return hooks.send_pli(receiver, media_ssrc)

        return send

    def _count_decode_job(self) -> None:
        self._counters.decoded_frames += 1

    async def add_ice_candidate(self, candidate: str | None) -> None:
        await _add_candidate(self.pc, candidate)

    async def close(self) -> None:
        """Stop forwarding and close the connection. Idempotent."""
        self._closed = True
        for forwarder in self.forwarders.values():
            forwarder.close()
        await close_pc(self.pc)


class _PcFailed(Exception):
    pass


class _Reoffer(Exception):
    """The pending offer is replaced by a new one (``resubscribe``)."""


# the client's answer SDP, and the future that reports whether it could be applied
_Answer = tuple[str, "asyncio.Future[None]"]

_SlotState = Literal["offered", "active", "retiring", "retired"]


@dataclass(eq=False)
class _Slot:
    """One sendonly transceiver of a subscribe connection and the track it carries.

    ``offered``: bound to a track, the client has not accepted the offer yet;
    ``active``: frames flow; ``retiring``: the track went away, the section is offered
    inactive; ``retired``: the client accepted that, so the section may carry another
    track of the same codec (``reuse``) instead of a new section being added.
    """

    transceiver: RTCRtpTransceiver
    track: SenderTrack
    codec: TrackCodec
    forwarder: TrackForwarder | None = None
    track_id: str = ""
    stream_id: str = ""
    state: _SlotState = "offered"

    def on_keyframe_request(self) -> None:
        """The subscriber's PLI/FIR for whatever this section carries now."""
        if self.forwarder is not None:
            self.forwarder.on_subscriber_keyframe_request()


class SubscriberPeer:
    """The connection a participant receives forwarded tracks on; the server offers.

    ``set_desired`` only records what should be sent; one negotiation task applies it:
    binds each new track to a sendonly section (a retired one of the same codec if there
    is one, else a new transceiver offered with the publisher's codec), unbinds the tracks
    that went away and offers their sections inactive (without msid), and sends one offer
    at a time, coalescing whatever changed while an answer was awaited. Sections are never
    stopped, so the SDP grows only to the largest number of tracks sent at once (plus the
    sections of tracks that left while others arrived in the same offer).
    """

    def __init__(
        self,
        pid: str,
        settings: MediaSettings,
        counters: MediaCounters,
        emit: Callable[[MediaEvent], None],
        on_state: StateCallback,
    ) -> None:
        self.pid = pid
        self._settings = settings
        self._counters = counters
        self._emit = emit
        self._on_state = on_state
        self._tasks = TaskOwner(f"subscriber:{pid}")
        self._desired: dict[str, TrackForwarder] = {}
        self._attached: dict[str, _Slot] = {}
        self._slots: list[_Slot] = []  # every section of the current connection
        self._pc: RTCPeerConnection | None = None
        self._pc_failed = False
        self._restart = False
        self._offer_needed = False
        self._revision = 0
        self._answer_slot: tuple[int, asyncio.Future[_Answer]] | None = None
        self._applying: asyncio.Future[None] | None = None
        self._reoffer_waiters: list[asyncio.Future[int | None]] = []
        self._reoffer = False
        self._force_restart = False
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        self._tasks.spawn(self._run(), name="negotiate")

    @property
    def attached_track_ids(self) -> list[str]:
        return list(self._attached)

    def set_desired(self, forwarders: dict[str, TrackForwarder]) -> None:
        """The tracks this participant should receive now."""
        if forwarders.keys() == self._desired.keys() and all(
            forwarders[k] is self._desired[k] for k in forwarders
        ):
            return
        self._desired = dict(forwarders)
        self._poke()

    def _poke(self) -> None:
        self._idle.clear()
        self._wake.set()

    async def wait_idle(self) -> None:
        """Until nothing is left to negotiate (for tests and orderly shutdown)."""
        await self._idle.wait()

    async def answer(self, sdp_text: str, revision: int | None) -> None:
        """Apply the client's answer to the outstanding offer; MediaError if it fails."""
        slot = self._answer_slot
        if self._closed:
            raise MediaError("closed", "subscribe connection is closed")
        if slot is None:
            raise MediaError("no_offer_pending", f"no offer is waiting for {self.pid}'s answer")
        pending_revision, future = slot
        if revision is not None and revision != pending_revision:
            raise MediaError(
                "stale_answer", f"answer is for offer {revision}, pending is {pending_revision}"
            )
        if future.done():
            raise MediaError("no_offer_pending", "the offer was already answered or replaced")
        parse_sdp(sdp_text, "answer")
        applied: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._applying = applied
        future.set_result((sdp_text, applied))
        try:
            await applied
        finally:
            self._applying = None

    async def resubscribe(self, restart: bool = False) -> int | None:
        """Offer again: a new revision of the current offer (replacing one still waiting
        for its answer), on a new connection if ``restart`` or if the current one is closed
        or failed. Returns the new offer's revision once it is emitted, or None when there
        is nothing to offer (no connection: nothing was ever routed to this participant)."""
        if self._closed:
            raise MediaError("closed", "subscribe connection is closed")
        waiter: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._reoffer_waiters.append(waiter)
        self._reoffer = True
        pc = self._pc
        if restart or (pc is not None and pc.connectionState in ("failed", "closed")):
            self._force_restart = True
        pending = self._answer_slot
        if pending is not None and not pending[1].done():
            pending[1].set_exception(_Reoffer())
        self._poke()
        return await waiter

    def _resolve_reoffers(self, revision: int | None) -> None:
        self._reoffer = False
        waiters, self._reoffer_waiters = self._reoffer_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(revision)

    def _fail_reoffers(self, error: MediaError) -> None:
        self._reoffer = False
        waiters, self._reoffer_waiters = self._reoffer_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(error)

    async def add_ice_candidate(self, candidate: str | None) -> None:
        if self._pc is None:
            raise MediaError("no_offer_pending", f"{self.pid} has no subscribe connection yet")
        await _add_candidate(self._pc, candidate)

    # --- the negotiation task ---------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._negotiate_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.exception("subscriber %s: negotiation failed", self.pid)
                self._fail_reoffers(MediaError("negotiation_failed", f"offer failed: {exc!r}"))
            if not self._wake.is_set():
                self._idle.set()

    async def _negotiate_once(self) -> None:
        if self._pc_failed or self._force_restart:
            self._force_restart = False
            await self._drop_pc()
        changed = self._apply_desired()
        if self._pc is None:
            self._resolve_reoffers(None)
            return
        if not (changed or self._offer_needed or self._reoffer):
            return
        pc = self._pc
        offer = await pc.createOffer()
        # an inactive section's msid means nothing, and one equal to a live section's
        # (a publisher that came back on a new section) makes Chromium refuse the offer
        offer = RTCSessionDescription(sdp=strip_inactive_msid(offer.sdp), type="offer")
        with hooks.announced_host_addresses(
            self._settings.announced_host_addresses, self._settings.port_range
        ):
            await pc.setLocalDescription(offer)
        hooks.batch_datagram_reads(pc)
        if self._force_restart or self._pc_failed:
            self._wake.set()  # a new connection is wanted meanwhile: offer that instead
            return
        self._revision += 1
        revision = self._revision
        future: asyncio.Future[_Answer] = asyncio.get_running_loop().create_future()
        self._answer_slot = (revision, future)
        self._offer_needed = True  # until an answer is applied
        self._counters.offers_sent += 1
        self._emit(SubscriberOffer(self.pid, pc.localDescription.sdp, revision, self._restart))
        self._restart = False
        self._resolve_reoffers(revision)
        try:
            answer_sdp, applied = await asyncio.wait_for(
                future, self._settings.negotiation_timeout_s
            )
        except TimeoutError:
            logger.warning(
                "subscriber %s: no answer to offer %d; offering again", self.pid, revision
            )
            self._wake.set()
            return
        except (_PcFailed, _Reoffer):
            self._wake.set()
            return
        finally:
            self._answer_slot = None
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))
        except Exception as exc:
            applied.set_exception(MediaError("negotiation_failed", f"answer rejected: {exc!r}"))
            self._wake.set()  # offer again: the client may answer the next one correctly
            return
        self._offer_needed = False
        for slot in self._slots:
            if slot.state == "offered":
                slot.state = "active"
                slot.track.activate()
            elif slot.state == "retiring":
                slot.state = "retired"
        applied.set_result(None)

    def _apply_desired(self) -> bool:
        """Bind and unbind tracks; True if the SDP must change."""
        changed = False
        for track_id, slot in list(self._attached.items()):
            forwarder = self._desired.get(track_id)
            if forwarder is slot.forwarder:
                continue
            if forwarder is not None and forwarder.codec == slot.codec:
                # the same track from a new source (its publisher reconnected): the section
                # and its msid stay, only what it carries changes
                self._bind(slot, forwarder)
                if slot.state == "active":
                    slot.track.activate()
                continue
            del self._attached[track_id]
            self._unbind(slot)
            slot.transceiver.direction = "inactive"
            slot.state = "retiring"
            changed = True
        for track_id, forwarder in self._desired.items():
            if track_id in self._attached:
                continue
            reused = self._reusable_slot(forwarder)
            if reused is None:
                slot = self._new_slot(self._ensure_pc(), forwarder)
            else:
                slot = reused
                slot.transceiver.direction = "sendonly"
            self._bind(slot, forwarder)
            slot.state = "offered"
            self._attached[track_id] = slot
            changed = True
        return changed

    def _reusable_slot(self, forwarder: TrackForwarder) -> _Slot | None:
        """A retired section that can carry ``forwarder``'s track: same codec; preferably
        the one that carried this very track, then one of the same publisher."""
        retired = [s for s in self._slots if s.state == "retired" and s.codec == forwarder.codec]
        for match in (
            lambda s: s.track_id == forwarder.track_id,
            lambda s: s.stream_id == forwarder.stream_id,
            lambda s: True,
        ):
            for slot in retired:
                if match(slot):
                    return slot
        return None

    def _new_slot(self, pc: RTCPeerConnection, forwarder: TrackForwarder) -> _Slot:
        track = SenderTrack(
            forwarder.kind,
            forwarder.track_id,
            forwarder.codec.capability.clockRate,
            self._counters,
        )
        transceiver = pc.addTransceiver(track, direction="sendonly")
        transceiver.setCodecPreferences(forwarder.codec.preferences())
        slot = _Slot(transceiver, track, forwarder.codec)
        track.use_sender(
            hooks.prepare_forwarding_sender(
                transceiver.sender,
                slot.on_keyframe_request,
                stream_id=forwarder.stream_id,
                on_ready=track.sender_ready,
                counters=self._counters,
            )
        )
        self._slots.append(slot)
        return slot

    def _bind(self, slot: _Slot, forwarder: TrackForwarder) -> None:
        if slot.forwarder is not None:
            slot.forwarder.detach(self.pid)
        slot.forwarder = forwarder
        slot.track_id = forwarder.track_id
        slot.stream_id = forwarder.stream_id
        slot.track.bind(forwarder.attach(self.pid), forwarder.track_id)
        # the msid of the section: "<publisher> <track id>"
        hooks.set_stream_id(slot.transceiver.sender, forwarder.stream_id)
        slot.transceiver.sender.replaceTrack(slot.track)

    def _unbind(self, slot: _Slot) -> None:
        if slot.forwarder is not None:
            slot.forwarder.detach(self.pid)
            slot.forwarder = None
        slot.track.unbind()

    def _ensure_pc(self) -> RTCPeerConnection:
        if self._pc is None:
            pc = RTCPeerConnection(make_configuration(self._settings))
            _watch_state(pc, lambda state: self._pc_state(pc, state))
            self._pc = pc
        return self._pc

    def _pc_state(self, pc: RTCPeerConnection, state: str) -> None:
        self._on_state(state)
        if pc is not self._pc or self._closed or state not in ("failed", "closed"):
            return
        # aiortc does not recover a failed connection: start over on a new one
        self._pc_failed = True
        if self._answer_slot is not None and not self._answer_slot[1].done():
            self._answer_slot[1].set_exception(_PcFailed())
        self._poke()

    def _detach_all(self) -> None:
        for slot in self._slots:
            self._unbind(slot)
        self._slots.clear()
        self._attached.clear()

    async def _drop_pc(self) -> None:
        self._pc_failed = False
        pc, self._pc = self._pc, None
        self._detach_all()
        self._offer_needed = False
        if pc is not None:
            await close_pc(pc)
            self._restart = True

    async def close(self) -> None:
        """Stop the negotiation task, detach from every track, close. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._tasks.close()
        if self._answer_slot is not None and not self._answer_slot[1].done():
            self._answer_slot[1].cancel()
        if self._applying is not None and not self._applying.done():
            self._applying.set_exception(MediaError("closed", "subscribe connection closed"))
        self._fail_reoffers(MediaError("closed", "subscribe connection closed"))
        self._detach_all()
        self._desired.clear()
        if self._pc is not None:
            await close_pc(self._pc)
        self._idle.set()
