"""The server's Prometheus metrics, read from its objects when scraped.

One collector in the app's own ``CollectorRegistry`` (never prometheus_client's global one:
two apps in one process, as in the tests, must not see each other's numbers). The packet
path only increments plain integers (``media.stats.MediaCounters``); this reads them.

The counts that need the store (live hearings by state, participants by role) are taken by
``refresh()`` just before each scrape; everything else is read inside ``collect()``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Final

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from hearing_server.core.hearing import HearingState
from hearing_server.core.participant import Role

from .sources import LiveCounts, MetricSources

log = logging.getLogger(__name__)

PREFIX: Final = "hearing_server"

# MediaRouter.stats() key -> (metric name without the prefix, help)
MEDIA_COUNTERS: Final = (
    ("received_packets", "media_received_packets", "RTP packets received from publishers"),
    ("received_bytes", "media_received_bytes", "RTP payload bytes received from publishers"),
    ("forwarded_packets", "media_forwarded_packets", "RTP packets forwarded to subscribers"),
    ("forwarded_bytes", "media_forwarded_bytes", "RTP payload bytes forwarded to subscribers"),
    ("forwarded_frames", "media_forwarded_frames", "Frames forwarded to subscribers"),
    (
        "dropped_frames",
        "media_dropped_frames",
        "Frames a subscriber's sender could not take (it restarts on a keyframe)",
    ),
    (
        "keyframe_requests_received",
        "media_keyframe_requests_received",
        "Keyframe requests (PLI/FIR) from subscribers",
    ),
    (
        "keyframe_requests_sent_upstream",
        "media_keyframe_requests_sent",
        "Keyframe requests (PLI) sent to publishers, throttled",
    ),
    (
        "keyframe_requests_retried",
        "media_keyframe_requests_retried",
        "Keyframe requests sent again because no keyframe answered the last one",
    ),
    (
        "decoded_frames",
        "media_decoded_frames",
        "Frames decoded by aiortc's receiver path (0 while the server only forwards)",
    ),
    (
        "encoded_frames",
        "media_encoded_frames",
        "Frames encoded for subscribers (0 while the server only forwards)",
    ),
    ("tap_decoded_frames", "media_tap_decoded_frames", "Frames decoded for taps on demand"),
    (
        "tap_dropped_frames",
        "media_tap_dropped_frames",
        "Frames taps lost because a consumer or decoder fell behind",
    ),
    ("offers_sent", "media_offers_sent", "Subscriber offers sent (negotiations)"),
)
MEDIA_GAUGES: Final = (
    ("publishers", "media_publishers", "Participants with a publish connection"),
    ("subscribers", "media_subscribers", "Participants with a subscribe connection"),
    ("published_tracks", "media_published_tracks", "Tracks published (participants' and server's)"),
    (
        "subscriptions",
        "media_subscriptions",
        "Published tracks attached to a subscriber (each is forwarded to that subscriber)",
    ),
    ("server_sources", "media_server_sources", "Tracks the server publishes (the composite)"),
    ("active_decoders", "media_active_decoders", "Tap decoders running"),
)


def _name(short: str) -> str:
    return f"{PREFIX}_{short}"


class ServerCollector(Collector):
    """Yields the hearing server's metric families (docs/operations.md "Metrics")."""

    def __init__(self, sources: MetricSources) -> None:
        self._sources = sources
        self._live: LiveCounts | None = LiveCounts()
        self._tasks = 0  # asyncio tasks alive at the last refresh (read in the loop)

    async def refresh(self) -> None:
        """Take the counts that need the store; call before each scrape. If the store cannot
        answer, those two families have no samples this time (a gap, not a false zero) and
        the rest is still served: the media keeps flowing without the store."""
        self._tasks = len(asyncio.all_tasks())
        try:
            self._live = await self._sources.live()
        except Exception:
            log.warning("metrics: live hearings could not be counted", exc_info=True)
            self._live = None

    def describe(self) -> list[Metric]:
        """The families (without samples), so the registry knows the names up front."""
        return list(self._families(describe=True))

    def collect(self) -> Iterator[Metric]:
        yield from self._families(describe=False)

    def _families(self, *, describe: bool) -> Iterator[Metric]:
        s = self._sources
        info = InfoMetricFamily(_name("build"), "The hearing server's version and node id")
        if not describe:
            labels = {"version": s.version or "unknown"}
            if s.placement is not None:
                labels["node"] = s.placement.node.id
            info.add_metric([], labels)
        yield info
        if s.placement is not None:
            yield GaugeMetricFamily(
                _name("hearings_served"),
                "Hearings this node serves (holds the placement of), someone connected or not",
                None if describe else len(s.placement.owned()),
            )
            yield GaugeMetricFamily(
                _name("node_draining"),
                "1 while this node is draining: it takes no new hearings",
                None if describe else int(s.placement.node.draining),
            )
        yield from self._live_families(describe)
        yield GaugeMetricFamily(
            _name("asyncio_tasks"),
            "Tasks alive in the server's event loop (flat over a long run: none leak)",
            None if describe else self._tasks,
        )
        stats = {} if describe else s.media()
        for key, short, doc in MEDIA_COUNTERS:
            yield CounterMetricFamily(_name(short), doc, None if describe else stats.get(key, 0))
        for key, short, doc in MEDIA_GAUGES:
            yield GaugeMetricFamily(_name(short), doc, None if describe else stats.get(key, 0))
        if s.recording is not None:
            rec = s.recording
            yield GaugeMetricFamily(
                _name("recordings_active"),
                "Recordings running or paused",
                None if describe else rec.active_recordings,
            )
            yield GaugeMetricFamily(
                _name("recording_queue_frames"),
                "Frames waiting for the recorder threads (all tracks)",
                None if describe else rec.queued_frames,
            )
        if s.transcription is not None:
            tr = s.transcription
            yield GaugeMetricFamily(
                _name("transcriptions_active"),
                "Hearings being transcribed",
                None if describe else tr.transcribed_hearings,
            )
            yield GaugeMetricFamily(
                _name("transcription_queue_utterances"),
                "Utterances waiting for recognition (all hearings)",
                None if describe else tr.queued_utterances,
            )
            yield GaugeMetricFamily(
                _name("transcription_pending_recognitions"),
                "Recognitions submitted to the speech engine and not finished",
                None if describe else tr.pending_recognitions,
            )
        if s.load is not None:
            yield from self._load_families(describe)

    def _live_families(self, describe: bool) -> Iterator[Metric]:
        hearings = GaugeMetricFamily(
            _name("hearings_live"),
            "Hearings someone is connected to on this node, by hearing state",
            labels=["state"],
        )
        participants = GaugeMetricFamily(
            _name("participants_connected"),
            "Participants connected to this node, by role",
            labels=["role"],
        )
        live = None if describe else self._live
        if live is not None:
            # every state and role, zero included: a dashboard line drops to 0, not away
            for state in HearingState:
                hearings.add_metric([state.value], live.hearings.get(state.value, 0))
            for role in Role:
                participants.add_metric([role.value], live.participants.get(role.value, 0))
        yield hearings
        yield participants

    def _load_families(self, describe: bool) -> Iterator[Metric]:
        load = self._sources.load
        assert load is not None
        last = None if describe else load.last
        yield GaugeMetricFamily(
            _name("load_level"),
            "Overload level: 0 normal, 1 thumbnails shed, 2 video shed, 3 most shed",
            None if describe else int(load.level),
        )
        lag = GaugeMetricFamily(
            _name("event_loop_lag_seconds"),
            "How late the event loop woke a timer over the last 2 s window",
            labels=["stat"],
        )
        if last is not None:
            lag.add_metric(["p95"], last.lag_p95_ms / 1000)
            lag.add_metric(["max"], last.lag_max_ms / 1000)
        yield lag
        yield CounterMetricFamily(
            _name("udp_dropped_datagrams"),
            "Datagrams the kernel dropped on this process's UDP sockets",
            None if describe else load.dropped_total,
        )
