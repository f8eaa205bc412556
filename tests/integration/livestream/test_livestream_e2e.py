"""The public livestream: a real server composing two real aiortc publishers, HLS segments
checked with ffprobe, the judge's retroactive cut checked on disk, closed hearings refused."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from hearing_server.app import create_app
from hearing_server.config import Settings
from hearing_server.core.hearing import Visibility
from hearing_server.core.participant import Role
from hearing_server.keys import EVENTS, STORE
from hearing_server.service.events import CaptionPublished
from signaling.client import HearingClient, SignalingError
from support.hearing import make_hearing
from support.media import ColourVideoTrack, ToneAudioTrack
from support.waiting import eventually

MakeClient = Callable[..., HearingClient]
PEOPLE = [(Role.JUDGE, "王法官"), (Role.PARTY, "张三"), (Role.CLERK, "赵书记员")]
DELAY = 4


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(
        settings, composite_enabled=True, recording_auto_start=False, livestream_segment_seconds=2.0
    )


def _probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return json.loads(out.stdout)


async def _say(server: TestServer, hid: str, text: str, ago: float = 0.0) -> None:
    """A final caption on the service bus, as the transcription publishes it: speech that
    started ``ago`` seconds ago, on the hearing clock."""
    hearing = await server.app[STORE].get_hearing(hid)
    assert hearing.actual_start is not None
    now = (datetime.now(UTC) - hearing.actual_start).total_seconds()
    caption = {"text": text, "start": now - ago, "end": now - ago + 1.0, "final": True}
    await server.app[EVENTS].publish(CaptionPublished(hid, (), caption))


def _vtt(segment: str) -> str:
    return segment.removesuffix(".ts") + ".vtt"


def _names(playlist: str) -> list[str]:
    return [line for line in playlist.splitlines() if line and not line.startswith("#")]


async def _start_session(
    server: TestServer, make_client: MakeClient, visibility: Visibility = Visibility.PUBLIC
) -> tuple[str, HearingClient, HearingClient]:
    hid, people = await make_hearing(server.app, PEOPLE, state="in_session", visibility=visibility)
    judge = make_client(people["王法官"].token)
    party = make_client(people["张三"].token)
    for client, colour, tone in (
        (judge, (220, 40, 40), 440.0),
        (party, (40, 200, 40), 700.0),
    ):
        await client.connect()
        await client.join()
        await client.publish([ColourVideoTrack(colour), ToneAudioTrack(tone)])
    return hid, judge, party


async def _start_stream(judge: HearingClient) -> dict[str, Any]:
    """Start once the composite runs (it starts with the session, a moment after)."""

    async def attempt() -> dict[str, Any] | None:
        try:
            return await judge.call("livestream", {"action": "start", "delay_seconds": DELAY})
        except SignalingError as exc:
            if exc.code == "no_composite":
                return None
            raise

    reply: dict[str, Any] = await eventually(attempt, timeout=30, what="the livestream to start")
    return reply


async def test_public_hearing_streams_after_the_delay_and_cut_is_retroactive(
    server: TestServer, make_client: MakeClient, settings: Settings
) -> None:
    hid, judge, party = await _start_session(server, make_client)
    base = f"http://127.0.0.1:{server.port}"
    # A party may not control the stream.
    with pytest.raises(SignalingError) as refused:
        await party.call("livestream", {"action": "start"})
    assert refused.value.code == "forbidden"

    started = time.monotonic()
    reply = await _start_stream(judge)
    assert reply["livestream"]["state"] == "live"
    assert reply["livestream"]["delay_seconds"] == DELAY
    state = await party.wait_for_event("livestream_state", lambda d: d["state"] == "live")
    assert state["delay_seconds"] == DELAY
    root = settings.effective_livestream_dir / hid
    public = root / "public"

    async with aiohttp.ClientSession() as http:

        async def playlist() -> str | None:
            async with http.get(f"{base}/live/{hid}/index.m3u8") as resp:
                if resp.status == 404:
                    return None
                assert resp.status == 200
                assert resp.headers["Content-Type"] == "application/vnd.apple.mpegurl"
                assert "no-cache" in resp.headers["Cache-Control"]
                return await resp.text()

        # Nothing is public before the delay has passed.
        assert await playlist() is None
        await asyncio.sleep(0.5)
        await _say(server, hid, "现在开庭")
        first: str = await eventually(playlist, timeout=30, what="the playlist")
        assert time.monotonic() - started >= DELAY
        assert first.startswith("#EXTM3U") and "#EXT-X-TARGETDURATION:" in first

        async def enough() -> str | None:
            text = await playlist()
            return text if text and len(_names(text)) >= 3 else None

        listed = await eventually(enough, timeout=30, what="three published segments")
        for name in _names(listed)[:3]:
            async with http.get(f"{base}/live/{hid}/{name}") as resp:
                assert resp.status == 200
                assert resp.headers["Content-Type"] == "video/mp2t"
                assert "immutable" in resp.headers["Cache-Control"]
                body = await resp.read()
            async with http.get(
                f"{base}/live/{hid}/{name}", headers={"Range": "bytes=0-187"}
            ) as resp:
                assert resp.status == 206 and await resp.read() == body[:188]
            info = _probe(public / name)
            codecs = {s["codec_type"]: s["codec_name"] for s in info["streams"]}
            assert codecs == {"video": "h264", "audio": "aac"}, codecs
            video = next(s for s in info["streams"] if s["codec_type"] == "video")
            assert (video["width"], video["height"]) == (1280, 720)
            assert 1.0 <= float(info["format"]["duration"]) <= 3.5, info["format"]

        # Captions: a WebVTT twin per segment, listed in captions.m3u8 behind master.m3u8.
        async with http.get(f"{base}/live/{hid}/master.m3u8") as resp:
            assert resp.status == 200 and 'URI="captions.m3u8"' in await resp.text()
        async with http.get(f"{base}/live/{hid}/captions.m3u8") as resp:
            vtt_names = _names(await resp.text())
        # (a segment may have been published since `listed` was read)
        assert set(_names(listed)) <= {n.replace(".vtt", ".ts") for n in vtt_names}
        cues = ""
        for name in vtt_names:
            async with http.get(f"{base}/live/{hid}/{name}") as resp:
                assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/vtt")
                body = await resp.text()
                assert body.startswith("WEBVTT")
                cues += body
        assert "现在开庭" in cues, cues

        # The cut: everything not yet published is withheld and deleted.
        await asyncio.sleep(1.0)
        await _say(server, hid, "涉及商业秘密", ago=0.5)  # in the withheld stretch
        withheld_before = {p.name for p in (root / "withheld").iterdir()}
        published_before = set(_names(await playlist() or ""))
        cut_at = time.time()
        reply = await judge.call("livestream", {"action": "cut"})
        assert reply["livestream"]["state"] == "cut"
        await _say(server, hid, "未成年人姓名", ago=2.0)  # recognised late, spoken before
        await asyncio.sleep(DELAY + 3)  # longer than the delay: withheld media would be due
        assert withheld_before, "some segments were waiting out the delay"
        for name in withheld_before:
            assert not (root / "withheld" / name).exists(), name
            assert not (public / name).exists(), name
        during_cut = _names(await playlist() or "")
        new_names = [n for n in during_cut if n not in published_before]
        assert new_names, during_cut
        courtroom = [n for n in sorted(public.glob("*.ts")) if n.name[:3] == "000"]
        for path in courtroom:  # nothing published was written after the cut
            assert path.stat().st_mtime <= cut_at, (path.name, path.stat().st_mtime, cut_at)
        # What was added since the cut is the slate: a still picture with silence.
        for name in new_names:
            assert name[:3] != "000", (name, during_cut)
            info = _probe(public / name)
            assert {s["codec_name"] for s in info["streams"]} == {"h264", "aac"}
        assert "#EXT-X-DISCONTINUITY" in (await playlist() or "")

        # Resume: the courtroom comes back after the delay.
        await judge.call("livestream", {"action": "resume"})

        async def courtroom_back() -> list[str] | None:
            names = _names(await playlist() or "")
            back = [n for n in names if n[:3] == "002"]
            slates = [p for p in public.glob("001*.ts")]
            return back if back and slates else None

        back = await eventually(courtroom_back, timeout=30, what="the courtroom after resume")
        assert _probe(public / back[0])["streams"]
        # No caption of the withheld stretch was ever published.
        published_vtt = "".join(p.read_text() for p in public.glob("*.vtt"))
        assert "涉及商业秘密" not in published_vtt and "未成年人姓名" not in published_vtt
        assert "现在开庭" in published_vtt

        await judge.call("livestream", {"action": "stop"})
        await judge.wait_for_event("livestream_state", lambda d: d["state"] == "not_live")
        async with http.get(f"{base}/live/{hid}/index.m3u8") as resp:
            assert resp.status == 404
        assert not (root / "withheld").exists()
        async with http.get(f"{base}/live/{hid}/replay.m3u8") as resp:
            assert resp.status == 404  # the judge did not allow a replay
        # What nginx would serve from disk is gone too: no playlist, no segment, no WebVTT.
        assert not public.exists(), sorted(p.name for p in public.iterdir())
        kept = {p.name for p in (root / "kept").iterdir()}
        assert "replay.m3u8" in kept and not {"index.m3u8", "master.m3u8"} & kept
        assert not [n for n in kept if n.startswith("001")]  # the slates are deleted

    audit = [e.event for e in await server.app[STORE].list_audit(hid)]
    for event in (
        "livestream_started",
        "livestream_cut",
        "livestream_resumed",
        "livestream_stopped",
    ):
        assert event in audit, audit


@pytest.mark.parametrize("visibility", [Visibility.CLOSED, Visibility.SEALED])
async def test_closed_and_sealed_hearings_are_never_streamed(
    server: TestServer, make_client: MakeClient, settings: Settings, visibility: Visibility
) -> None:
    hid, judge, _ = await _start_session(server, make_client, visibility)
    await asyncio.sleep(2)  # the composite runs
    with pytest.raises(SignalingError) as refused:
        await judge.call("livestream", {"action": "start"})
    assert refused.value.code == "not_public"
    base = f"http://127.0.0.1:{server.port}"
    async with aiohttp.ClientSession() as http:
        for path in (
            f"/live/{hid}/index.m3u8",
            f"/live/{hid}/000000001.ts",
            f"/live/{hid}/master.m3u8",
            f"/live/{hid}/captions.m3u8",
            f"/live/{hid}/000000001.vtt",
            f"/api/public/hearings/{hid}",
        ):
            async with http.get(base + path) as resp:
                assert resp.status == 404, path
        async with http.get(f"{base}/api/public/hearings") as resp:
            assert hid not in {h["id"] for h in (await resp.json())["hearings"]}
    assert not (settings.effective_livestream_dir / hid).exists()


async def test_public_hearing_made_closed_stops_at_once(
    server: TestServer, make_client: MakeClient, settings: Settings, admin_headers: dict[str, str]
) -> None:
    hid, judge, party = await _start_session(server, make_client)
    await _start_stream(judge)
    root = settings.effective_livestream_dir / hid
    await eventually(
        lambda: asyncio.sleep(0, any((root / "withheld").glob("*.ts"))),
        timeout=30,
        what="a first segment",
    )
    base = f"http://127.0.0.1:{server.port}"
    async with aiohttp.ClientSession() as http:
        async with http.patch(
            f"{base}/api/hearings/{hid}", json={"visibility": "closed"}, headers=admin_headers
        ) as resp:
            assert resp.status == 200, await resp.text()
        state = await party.wait_for_event(
            "livestream_state", lambda d: d["state"] == "not_live", timeout=30
        )
        assert state == {"state": "not_live", "replay": False}
        assert not root.exists()
        async with http.get(f"{base}/live/{hid}/index.m3u8") as resp:
            assert resp.status == 404
    audit = await server.app[STORE].list_audit(hid)
    stopped = [e for e in audit if e.event == "livestream_stopped"]
    assert stopped and stopped[-1].data["reason"] == "not public"


async def test_bad_livestream_requests_get_clear_errors(
    server: TestServer, make_client: MakeClient, settings: Settings
) -> None:
    hid, judge, _ = await _start_session(server, make_client)
    for payload, code in (
        ({"action": "start", "delay_seconds": -1}, "invalid_value"),
        ({"action": "start", "delay_seconds": 10_000}, "invalid_value"),
        ({"action": "start", "delay_seconds": "30"}, "invalid_field"),
        ({"action": "explode"}, "invalid_field"),
        ({"action": "cut"}, "conflict"),
        ({"action": "resume"}, "conflict"),
        ({"action": "cut", "delay_seconds": 5}, "invalid_value"),
    ):
        with pytest.raises(SignalingError) as refused:
            await judge.call("livestream", payload)
        assert refused.value.code == code, (payload, refused.value.code)
    await _start_stream(judge)
    base = f"http://127.0.0.1:{server.port}"
    (Path(settings.data_dir) / "secret.txt").write_text("not for the public")
    async with aiohttp.ClientSession() as http:
        for path in (
            f"/live/{hid}/..%2F..%2F..%2Fsecret.txt",
            f"/live/{hid}/%2e%2e%2fwithheld%2f000000001.ts",
            f"/live/{hid}/000000001.ts.part",
            f"/live/{hid}/../../secret.txt",
            f"/live/{hid}/000000999.ts",
            "/live/..%2F..%2Fvar/index.m3u8",
            f"/live/{'x' * 300}/index.m3u8",
            f"/live/{hid}/index.m3u8?" + "a=b&" * 1000,
        ):
            async with http.get(base + path) as resp:
                # (a query string is ignored: the playlist, or 404 while inside the delay)
                expected = (200, 404) if "?" in path else (400, 404, 414, 431)
                assert resp.status in expected, (path, resp.status)
                assert b"not for the public" not in await resp.read()
        # Thousands of requests from one address: limited, never a crash.
        statuses: dict[int, int] = {}

        async def one() -> None:
            async with http.get(f"{base}/api/public/hearings/{hid}") as resp:
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
                await resp.read()

        for _ in range(20):
            await asyncio.gather(*(one() for _ in range(100)))
        assert statuses.get(429, 0) > 1000 and set(statuses) <= {200, 429}, statuses
        await asyncio.sleep(1.5)
        async with http.get(f"{base}/api/public/hearings/{hid}") as resp:
            assert resp.status == 200
            assert (await resp.json())["livestream"] == "live"


async def test_replay_of_the_published_parts_when_the_judge_allows_it(
    server: TestServer, make_client: MakeClient, settings: Settings, admin_headers: dict[str, str]
) -> None:
    hid, judge, party = await _start_session(server, make_client)
    with pytest.raises(SignalingError) as refused:
        await party.call("livestream", {"action": "allow_replay"})
    assert refused.value.code == "forbidden"
    await _start_stream(judge)
    base = f"http://127.0.0.1:{server.port}"
    async with aiohttp.ClientSession() as http:

        async def published() -> list[str] | None:
            async with http.get(f"{base}/live/{hid}/index.m3u8") as resp:
                names = _names(await resp.text()) if resp.status == 200 else []
            return names if len(names) >= 2 else None

        await eventually(published, timeout=30, what="two published segments")
        await judge.call("livestream", {"action": "cut"})
        await asyncio.sleep(3)  # some slate
        reply = await judge.call("livestream", {"action": "allow_replay"})
        assert reply["livestream"]["replay"] is True
        await judge.call("livestream", {"action": "stop"})
        async with http.get(f"{base}/live/{hid}/replay.m3u8") as resp:
            assert resp.status == 200
            text = await resp.text()
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and text.endswith("#EXT-X-ENDLIST\n")
        names = _names(text)
        assert names and all(n.startswith("000") for n in names), text  # no slate, no cut
        root = settings.effective_livestream_dir / hid
        public = root / "public"
        replay_files = {"replay.m3u8"} | {n for name in names for n in (name, _vtt(name))}
        # What nginx serves from disk is the replay and nothing else (no live playlists,
        # no slate), and it is the playlist the app answers.
        assert {p.name for p in public.iterdir()} == replay_files
        assert (public / "replay.m3u8").read_text() == text
        for name in names:
            async with http.get(f"{base}/live/{hid}/{name}") as resp:
                assert resp.status == 200
            info = _probe(public / name)
            assert {s["codec_name"] for s in info["streams"]} == {"h264", "aac"}
        async with http.get(f"{base}/api/public/hearings/{hid}") as resp:
            assert (await resp.json())["replay"] is True
        await judge.call("livestream", {"action": "withdraw_replay"})
        for path in ("replay.m3u8", names[0]):
            async with http.get(f"{base}/live/{hid}/{path}") as resp:
                assert resp.status == 404, path
        assert not public.exists()  # nothing left for nginx
        assert {p.name for p in (root / "kept").iterdir()} == replay_files
        # Allowed again: the same replay, public on disk and through the app.
        await judge.call("livestream", {"action": "allow_replay"})
        assert {p.name for p in public.iterdir()} == replay_files
        async with http.get(f"{base}/live/{hid}/{names[-1]}") as resp:
            assert resp.status == 200
            assert await resp.read() == (public / names[-1]).read_bytes()
        # A hearing made sealed loses its replay, allowed or not.
        async with http.patch(
            f"{base}/api/hearings/{hid}", json={"visibility": "sealed"}, headers=admin_headers
        ) as resp:
            assert resp.status == 200, await resp.text()
        await eventually(
            lambda: asyncio.sleep(0, not root.exists()), timeout=30, what="the files deleted"
        )
    audit = await server.app[STORE].list_audit(hid)
    changes = [e.data["allowed"] for e in audit if e.event == "livestream_replay_changed"]
    assert changes == [True, False, True]


async def test_files_left_in_public_by_a_crash_are_taken_out_at_start_up(
    aiohttp_server: Any, settings: Settings
) -> None:
    """A server that died mid-stream (or an older version) left live files in public/; at
    start-up only an allowed replay stays there."""
    live = settings.effective_livestream_dir
    crashed, replayed = live / "crashed-hearing", live / "replayed-hearing"
    for root in (crashed, replayed):
        (root / "public").mkdir(parents=True)
        (root / "withheld").mkdir()
        for name in ("index.m3u8", "master.m3u8", "000000001.ts", "000000001.vtt"):
            (root / "public" / name).write_text("x")
        (root / "withheld" / "000000002.ts").write_text("x")
    (replayed / "replay-allowed").touch()
    (replayed / "public" / "replay.m3u8").write_text("#EXTM3U\n000000001.ts\n#EXT-X-ENDLIST\n")
    (replayed / "public" / "001000002.ts").write_text("a slate")
    await aiohttp_server(create_app(settings), host="127.0.0.1")
    assert not (crashed / "public").exists() and not (crashed / "withheld").exists()
    assert {p.name for p in (replayed / "public").iterdir()} == {
        "replay.m3u8",
        "000000001.ts",
        "000000001.vtt",
    }
    assert not (replayed / "withheld").exists()


async def test_a_livestream_that_cannot_be_written_is_refused_clearly(
    aiohttp_server: Any, make_client: MakeClient, settings: Settings, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the livestream directory should be")
    app = create_app(replace(settings, livestream_dir=blocker / "livestream"))
    server = await aiohttp_server(app, host="127.0.0.1")
    _, people = await make_hearing(server.app, PEOPLE, state="in_session")
    judge = HearingClient(f"http://127.0.0.1:{server.port}", people["王法官"].token)
    try:
        await judge.connect()
        await judge.join()
        await judge.publish([ColourVideoTrack((220, 40, 40)), ToneAudioTrack(440.0)])
        with pytest.raises(SignalingError) as refused:
            await _start_stream(judge)
        assert refused.value.code == "livestream_failed", refused.value
        status = (await judge.call("join", {"protocol": 1}))["livestream"]
        assert status["state"] == "not_live"
    finally:
        await judge.close()
