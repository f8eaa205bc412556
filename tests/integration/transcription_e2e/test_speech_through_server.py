"""Speech from aiortc clients, through the server's SFU and decoded taps, into captions and the
transcript, with the default engine (faster-whisper, the bundled tiny.en model):

- four flite voices, four participants talking at once: each participant's transcript holds
  their own words only, word error rate <= 0.15 per voice;
- the judge (flite) and a party (real human speech, Debian pocketsphinx-testdata) in turn:
  every segment lies within a turn of its own speaker; the party's WER <= 0.10.

The audio goes through Opus, RTP, the SFU's receive path and a decoded tap exactly as a
browser's would. Each test waits for the transcript to be complete after closing the hearing
(the JSON export's ``complete``), so the figures cover every segment, not just the captions
that happened to arrive in time.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from hearing_server.config import Settings
from hearing_server.core.actors import Actor
from hearing_server.core.participant import Role
from hearing_server.keys import HEARINGS
from signaling.client import HearingClient
from support.hearing import Person, make_hearing
from transcription.stt import SAMPLE_RATE, Samples
from transcription.testing import (
    COURT_SENTENCES,
    Script,
    SpeechTrack,
    have_flite,
    load_utterance,
    real_speech_set,
    synthesize,
    to_16k,
)
from transcription.wer import WER, wer

MakeClient = Callable[..., HearingClient]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"

pytestmark = pytest.mark.skipif(not have_flite(), reason="needs Debian flite")

LEAD_S = 1.0  # silence before the first word: the connection settles
GAP_S = 0.8  # between turns
TAIL_S = 1.5  # after the last word: the voice-activity detector sees the end of speech


def in_turn(lines: list[tuple[str, str, Samples]], speakers: list[str]) -> Script:
    """One line after another; every microphone sends silence while someone else speaks."""
    script = Script.silent(speakers, LEAD_S)
    for speaker, text, audio in lines:
        script.say(speaker, audio, text)
        script.pause(GAP_S)
    script.pause(TAIL_S)
    return script


def at_once(lines: dict[str, list[tuple[str, Samples]]]) -> Script:
    """Everyone talks at the same time, each on their own microphone."""
    scripts = []
    for speaker, said in lines.items():
        script = Script.silent([speaker], LEAD_S)
        for text, audio in said:
            script.say(speaker, audio, text)
            script.pause(GAP_S)
        script.pause(TAIL_S)
        scripts.append(script)
    return Script.alongside(scripts)


def flite(text: str, voice: str) -> Samples:
    return to_16k(*synthesize(text, voice))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The voices and the recordings speak English.
    return replace(settings, transcription_enabled=True, transcription_language="en")


async def speak(
    server: TestServer,
    make_client: MakeClient,
    people: dict[str, Person],
    script: Script,
) -> dict[str, SpeechTrack]:
    """Everyone in ``people`` joins (a witness is called in by the judge); the speakers
    publish their scripts, all starting together; returns once every script has played and
    the hearing is closed."""
    clients = {name: make_client(p.token) for name, p in people.items()}
    waiting = []
    for name, c in clients.items():
        await c.connect()
        if (await c.join())["me"]["state"] == "waiting":
            waiting.append(name)
    judge = next(clients[n] for n, p in people.items() if p.role is Role.JUDGE)
    for name in waiting:
        await judge.call("admit", {"participant_id": people[name].id})
        await clients[name].wait_for_event(
            "me_updated", lambda d: d["state"] == "in_hearing", timeout=10
        )
    tracks = {name: SpeechTrack(samples, SAMPLE_RATE) for name, samples in script.signals.items()}
    await asyncio.gather(*(clients[name].publish([t]) for name, t in tracks.items()))
    longest = max(t.duration for t in tracks.values())
    await asyncio.wait_for(
        asyncio.gather(*(t.done.wait() for t in tracks.values())), timeout=longest + 30
    )
    await judge.call("hearing_action", {"action": "close"})
    return tracks


async def complete_transcript(aiohttp_client: Any, server: TestServer, token: str) -> Any:
    """The JSON transcript once every queued utterance has been recognised."""
    http = await aiohttp_client(server)
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 120
    while True:
        resp = await http.get("/api/me/transcript/json", headers=headers)
        assert resp.status == 200, await resp.text()
        doc = json.loads(await resp.read())
        if doc["complete"]:
            return doc
        assert time.monotonic() < deadline, "recognition did not finish within 120 s"
        await asyncio.sleep(0.5)


def keep(name: str, figures: dict[str, Any], doc: Any) -> None:
    """What a test measured, for people to read (test-artifacts/ is not committed)."""
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"{name}.json").write_text(
        json.dumps({"figures": figures, "transcript": doc}, ensure_ascii=False, indent=2)
    )


def shown(score: WER) -> str:
    return f"{score.rate:.3f} ({score.errors}/{score.words})"


def words_of(doc: Any, pid: str) -> str:
    return " ".join(s["text"] for s in doc["segments"] if s["participant_id"] == pid)


async def test_four_voices_at_once_each_transcribed_as_their_own(
    server: TestServer, make_client: MakeClient, aiohttp_client: Any
) -> None:
    voices = {"Judge Li 李法官": "slt", "Zhang San 张三": "kal16", "Counsel Chen": "awb",
              "Wang Wu 王五": "rms"}
    roles = [Role.JUDGE, Role.PARTY, Role.COUNSEL, Role.WITNESS]
    _, people = await make_hearing(
        server.app, list(zip(roles, voices, strict=True)), state="in_session"
    )
    # Speaker i reads sentences 2i .. 2i+3: every sentence is read, by two voices.
    script = at_once(
        {
            name: [
                (text, flite(text, voice))
                for text in (COURT_SENTENCES[(2 * i + k) % 8] for k in range(4))
            ]
            for i, (name, voice) in enumerate(voices.items())
        }
    )
    await speak(server, make_client, people, script)
    judge = people["Judge Li 李法官"]
    doc = await complete_transcript(aiohttp_client, server, judge.token)

    scores = {voice: wer(script.said_by(name), words_of(doc, people[name].id))
              for name, voice in voices.items()}
    keep("speech-through-server-at-once", {v: shown(w) for v, w in scores.items()}, doc)
    assert {s["status"] for s in doc["segments"]} == {"ok"}, doc["segments"]
    for name, voice in voices.items():
        p = people[name]
        mine = [s for s in doc["segments"] if s["participant_id"] == p.id]
        assert mine and all(s["name"] == name and s["role"] == p.role.value for s in mine)
        assert scores[voice].rate <= 0.15, (voice, scores[voice], words_of(doc, p.id))


async def test_judge_and_party_in_turn_real_speech(
    server: TestServer, make_client: MakeClient, aiohttp_client: Any
) -> None:
    hid, people = await make_hearing(
        server.app, [(Role.JUDGE, "Judge Li 李法官"), (Role.PARTY, "Alice Party")],
        state="in_session",
    )
    lines: list[tuple[str, str, Samples]] = []
    for i, utterance in enumerate(real_speech_set()):
        if i % 3 == 0:  # the judge asks, the party answers with one to three recordings
            text = COURT_SENTENCES[i // 3]
            lines.append(("Judge Li 李法官", text, flite(text, "slt")))
        lines.append(("Alice Party", utterance.reference, to_16k(*load_utterance(utterance))))
    script = in_turn(lines, ["Judge Li 李法官", "Alice Party"])
    tracks = await speak(server, make_client, people, script)
    doc = await complete_transcript(aiohttp_client, server, people["Judge Li 李法官"].token)

    # The script's time on the hearing clock: the hearing started before the first frame.
    hearing = await server.app[HEARINGS].get_hearing(Actor.staff("test"), hid)
    assert hearing.actual_start is not None
    started = tracks["Alice Party"].started
    assert started is not None
    wall_at_start = time.time() - (asyncio.get_running_loop().time() - started)
    offset = wall_at_start - hearing.actual_start.timestamp()

    by_pid = {people[name].id: name for name in people}
    assert {s["status"] for s in doc["segments"]} == {"ok"}, doc["segments"]
    for seg in doc["segments"]:
        speaker = by_pid[seg["participant_id"]]
        middle = (seg["start"] + seg["end"]) / 2 - offset
        turn = min(script.turns, key=lambda t: max(t.start - middle, middle - t.end, 0.0))
        assert turn.speaker == speaker, (seg, turn)
        assert datetime.fromisoformat(seg["start_at"]) >= hearing.actual_start

    judge_wer = wer(script.said_by("Judge Li 李法官"), words_of(doc, people["Judge Li 李法官"].id))
    party_wer = wer(script.said_by("Alice Party"), words_of(doc, people["Alice Party"].id))
    keep("speech-through-server-in-turn", {"judge (flite slt)": shown(judge_wer),
                                            "party (real speech)": shown(party_wer)}, doc)
    assert judge_wer.rate <= 0.15, (judge_wer, words_of(doc, people["Judge Li 李法官"].id))
    assert party_wer.rate <= 0.10, (party_wer, words_of(doc, people["Alice Party"].id))
