"""Each worker's settings under ``serve --workers``: its port, node id, node URL and slice of
the media ports; and the settings that cannot run several workers, refused with one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearing_server.config import ConfigError, load_settings
from hearing_server.workers import check_workers, cpu_cores, worker_count, worker_settings

REDIS = "redis://127.0.0.1:6379/0"


def test_workers_setting_reads_a_count_or_auto() -> None:
    assert load_settings(env={}).workers == 1
    assert load_settings(env={"HEARING_WORKERS": "3"}).workers == 3
    assert load_settings(env={"HEARING_WORKERS": "auto"}).workers == 0
    assert worker_count(load_settings(env={"HEARING_WORKERS": "0"})) == cpu_cores()
    with pytest.raises(ConfigError, match="workers"):
        load_settings(env={"HEARING_WORKERS": "-1"})
    with pytest.raises(ConfigError, match="workers"):
        load_settings(env={"HEARING_WORKERS": "many"})


def test_each_worker_is_a_node_on_the_next_port(tmp_path: Path) -> None:
    base = load_settings(env={}, data_dir=tmp_path, port=8080, redis_url=REDIS, node_id="court")
    check_workers(base, 3)
    w = [worker_settings(base, i, 3) for i in range(3)]
    assert [s.port for s in w] == [8080, 8081, 8082]
    assert [s.node_id for s in w] == ["court-w0", "court-w1", "court-w2"]
    assert [s.effective_node_url for s in w] == [
        "http://127.0.0.1:8080",
        "http://127.0.0.1:8081",
        "http://127.0.0.1:8082",
    ]
    # links point where they always did, whichever worker issues them
    assert {s.effective_public_url for s in w} == {"http://127.0.0.1:8080"}
    # the database, keys and recordings are the data dir's, shared
    assert {s.effective_database_path for s in w} == {tmp_path / "hearings.sqlite3"}
    assert {s.effective_recordings_dir for s in w} == {tmp_path / "recordings"}
    assert {s.workers for s in w} == {1}
    # every link arrives at worker 0: new hearings are spread over the workers
    assert {s.hearing_placement for s in w} == {"spread"}
    assert load_settings(env={}).hearing_placement == "here"


def test_node_url_names_each_worker_through_a_placeholder(tmp_path: Path) -> None:
    base = load_settings(
        env={},
        data_dir=tmp_path,
        redis_url=REDIS,
        public_url="https://hearing.court.example",
        node_url="https://hearing-1.court.example:{port}/",
    )
    assert worker_settings(base, 1, 2).effective_node_url == "https://hearing-1.court.example:8081"
    assert worker_settings(base, 1, 2).effective_public_url == "https://hearing.court.example"
    numbered = load_settings(env={}, redis_url=REDIS, node_url="https://w{worker}.court.example")
    assert worker_settings(numbered, 1, 2).effective_node_url == "https://w1.court.example"


def test_the_media_port_range_is_split_between_workers() -> None:
    base = load_settings(env={}, redis_url=REDIS, media_port_min=40000, media_port_max=40999)
    ranges = [worker_settings(base, i, 3).media_port_range for i in range(3)]
    assert ranges == [(40000, 40332), (40333, 40665), (40666, 40998)]
    assert worker_settings(load_settings(env={}, redis_url=REDIS), 1, 2).media_port_range is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({}, "2 workers need redis_url"),
        ({"redis_url": REDIS, "node_url": "https://a.court.example"}, r"\{port\}"),
        ({"redis_url": REDIS, "public_url": "https://court.example"}, "set node_url too"),
        (
            {"redis_url": REDIS, "media_port_min": 40000, "media_port_max": 40000},
            "cannot be split",
        ),
        ({"redis_url": REDIS, "port": 65535}, "past 65535"),
    ],
)
def test_settings_that_cannot_run_two_workers_are_refused(
    overrides: dict[str, object], message: str
) -> None:
    settings = load_settings(env={}, **overrides)
    check_workers(settings, 1)  # one worker is today's server: nothing more is needed
    with pytest.raises(ConfigError, match=message):
        check_workers(settings, 2)
