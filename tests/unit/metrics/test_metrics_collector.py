"""The collector reads the server's objects at scrape time, into the app's own registry."""

from __future__ import annotations

import prometheus_client
from prometheus_client.parser import text_string_to_metric_families

from hearing_server.core.hearing import HearingState
from hearing_server.core.participant import Role
from hearing_server.metrics import LiveCounts, MetricSources, ServerCollector, ServerMetrics
from support.metrics import (
    Live,
    Load,
    Media,
    Node,
    Placement,
    Reading,
    Recording,
    Transcription,
)


def _sources(**kw: object) -> tuple[MetricSources, Media, Live]:
    media, live = Media(), Live()
    return MetricSources(live=live, media=media.stats, version="9.9", **kw), media, live  # type: ignore[arg-type]


async def _scrape(metrics: ServerMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, content_type = await metrics.render()
    assert content_type.startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


async def test_values_are_read_from_the_sources_at_each_scrape() -> None:
    rec, tr, load = Recording(1, 40), Transcription(2, 3, 1), Load()
    sources, media, live = _sources(recording=rec, transcription=tr, load=load)
    metrics = ServerMetrics(sources)
    media.numbers.update(forwarded_packets=10, forwarded_bytes=9000, subscribers=2)
    live.counts = LiveCounts({"in_session": 2}, {"judge": 2, "party": 3})
    first = await _scrape(metrics)
    assert first[("hearing_server_media_forwarded_packets_total", ())] == 10
    assert first[("hearing_server_media_forwarded_bytes_total", ())] == 9000
    assert first[("hearing_server_media_subscribers", ())] == 2
    assert first[("hearing_server_media_received_packets_total", ())] == 0  # missing key: 0
    assert first[("hearing_server_hearings_live", (("state", "in_session"),))] == 2
    assert first[("hearing_server_participants_connected", (("role", "party"),))] == 3
    # every state and role is there, zero included
    for state in HearingState:
        assert ("hearing_server_hearings_live", (("state", state.value),)) in first
    for role in Role:
        assert ("hearing_server_participants_connected", (("role", role.value),)) in first
    assert first[("hearing_server_recordings_active", ())] == 1
    assert first[("hearing_server_recording_queue_frames", ())] == 40
    assert first[("hearing_server_transcription_queue_utterances", ())] == 3
    assert first[("hearing_server_transcription_pending_recognitions", ())] == 1
    assert first[("hearing_server_build_info", (("version", "9.9"),))] == 1
    assert ("process_resident_memory_bytes", ()) in first
    # no lag until the monitor has evaluated once
    assert not [k for k in first if k[0] == "hearing_server_event_loop_lag_seconds"]

    media.numbers["forwarded_packets"] = 25
    live.counts = LiveCounts({}, {"judge": 1})
    rec.queued_frames = 0
    load.level, load.last, load.dropped_total = 2, Reading(120.0, 300.0), 5
    second = await _scrape(metrics)
    assert live.calls == 2
    assert second[("hearing_server_media_forwarded_packets_total", ())] == 25
    assert second[("hearing_server_hearings_live", (("state", "in_session"),))] == 0
    assert second[("hearing_server_participants_connected", (("role", "judge"),))] == 1
    assert second[("hearing_server_recording_queue_frames", ())] == 0
    assert second[("hearing_server_load_level", ())] == 2
    assert second[("hearing_server_event_loop_lag_seconds", (("stat", "p95"),))] == 0.12
    assert second[("hearing_server_event_loop_lag_seconds", (("stat", "max"),))] == 0.3
    assert second[("hearing_server_udp_dropped_datagrams_total", ())] == 5


async def test_a_store_that_cannot_answer_leaves_a_gap_not_an_error() -> None:
    async def failing() -> LiveCounts:
        raise ConnectionError("the database is restarting")

    media = Media({"forwarded_packets": 4})
    metrics = ServerMetrics(MetricSources(live=failing, media=media.stats))
    got = await _scrape(metrics)
    assert got[("hearing_server_media_forwarded_packets_total", ())] == 4
    assert not [
        k
        for k in got
        if k[0] in ("hearing_server_hearings_live", "hearing_server_participants_connected")
    ]


async def test_the_node_is_named_and_its_hearings_and_draining_shown() -> None:
    placement = Placement(Node("court-a:8080"), frozenset({"h1", "h2"}))
    sources, _, _ = _sources(placement=placement)
    metrics = ServerMetrics(sources)
    got = await _scrape(metrics)
    assert got[("hearing_server_build_info", (("node", "court-a:8080"), ("version", "9.9")))] == 1
    assert got[("hearing_server_hearings_served", ())] == 2
    assert got[("hearing_server_node_draining", ())] == 0
    placement.node.draining = True
    assert (await _scrape(metrics))[("hearing_server_node_draining", ())] == 1


async def test_a_feature_that_is_off_has_no_metrics_rather_than_zeros() -> None:
    sources, _, _ = _sources()
    names = {name for name, _ in await _scrape(ServerMetrics(sources))}
    assert "hearing_server_media_forwarded_packets_total" in names
    assert not {n for n in names if "recording" in n or "transcription" in n}
    assert not {n for n in names if "load_level" in n or "lag" in n}


async def test_each_app_has_its_own_registry_and_none_is_global() -> None:
    a_sources, a_media, _ = _sources()
    b_sources, b_media, _ = _sources()
    a, b = ServerMetrics(a_sources), ServerMetrics(b_sources)
    a_media.numbers["forwarded_packets"] = 7
    b_media.numbers["forwarded_packets"] = 3
    assert (await _scrape(a))[("hearing_server_media_forwarded_packets_total", ())] == 7
    assert (await _scrape(b))[("hearing_server_media_forwarded_packets_total", ())] == 3
    global_names = {
        m.name for m in prometheus_client.REGISTRY.collect() if m.name.startswith("hearing")
    }
    assert global_names == set()


async def test_described_names_are_the_collected_ones() -> None:
    sources, _, _ = _sources(recording=Recording(), transcription=Transcription(), load=Load())
    collector = ServerCollector(sources)
    described = {m.name for m in collector.describe()}
    collected = {m.name for m in collector.collect()}
    assert described == collected
    assert all(not m.samples for m in collector.describe())


async def test_openmetrics_when_the_scraper_asks() -> None:
    sources, _, _ = _sources()
    body, content_type = await ServerMetrics(sources).render(
        "application/openmetrics-text; version=1.0.0"
    )
    assert content_type.startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")
