"""Speech sent through the server becomes live captions and the hearing's transcript."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from aiohttp.test_utils import TestServer

from hearing_server.config import Settings
from hearing_server.core.participant import Role
from signaling.client import HearingClient
from support.hearing import make_hearing
from transcription.testing import SpeechTrack, have_flite, silence, synthesize
from transcription.wer import wer

MakeClient = Callable[..., HearingClient]
PEOPLE = [(Role.JUDGE, "王法官"), (Role.PARTY, "Alice Party"), (Role.WITNESS, "陈证人")]
SENTENCE = "the witness saw the blue car stop at the corner of the main street"

pytestmark = pytest.mark.skipif(not have_flite(), reason="needs Debian flite")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, transcription_enabled=True, court_timezone="Asia/Shanghai",
                   transcription_language="en")  # the flite voices speak English


async def test_speech_becomes_captions_and_transcript(
    server: TestServer, make_client: MakeClient, aiohttp_client: Any
) -> None:
    _, people = await make_hearing(server.app, PEOPLE, state="in_session")
    judge = make_client(people["王法官"].token)
    party = make_client(people["Alice Party"].token)
    witness = make_client(people["陈证人"].token)  # waits outside: hears no captions
    for c in (judge, witness):
        await c.connect()
        await c.join()
    samples, rate = synthesize(SENTENCE, "slt")
    await party.connect()
    await party.join()
    await party.publish([SpeechTrack(np.concatenate([silence(1.0, rate), samples]), rate)])

    caption = await judge.wait_for_event(
        "caption",
        lambda d: d["final"] and d["participant_id"] == people["Alice Party"].id,
        timeout=60,
    )
    assert caption["name"] == "Alice Party" and caption["role"] == "party"
    await asyncio.sleep(1.0)
    finals = " ".join(d["text"] for ev, d in judge.events if ev == "caption" and d["final"])
    assert wer(SENTENCE, finals).rate <= 0.15, finals
    assert not any(ev == "caption" for ev, _ in witness.events)

    await judge.call("hearing_action", {"action": "close"})
    http = await aiohttp_client(server)
    resp = await http.get(
        "/api/me/transcript/json", headers={"Authorization": f"Bearer {people['王法官'].token}"}
    )
    assert resp.status == 200, await resp.text()
    body = await resp.read()
    assert b"Alice Party" in body
    resp = await http.get(
        "/api/me/transcript/pdf", headers={"Authorization": f"Bearer {people['Alice Party'].token}"}
    )
    assert resp.status == 403
