"""MediaRouter: the media layer's public API (an SFU that forwards, never transcodes)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable, Iterable

from .codecs import codec_by_name
from .errors import MediaError
from .events import (
    EventCallback,
    MediaEvent,
    MediaKind,
    PcRole,
    PeerStateChanged,
    TrackPublished,
    TrackUnpublished,
)
from .forwarder import TrackForwarder
from .peers import PublisherPeer, SubscriberPeer
from .server_source import LocalServerSource
from .settings import MediaSettings
from .stats import MediaCounters
from .taps import DecodedFrame, EncodedFrame, ServerSource, Tap
from .taps_impl import DecoderRegistry
from .tasks import TaskOwner

logger = logging.getLogger(__name__)

# msid stream ids and track ids are SDP token characters; keep ids within them and short
# enough that "<pid>-video-<mid>" stays under msid's 64-character limit.
_PID_RE = re.compile(r"[A-Za-z0-9_.-]{1,48}")
_KINDS = ("audio", "video")
#: default queue lengths of decoded taps: 2 s of 30 fps video, 10 s of 20 ms audio
_DECODED_TAP_QUEUE = {"video": 60, "audio": 500}
#: how long close() waits for tap decoder threads to finish
_DECODER_JOIN_TIMEOUT_S = 5.0


def _check_pid(pid: str) -> str:
    if not isinstance(pid, str) or not _PID_RE.fullmatch(pid):
        raise MediaError(
            "invalid_participant_id", "participant ids are 1-48 characters of A-Z a-z 0-9 _ . -"
        )
    return pid


class MediaRouter:
    """Forwards each participant's published tracks to the participants routed to them.

    Per participant there are two peer connections: *publish* (the client offers, see
    ``publish``) and *subscribe* (the server offers; ``SubscriberOffer`` events, answered
    with ``subscriber_answer``). Who receives whom is decided outside (``set_routes``);
    mute is ``set_forwarding``. Events go to ``on_event`` in order, from one task; a
    failing callback is logged and does not stop delivery.

    Taps (``open_encoded_tap``, ``open_decoded_tap``) hand a published track's frames to
    recording, the compositor, transcription; ``add_server_source`` publishes a track
    the server encodes itself. See ``taps.py``.
    """

    def __init__(self, settings: MediaSettings, on_event: EventCallback) -> None:
        self._settings = settings
        self._on_event = on_event
        self._counters = MediaCounters()
        self._tasks = TaskOwner("media-router")
        self._dispatch_owner = TaskOwner("media-events")
        self._events: asyncio.Queue[MediaEvent | None] = asyncio.Queue()
        self._dispatcher: asyncio.Task[None] | None = None
        self._publishers: dict[str, PublisherPeer] = {}
        self._subscribers: dict[str, SubscriberPeer] = {}
        self._routes: dict[str, frozenset[str]] = {}
        self._muted: set[tuple[str, str]] = set()
        self._shed: dict[str, frozenset[str]] = {}  # subscriber -> publishers' video not sent
        self._sources: dict[str, dict[str, LocalServerSource]] = {}
        self._decoders = DecoderRegistry()
        self._source_count = 0
        self._locks: dict[str, asyncio.Lock] = {}
        self._closed = False
        self._close_done: asyncio.Event | None = None

    # --- publishing -----------------------------------------------------------------------

    async def publish(self, pid: str, offer_sdp: str, *, screen_mid: str | None = None) -> str:
        """Apply participant ``pid``'s offer on its publish connection; return the answer.

        The answer carries the server's candidates (gathering completes first). Calling it
        again on the same connection renegotiates (new sections become new tracks).
        Emits ``TrackPublished`` per new track; subscribers routed to ``pid`` get the track
        offered. Raises ``MediaError`` (``invalid_sdp``, ``unsupported_codec``, ...).
        """
        self._check_open()
        _check_pid(pid)
        async with self._lock(pid):
            self._check_open()
            if pid in self._sources:
                raise MediaError("participant_id_in_use", f"{pid} is a server source")
            peer = self._publishers.get(pid)
            if peer is not None and peer.starts_new_session(offer_sdp):
                # The client opened a new connection (it reconnected): the old one goes, with
                # its tracks, and the new one takes its place; never two at once.
                del self._publishers[pid]
                self._unpublish(peer)
                self._sync_subscribers_of({pid})
                await peer.close()
                peer = None
            created = peer is None
            if peer is None:
                peer = PublisherPeer(
                    pid,
                    self._settings,
                    self._counters,
                    self._tasks,
                    on_state=self._publisher_state_callback(pid),
                    decoders=self._decoders,
                )
                self._publishers[pid] = peer
            try:
                answer, published = await peer.negotiate(offer_sdp, screen_mid)
                self._check_open()
            except asyncio.CancelledError:
                if created:
                    await self._discard_publisher(pid, peer)
                raise
            except Exception as exc:
                if created:
                    await self._discard_publisher(pid, peer)
                if isinstance(exc, MediaError):
                    raise
                raise MediaError("negotiation_failed", f"publish failed: {exc!r}") from exc
            for forwarder in published:
                # A shared screen reaches nobody until it is presented (set_screen_forwarding).
                forwarder.set_enabled(
                    not forwarder.screen and (pid, forwarder.kind) not in self._muted
                )
                self._apply_shed(forwarder)
                self._emit(self._published_event(forwarder))
            if published:
                self._sync_subscribers_of({pid})
            return answer

    async def _discard_publisher(self, pid: str, peer: PublisherPeer) -> None:
        if self._publishers.get(pid) is peer:
            del self._publishers[pid]
        await peer.close()

    async def add_ice_candidate(
        self,
        pid: str,
        which_pc: PcRole,
        candidate: str | None,
        sdp_mid: str | None = None,
        sdp_mline_index: int | None = None,
    ) -> None:
        """Add a trickled remote candidate (``candidate:...`` line; None or "" ends them).

        ``sdp_mid``/``sdp_mline_index`` are accepted as browsers send them but not needed:
        both connections are max-bundle, so every candidate goes to the one transport.
        """
        self._check_open()
        if which_pc == "publish":
            pub = self._publishers.get(pid)
            if pub is None:
                raise MediaError("unknown_participant", f"{pid} has no publish connection")
            await pub.add_ice_candidate(candidate)
        elif which_pc == "subscribe":
            sub = self._subscribers.get(pid)
            if sub is None:
                raise MediaError("unknown_participant", f"{pid} has no subscribe connection")
            await sub.add_ice_candidate(candidate)
        else:
            raise MediaError("invalid_argument", "which_pc must be publish or subscribe")

    # --- subscribing ------------------------------------------------------------------------

    async def subscriber_answer(
        self, pid: str, answer_sdp: str, revision: int | None = None
    ) -> None:
        """Apply ``pid``'s answer to the pending ``SubscriberOffer`` (``revision`` guards
        against answering an offer that was replaced). Raises ``MediaError``
        (``no_offer_pending``, ``stale_answer``, ``invalid_sdp``, ``negotiation_failed``)."""
        self._check_open()
        sub = self._subscribers.get(pid)
        if sub is None:
            raise MediaError("unknown_participant", f"{pid} is not subscribed to anything")
        await sub.answer(answer_sdp, revision)

    async def resubscribe(self, pid: str, *, restart: bool = False) -> int | None:
        """Send ``pid`` the current subscriber offer again, e.g. after the client failed to
        apply one: a ``SubscriberOffer`` with a new revision. An offer still waiting for its
        answer is replaced (an answer to it then fails with ``stale_answer`` or
        ``no_offer_pending``). The offer is for a new subscribe connection (``restart=True``
        in the event) when ``restart`` is asked for or when the current connection is
        closed or failed.

        Returns the revision of the offer once the event is queued, or None when there is
        nothing to offer (``pid`` has no subscribe connection: nothing was routed to it
        yet, or it is unknown). Raises ``MediaError`` (``invalid_participant_id``,
        ``closed``, ``negotiation_failed``)."""
        self._check_open()
        _check_pid(pid)
        sub = self._subscribers.get(pid)
        if sub is None:
            return None
        return await sub.resubscribe(restart)

    def set_routes(self, subscriber_pid: str, publisher_pids: Iterable[str]) -> None:
        """``subscriber_pid`` receives the tracks of exactly ``publisher_pids`` (never its
        own). Renegotiation follows in the background (``SubscriberOffer``); publishers that
        publish later are included automatically. An empty set means nothing."""
        self._check_open()
        _check_pid(subscriber_pid)
        route = frozenset(_check_pid(p) for p in publisher_pids) - {subscriber_pid}
        self._routes[subscriber_pid] = route
        if subscriber_pid not in self._subscribers:
            self._subscribers[subscriber_pid] = SubscriberPeer(
                subscriber_pid,
                self._settings,
                self._counters,
                self._emit,
                on_state=self._state_callback(subscriber_pid, "subscribe"),
            )
        self._sync_subscriber(subscriber_pid)

    def set_forwarding(self, publisher_pid: str, kind: MediaKind, enabled: bool) -> None:
        """Start/stop forwarding ``publisher_pid``'s ``kind`` packets to everyone (mute),
        taps included (they get what subscribers get). No renegotiation; remembered for
        tracks published later until ``remove``. Server sources can be muted too."""
        self._check_open()
        _check_pid(publisher_pid)
        if kind not in _KINDS:
            raise MediaError("invalid_argument", f"kind must be audio or video, not {kind!r}")
        if enabled:
            self._muted.discard((publisher_pid, kind))
        else:
            self._muted.add((publisher_pid, kind))
        for forwarder in self._forwarders_of(publisher_pid):
            if forwarder.kind == kind and not forwarder.screen:
                forwarder.set_enabled(enabled)

    def set_video_shed(self, subscriber_pid: str, publisher_pids: Iterable[str]) -> None:
        """Load shedding: ``subscriber_pid`` stops receiving the video of exactly
        ``publisher_pids`` (their audio never stops) until a later call leaves them out.
        No renegotiation; resumed video restarts on a keyframe. Remembered for tracks
        published later until ``remove``."""
        self._check_open()
        _check_pid(subscriber_pid)
        shed = frozenset(_check_pid(p) for p in publisher_pids)
        before = self._shed.get(subscriber_pid, frozenset())
        if shed:
            self._shed[subscriber_pid] = shed
        else:
            self._shed.pop(subscriber_pid, None)
        for pub_pid in before | shed:
            for forwarder in self._forwarders_of(pub_pid):
                forwarder.set_shed(subscriber_pid, pub_pid in shed)

    def _apply_shed(self, forwarder: TrackForwarder) -> None:
        for sub_pid, shed in self._shed.items():
            if forwarder.publisher_pid in shed:
                forwarder.set_shed(sub_pid, True)

    # --- taps and server sources ------------------------------------------------------------

    def open_encoded_tap(
        self,
        pid: str,
        kind: MediaKind,
        *,
        max_queued: int = 1000,
        track_id: str | None = None,
    ) -> Tap[EncodedFrame]:
        """Every frame of ``pid``'s ``kind`` track from now on, as forwarded (no decode):
        VP8 frames, H.264 access units (Annex-B), Opus packets, with unwrapped RTP
        timestamps. Frames a muted track does not forward are not tapped either. Never
        slows forwarding: when ``max_queued`` frames wait, new ones are dropped and counted
        (``tap.dropped``); a video tap then resumes at the next keyframe (one is requested).
        Opening a video tap requests a keyframe. Ends when the track is unpublished or the
        router closes. ``track_id`` picks one of several tracks of ``kind`` (default: the
        latest published). Raises ``MediaError`` (``unknown_track``, ``invalid_argument``,
        ``closed``)."""
        forwarder = self._tap_target(pid, kind, track_id, max_queued)
        return forwarder.taps.open_encoded(max_queued)

    def open_decoded_tap(
        self,
        pid: str,
        kind: MediaKind,
        *,
        max_queued: int | None = None,
        track_id: str | None = None,
    ) -> Tap[DecodedFrame]:
        """Decoded frames of ``pid``'s ``kind`` track: ``av.VideoFrame`` (yuv420p, ``pts``
        in 90 kHz RTP time, unwrapped; ``time_base`` 1/90000) or ``av.AudioFrame`` (s16
        stereo 48 kHz, ``pts`` in 48 kHz RTP time). The track is decoded by one decoder
        thread, started with its first decoded tap (a video decoder asks the publisher for
        a keyframe and starts on it) and stopped with its last; every decoded tap of the
        track gets the same frame objects (read them, do not modify them).
        ``max_queued`` defaults to 60 video / 500 audio frames; beyond it new frames are
        dropped and counted. Ends like an encoded tap. Raises like ``open_encoded_tap``."""
        if max_queued is None:
            max_queued = _DECODED_TAP_QUEUE.get(kind, 0)
        forwarder = self._tap_target(pid, kind, track_id, max_queued)
        return forwarder.taps.open_decoded(max_queued)

    def add_server_source(
        self,
        pid: str,
        kind: MediaKind,
        codec: str,
        *,
        on_keyframe_request: Callable[[], None] | None = None,
    ) -> ServerSource:
        """Publish a track the server encodes itself (e.g. the composite view: ``video``
        with ``H264`` constrained baseline or ``VP8``; its mix: ``audio`` with ``opus``).

        It behaves like a participant's track: ``TrackPublished(pid, ...)`` is emitted,
        subscribers routed to ``pid`` receive it (msid stream id ``pid``; audio and video
        sources of one ``pid`` form one stream), taps can be opened on it, and
        ``source.close()`` (or ``remove(pid)``) unpublishes it. Frames given to
        ``source.push`` are packetized like aiortc's sender would and forwarded unchanged.
        When a keyframe is wanted (a subscriber's PLI/FIR, a new subscriber, a decoded tap
        starting), ``source.keyframe_requested`` is set (the next keyframe pushed clears it)
        and ``on_keyframe_request`` is called, on the event loop. ``pid`` follows the
        participant id rules and must not be a participant's. Raises ``MediaError``
        (``invalid_participant_id``, ``participant_id_in_use``, ``unsupported_codec``,
        ``invalid_argument``, ``closed``)."""
        self._check_open()
        _check_pid(pid)
        if kind not in _KINDS:
            raise MediaError("invalid_argument", f"kind must be audio or video, not {kind!r}")
        if pid in self._publishers:
            raise MediaError("participant_id_in_use", f"{pid} is a participant's id")
        track_codec = codec_by_name(kind, codec) if isinstance(codec, str) else None
        if track_codec is None:
            raise MediaError("unsupported_codec", f"a server source cannot send {kind} {codec}")
        self._source_count += 1
        source = LocalServerSource(
            pid=pid,
            track_id=f"{pid}-{kind}-s{self._source_count}",
            codec=track_codec,
            counters=self._counters,
            tasks=self._tasks,
            decoders=self._decoders,
            on_close=self._close_source,
            on_keyframe_request=on_keyframe_request,
        )
        source.forwarder.set_enabled((pid, kind) not in self._muted)
        self._apply_shed(source.forwarder)
        self._sources.setdefault(pid, {})[source.track_id] = source
        self._emit(self._published_event(source.forwarder))
        self._sync_subscribers_of({pid})
        return source

    def request_keyframe(self, pid: str, track_id: str | None = None) -> None:
        """Ask for a keyframe on ``pid``'s video track(s) (or just ``track_id``): a PLI to
        the publisher, throttled like subscribers' requests; for a server source, its
        keyframe hook. Unknown ids are ignored (the track may just have gone)."""
        for forwarder in self._forwarders_of(pid):
            if forwarder.kind == "video" and track_id in (None, forwarder.track_id):
                forwarder.request_keyframe()

    def published_kinds(self, pid: str) -> set[MediaKind]:
        """The kinds of track ``pid`` publishes now (a participant or a server source); a
        shared screen is not counted (it is not the participant's camera)."""
        return {f.kind for f in self._forwarders_of(pid) if not f.screen}

    def frames_received(self, pid: str, kind: MediaKind) -> int:
        """Complete frames of ``kind`` received so far from ``pid``'s current tracks (not
        a shared screen)."""
        return sum(
            f.frames_in for f in self._forwarders_of(pid) if f.kind == kind and not f.screen
        )

    def screen_track_id(self, pid: str) -> str | None:
        """The id of the screen ``pid`` shares now, if any."""
        return next((f.track_id for f in self._forwarders_of(pid) if f.screen), None)

    def set_screen_forwarding(self, pid: str, enabled: bool) -> None:
        """Forward ``pid``'s shared screen to its subscribers, or hold it back (the judge
        stopped it): the track stays negotiated, no packet of it leaves the server."""
        for forwarder in self._forwarders_of(pid):
            if forwarder.screen:
                forwarder.set_enabled(enabled)

    def _tap_target(
        self, pid: str, kind: MediaKind, track_id: str | None, max_queued: int
    ) -> TrackForwarder:
        self._check_open()
        _check_pid(pid)
        if kind not in _KINDS:
            raise MediaError("invalid_argument", f"kind must be audio or video, not {kind!r}")
        if not isinstance(max_queued, int) or max_queued < 1:
            raise MediaError("invalid_argument", "max_queued must be a positive integer")
        candidates = [
            f
            for f in self._forwarders_of(pid)
            if f.kind == kind
            and (f.track_id == track_id if track_id is not None else not f.screen)
        ]
        if not candidates:
            raise MediaError("unknown_track", f"{pid} publishes no such {kind} track")
        return candidates[-1]

    async def _close_source(self, source: LocalServerSource) -> None:
        self._drop_source(source)
        if not self._closed:
            self._sync_subscribers_of({source.pid})

    def _drop_source(self, source: LocalServerSource) -> None:
        tracks = self._sources.get(source.pid)
        if tracks is None or tracks.get(source.track_id) is not source:
            return
        del tracks[source.track_id]
        if not tracks:
            del self._sources[source.pid]
        source.unpublished()
        self._emit(TrackUnpublished(source.pid, source.kind, source.track_id))

    # --- teardown ---------------------------------------------------------------------------

    async def remove(self, pid: str) -> None:
        """Close both of ``pid``'s connections; its tracks leave every subscriber
        (``TrackUnpublished``, renegotiation). ``pid`` is also dropped from every route, so a
        returning participant is routed only once ``set_routes`` names it again.
        Unknown ids are ignored."""
        async with self._lock(pid):
            await self._remove_locked(pid)
        self._locks.pop(pid, None)

    async def _remove_locked(self, pid: str) -> None:
        for source in list(self._sources.get(pid, {}).values()):
            self._drop_source(source)
        pub = self._publishers.pop(pid, None)
        sub = self._subscribers.pop(pid, None)
        self._routes.pop(pid, None)
        affected = {s for s, route in self._routes.items() if pid in route}
        for s in affected:
            self._routes[s] = self._routes[s] - {pid}
        self._muted = {m for m in self._muted if m[0] != pid}
        self._shed.pop(pid, None)
        self._shed = {sub: shed - {pid} for sub, shed in self._shed.items() if shed - {pid}}
        if pub is not None:
            self._unpublish(pub)
        if not self._closed:
            for s in affected:
                self._sync_subscriber(s)
        if sub is not None:
            await sub.close()
        if pub is not None:
            await pub.close()

    def _unpublish(self, pub: PublisherPeer) -> None:
        for forwarder in pub.forwarders.values():
            forwarder.close()
            self._emit(TrackUnpublished(pub.pid, forwarder.kind, forwarder.track_id))
        pub.forwarders.clear()

    async def close(self) -> None:
        """Close every connection and stop every task; pending events are delivered first
        (for up to a second); every tap ends and every tap decoder thread is joined.
        Idempotent; concurrent callers wait for the first."""
        if self._close_done is not None:
            await self._close_done.wait()
            return
        self._close_done = asyncio.Event()
        self._closed = True
        try:
            for pid in set(self._publishers) | set(self._subscribers) | set(self._sources):
                try:
                    await self._remove_locked(pid)
                except Exception:
                    logger.exception("closing media of %s failed", pid)
            await self._decoders.join(_DECODER_JOIN_TIMEOUT_S)
            await self._tasks.close()
            if self._dispatcher is not None:
                self._events.put_nowait(None)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._dispatcher), 1.0)
            await self._dispatch_owner.close()
        finally:
            self._close_done.set()

    # --- introspection ----------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """Counters (see ``MediaCounters``) plus current publishers, subscribers, tracks
        (participants' and server sources'), subscriptions (a track attached to a
        subscriber), server sources and running tap decoders."""
        result = self._counters.snapshot()
        result["publishers"] = len(self._publishers)
        result["subscribers"] = len(self._subscribers)
        result["server_sources"] = sum(len(s) for s in self._sources.values())
        result["published_tracks"] = (
            sum(len(p.forwarders) for p in self._publishers.values()) + result["server_sources"]
        )
        result["subscriptions"] = sum(
            f.subscriber_count
            for pid in set(self._publishers) | set(self._sources)
            for f in self._forwarders_of(pid)
        )
        result["active_decoders"] = self._decoders.active
        return result

    def published_tracks(self, pid: str) -> list[TrackPublished]:
        """What ``pid`` currently publishes (a participant's tracks or server sources)."""
        return [self._published_event(f) for f in self._forwarders_of(pid)]

    def _forwarders_of(self, pid: str) -> list[TrackForwarder]:
        pub = self._publishers.get(pid)
        result = [] if pub is None else list(pub.forwarders.values())
        result.extend(s.forwarder for s in self._sources.get(pid, {}).values())
        return result

    @staticmethod
    def _published_event(forwarder: TrackForwarder) -> TrackPublished:
        return TrackPublished(
            forwarder.publisher_pid, forwarder.kind, forwarder.track_id, forwarder.codec.mime_type
        )

    def subscribed_track_ids(self, pid: str) -> list[str]:
        """Track ids currently on ``pid``'s subscribe connection (negotiated or pending)."""
        sub = self._subscribers.get(pid)
        return [] if sub is None else sub.attached_track_ids

    async def wait_negotiated(self, pid: str) -> None:
        """Until ``pid``'s subscribe connection has nothing left to negotiate."""
        sub = self._subscribers.get(pid)
        if sub is not None:
            await sub.wait_idle()

    # --- internals ----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise MediaError("closed", "the media router is closed")

    def _lock(self, pid: str) -> asyncio.Lock:
        lock = self._locks.get(pid)
        if lock is None:
            lock = self._locks[pid] = asyncio.Lock()
        return lock

    def _sync_subscriber(self, sub_pid: str) -> None:
        sub = self._subscribers.get(sub_pid)
        if sub is None:
            return
        desired: dict[str, TrackForwarder] = {}
        for pub_pid in self._routes.get(sub_pid, frozenset()):
            for forwarder in self._forwarders_of(pub_pid):
                desired[forwarder.track_id] = forwarder
        sub.set_desired(desired)

    def _sync_subscribers_of(self, pub_pids: set[str]) -> None:
        for sub_pid, route in self._routes.items():
            if route & pub_pids:
                self._sync_subscriber(sub_pid)

    def _state_callback(self, pid: str, which: PcRole) -> Callable[[str], None]:
        def on_state(state: str) -> None:
            self._emit(PeerStateChanged(pid, which, state))

        return on_state

    def _publisher_state_callback(self, pid: str) -> Callable[[str], None]:
        emit_state = self._state_callback(pid, "publish")

        def on_state(state: str) -> None:
            emit_state(state)
            if state in ("failed", "closed") and not self._closed:
                pub = self._publishers.get(pid)
                if pub is not None and pub.pc.connectionState == state:
                    self._tasks.spawn(self._drop_publisher(pid, pub), name=f"drop:{pid}")

        return on_state

    async def _drop_publisher(self, pid: str, pub: PublisherPeer) -> None:
        """The publish connection died (aiortc does not recover): unpublish its tracks."""
        async with self._lock(pid):
            if self._publishers.get(pid) is not pub:
                return
            del self._publishers[pid]
            self._unpublish(pub)
            self._sync_subscribers_of({pid})
        await pub.close()

    def _emit(self, event: MediaEvent) -> None:
        if self._dispatcher is None:
            if self._dispatch_owner_closed():
                return
            self._dispatcher = self._dispatch_owner.spawn(self._dispatch(), name="dispatch")
        self._events.put_nowait(event)

    def _dispatch_owner_closed(self) -> bool:
        return self._close_done is not None and self._close_done.is_set()

    async def _dispatch(self) -> None:
        while True:
            event = await self._events.get()
            if event is None:
                return
            try:
                await self._on_event(event)
            except Exception:
                logger.exception("media event callback failed for %r", type(event).__name__)
