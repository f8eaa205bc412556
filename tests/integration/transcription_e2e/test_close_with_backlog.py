"""Closing a hearing answers at once, however much speech is still waiting for recognition.

The engine here is the real default engine made slow on purpose (each recognition waits
several seconds first), so the backlog at the close does not depend on the machine's speed.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from hearing_server.app import create_app
from hearing_server.config import Settings
from hearing_server.core.participant import Role
from hearing_server.keys import SETTINGS
from signaling.client import HearingClient
from support.hearing import make_hearing
from support.waiting import eventually
from transcription import TranscriptionSettings, create_engine
from transcription.testing import DelayedSTT, SpeechTrack, have_flite, silence, synthesize
from transcription.wer import wer

MakeClient = Callable[..., HearingClient]
PEOPLE = [(Role.JUDGE, "王法官"), (Role.PARTY, "Alice Party")]
FIRST = "the witness saw the blue car stop at the corner of the main street"
SECOND = "the contract was signed by both parties on the first day of june"
DELAY_S = 8.0

pytestmark = pytest.mark.skipif(not have_flite(), reason="needs Debian flite")


@pytest.fixture
async def server(aiohttp_server: Any, settings: Settings) -> AsyncIterator[TestServer]:
    slow = DelayedSTT(create_engine(TranscriptionSettings()), delay_s=DELAY_S)
    app = create_app(replace(settings, transcription_enabled=True, transcription_language="en"),
                     stt_engine=slow)
    yield await aiohttp_server(app, host="127.0.0.1")


async def test_close_answers_at_once_and_the_transcript_completes_later(
    server: TestServer, make_client: MakeClient, aiohttp_client: Any
) -> None:
    _, people = await make_hearing(server.app, PEOPLE, state="in_session")
    judge = make_client(people["王法官"].token)
    party = make_client(people["Alice Party"].token)
    await judge.connect()
    await judge.join()
    first, rate = synthesize(FIRST, "slt")
    second, _ = synthesize(SECOND, "slt")
    script = np.concatenate(
        [silence(0.5, rate), first, silence(1.5, rate), second, silence(1.0, rate)]
    )
    track = SpeechTrack(script, rate)
    await party.connect()
    await party.join()
    await party.publish([track])
    await eventually(
        lambda: _is_set(track), timeout=track.duration + 30, what="the party to finish speaking"
    )

    http = await aiohttp_client(server)
    # the backlog shows in the metrics: what Prometheus would see of it
    busy = await _metrics(http, server)
    assert busy["hearing_server_transcriptions_active"] == 1
    assert (
        busy["hearing_server_transcription_queue_utterances"]
        + busy["hearing_server_transcription_pending_recognitions"]
        >= 1
    ), busy

    started = time.monotonic()
    await judge.call("hearing_action", {"action": "close"})
    answered = time.monotonic() - started
    assert answered < 1.0, f"the close took {answered:.2f} s to answer"

    auth = {"Authorization": f"Bearer {people['王法官'].token}"}
    body = await (await http.get("/api/me/transcript/json", headers=auth)).json()
    assert body["complete"] is False  # recognition of what was said is still under way
    resp = await http.post("/api/me/transcript/finalise", headers=auth)
    assert resp.status == 409 and (await resp.json())["code"] == "transcript_pending"

    async def complete() -> Any:
        doc = await (await http.get("/api/me/transcript/json", headers=auth)).json()
        return doc if doc["complete"] else None

    done = await eventually(complete, timeout=120, what="the transcript to complete")
    said = " ".join(s["text"] for s in done["segments"] if s["participant_id"] == people[
        "Alice Party"].id)
    assert wer(f"{FIRST} {SECOND}", said).rate <= 0.2, said
    resp = await http.post("/api/me/transcript/finalise", headers=auth)
    assert resp.status == 200, await resp.text()
    idle = await _metrics(http, server)
    assert idle["hearing_server_transcriptions_active"] == 0
    assert idle["hearing_server_transcription_queue_utterances"] == 0


async def _metrics(http: Any, server: TestServer) -> dict[str, float]:
    token = server.app[SETTINGS].metrics_token_path.read_text().strip()
    resp = await http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200
    return {
        s.name: s.value
        for family in text_string_to_metric_families(await resp.text())
        for s in family.samples
        if not s.labels
    }


async def _is_set(track: SpeechTrack) -> bool:
    return track.done.is_set()


async def test_returning_a_speaker_to_the_waiting_room_answers_at_once(
    server: TestServer, make_client: MakeClient, aiohttp_client: Any
) -> None:
    """Their audio stops at once; what they said before is still recognised and kept."""
    _, people = await make_hearing(server.app, PEOPLE, state="in_session")
    judge = make_client(people["王法官"].token)
    party = make_client(people["Alice Party"].token)
    await judge.connect()
    await judge.join()
    first, rate = synthesize(FIRST, "slt")
    track = SpeechTrack(np.concatenate([silence(0.5, rate), first, silence(1.0, rate)]), rate)
    await party.connect()
    await party.join()
    await party.publish([track])
    await eventually(
        lambda: _is_set(track), timeout=track.duration + 30, what="the party to finish speaking"
    )

    started = time.monotonic()
    await judge.call("return_to_waiting", {"participant_id": people["Alice Party"].id})
    answered = time.monotonic() - started
    assert answered < 1.0, f"returning the party took {answered:.2f} s to answer"

    await judge.call("hearing_action", {"action": "close"})
    http = await aiohttp_client(server)
    auth = {"Authorization": f"Bearer {people['王法官'].token}"}

    async def complete() -> Any:
        doc = await (await http.get("/api/me/transcript/json", headers=auth)).json()
        return doc if doc["complete"] else None

    done = await eventually(complete, timeout=120, what="the transcript to complete")
    said = " ".join(
        s["text"] for s in done["segments"] if s["participant_id"] == people["Alice Party"].id
    )
    assert wer(FIRST, said).rate <= 0.2, said
