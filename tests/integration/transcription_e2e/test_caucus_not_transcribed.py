"""A caucus (背对背调解) is neither transcribed nor composed: real speech through the real server,
the real recognition engine and the real compositor. The applicant speaks in a caucus with the
mediator while the respondent speaks in the joint session; the composite (display, recording,
livestream) takes the respondent and not the applicant; once the session is closed and the
transcript is complete (every piece of speech the transcriber took has been recognised), it
holds the respondent's words and nothing of the caucus, and no caption of the caucus reached
anyone. (The recorder's side is tests/integration/mediation/test_caucus.py.)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from aiohttp.test_utils import TestServer

from hearing_server.config import Settings
from hearing_server.core.hearing import HearingAction, HearingKind, Visibility
from hearing_server.core.participant import PartySide, Role
from hearing_server.keys import COMPOSITES, HEARINGS
from signaling.client import HearingClient
from support.hearing import STAFF
from support.waiting import eventually, wait_until
from transcription.testing import SpeechTrack, have_flite, silence, synthesize
from transcription.wer import wer

MakeClient = Callable[..., HearingClient]
# Said in the caucus: its distinctive words must appear nowhere in the transcript.
SECRET = "my client would accept eight thousand if the invoice is withdrawn"
SECRET_WORDS = ("eight", "thousand", "invoice", "withdrawn")
SAID_IN_JOINT = "the plaintiff claims the goods were never delivered"

pytestmark = pytest.mark.skipif(not have_flite(), reason="needs Debian flite")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The flite voices speak English.
    return replace(
        settings, transcription_enabled=True, transcription_language="en", composite_enabled=True
    )


async def test_caucus_speech_is_neither_transcribed_captioned_nor_composed(
    server: TestServer, make_client: MakeClient, aiohttp_client: Any
) -> None:
    service = server.app[HEARINGS]
    now = datetime.now(UTC)
    hearing = await service.create_hearing(
        STAFF,
        kind=HearingKind.MEDIATION,
        case_number="(2026)京0105民调7号",
        court="北京市朝阳区人民法院",
        title="买卖合同纠纷调解",
        scheduled_start=now,
        scheduled_end=now + timedelta(hours=1),
        visibility=Visibility.CLOSED,
    )
    tokens: dict[str, str] = {}
    ids: dict[str, str] = {}
    for name, role, side in (
        ("Mediator Sun", Role.MEDIATOR, None),
        ("Alice Applicant", Role.PARTY, PartySide.APPLICANT),
        ("Bob Respondent", Role.PARTY, PartySide.RESPONDENT),
    ):
        p = await service.add_participant(
            STAFF, hearing.id, role=role, display_name=name, side=side
        )
        ids[name] = p.id
        tokens[name] = (await service.issue_link(STAFF, p.id))[1]
    await service.transition(STAFF, hearing.id, HearingAction.OPEN)
    await service.transition(STAFF, hearing.id, HearingAction.START)

    mediator, alice, bob = (
        make_client(tokens[n]) for n in ("Mediator Sun", "Alice Applicant", "Bob Respondent")
    )
    for client in (mediator, alice, bob):
        await client.connect()
        await client.join()
    room = (await mediator.call("open_caucus", {"side": "applicant"}))["room"]
    assert set(room["members"]) == {ids["Mediator Sun"], ids["Alice Applicant"]}

    secret, rate = synthesize(SECRET, "slt")
    joint, joint_rate = synthesize(SAID_IN_JOINT, "rms")
    alice_track = SpeechTrack(
        np.concatenate([silence(0.5, rate), secret, silence(1.0, rate)]), rate
    )
    bob_track = SpeechTrack(
        np.concatenate([silence(0.5, joint_rate), joint, silence(1.0, joint_rate)]), joint_rate
    )
    await alice.publish([alice_track])
    await bob.publish([bob_track])

    async def spoken() -> bool:
        return alice_track.done.is_set() and bob_track.done.is_set()

    composites = server.app[COMPOSITES]
    assert composites is not None
    compositor = composites.compositor(hearing.id)
    assert compositor is not None
    await wait_until(
        lambda: ids["Bob Respondent"] in compositor.participants,
        30,
        "the joint session's speaker on the composite",
    )
    await eventually(spoken, timeout=alice_track.duration + bob_track.duration + 30,
                     what="both to finish speaking")  # fmt: skip
    assert ids["Alice Applicant"] not in compositor.participants
    assert ids["Alice Applicant"] not in {t.pid for t in compositor.tile_states()}
    # The joint session's speech is captioned for those in it: the transcriber is running.
    await bob.wait_for_event(
        "caption",
        lambda d: d["final"] and d["participant_id"] == ids["Bob Respondent"],
        timeout=120,
    )
    await mediator.call("close_caucus", {"room_id": room["id"]})
    # Back in the joint session, the applicant is composed like anyone there.
    await wait_until(
        lambda: ids["Alice Applicant"] in compositor.participants,
        30,
        "the applicant on the composite after the caucus",
    )
    await mediator.call("hearing_action", {"action": "close"})

    http = await aiohttp_client(server)
    auth = {"Authorization": f"Bearer {tokens['Mediator Sun']}"}

    async def complete() -> Any:
        doc = await (await http.get("/api/me/transcript/json", headers=auth)).json()
        return doc if doc["complete"] else None

    done = await eventually(complete, timeout=120, what="the transcript to complete")
    by_bob = " ".join(
        s["text"] for s in done["segments"] if s["participant_id"] == ids["Bob Respondent"]
    )
    assert wer(SAID_IN_JOINT, by_bob).rate <= 0.3, by_bob
    everything = " ".join(s["text"] for s in done["segments"]).lower()
    assert not [s for s in done["segments"] if s["participant_id"] == ids["Alice Applicant"]], done
    assert not [w for w in SECRET_WORDS if w in everything], everything
    # Nobody was shown a caption of the caucus, the mediator in it included.
    for client in (mediator, alice, bob):
        captions = [d for ev, d in client.events if ev == "caption"]
        assert not [d for d in captions if d["participant_id"] == ids["Alice Applicant"]]
        assert not [w for d in captions for w in SECRET_WORDS if w in d["text"].lower()]
