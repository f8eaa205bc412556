"""Caucus rooms (背对背调解) through the real server: real signaling, real aiortc peers.

What makes a caucus confidential is checked where it happens: which tracks each peer is
actually offered and receives, what the recorder writes, and what the audit log holds.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestServer

from hearing_server.config import Settings
from hearing_server.core.hearing import HearingAction, HearingKind, Visibility
from hearing_server.core.participant import PartySide, Role
from hearing_server.keys import HEARINGS, LIVE, PRIVATE_ROOMS, STORE
from signaling.client import HearingClient, SignalingError
from support.hearing import STAFF, Person, make_hearing
from support.media import ColourVideoTrack, ToneAudioTrack, TrackConsumer
from support.waiting import wait_until

MakeClient = Callable[..., HearingClient]

COLOUR = {"调解员": (220, 40, 40), "张三": (40, 200, 40), "李四": (40, 40, 220)}
TONE = {"调解员": 440.0, "张三": 700.0, "李四": 1100.0}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, recording_segment_seconds=1.0)


async def _mediation(server: TestServer) -> tuple[str, dict[str, Person]]:
    """A mediation in session: the mediator, 张三 (applicant) with counsel, 李四 (respondent)."""
    service = server.app[HEARINGS]
    now = datetime.now(UTC)
    hearing = await service.create_hearing(
        STAFF,
        kind=HearingKind.MEDIATION,
        case_number="(2026)京0105民调123号",
        court="北京市朝阳区人民法院",
        title="买卖合同纠纷调解",
        scheduled_start=now,
        scheduled_end=now + timedelta(hours=1),
        visibility=Visibility.CLOSED,
    )
    people: dict[str, Person] = {}

    async def add(name: str, role: Role, **kw: object) -> Person:
        p = await service.add_participant(STAFF, hearing.id, role=role, display_name=name, **kw)  # type: ignore[arg-type]
        _, token, _ = await service.issue_link(STAFF, p.id)
        people[name] = Person(p.id, role, name, token)
        return people[name]

    await add("调解员", Role.MEDIATOR)
    zhang = await add("张三", Role.PARTY, side=PartySide.APPLICANT)
    await add("王律师", Role.COUNSEL, represents=zhang.id)
    await add("李四", Role.PARTY, side=PartySide.RESPONDENT)
    await service.transition(STAFF, hearing.id, HearingAction.OPEN)
    await service.transition(STAFF, hearing.id, HearingAction.START)
    return hearing.id, people


class Peer:
    def __init__(self, person: Person, client: HearingClient) -> None:
        self.person = person
        self.client = client
        self.consumers: dict[tuple[str, str], TrackConsumer] = {}

    async def start(self, *, publish: bool) -> None:
        await self.client.connect()
        await self.client.join()
        if publish:
            name = self.person.name
            await self.client.publish([ColourVideoTrack(COLOUR[name]), ToneAudioTrack(TONE[name])])

    def offered(self) -> set[str]:
        """Whose tracks the server offers this peer now."""
        return {pid for pid, _kind in self.client.received}

    def frames(self, publisher: Person) -> int:
        for key, received in self.client.received.items():
            if key not in self.consumers:
                self.consumers[key] = TrackConsumer(received.track)
        c = self.consumers.get((publisher.id, "video"))
        return c.state.frames if c else 0

    async def stop(self) -> None:
        for c in self.consumers.values():
            await c.stop()


async def test_caucus_media_stays_in_the_room_and_is_not_recorded(
    server: TestServer, make_client: MakeClient, settings: Settings
) -> None:
    hid, people = await _mediation(server)
    peers = {name: Peer(p, make_client(p.token)) for name, p in people.items()}
    mediator, zhang, counsel, li = (peers[n] for n in ("调解员", "张三", "王律师", "李四"))
    m, z, c, li_p = (p.person for p in (mediator, zhang, counsel, li))

    def describe() -> str:
        return "; ".join(f"{n}: {sorted(p.offered())}" for n, p in peers.items())

    try:
        for peer in (mediator, zhang, li):
            await peer.start(publish=True)
        await counsel.start(publish=False)
        # Joint session: everyone receives all three publishers (but themselves).
        await wait_until(
            lambda: all(
                p.offered() == {m.id, z.id, li_p.id} - {p.person.id} for p in peers.values()
            ),
            30,
            "everyone to receive the joint session",
            describe,
        )
        await asyncio.sleep(2.0)

        opened = await mediator.client.call(
            "open_caucus", {"side": "applicant", "timer_minutes": 30}
        )
        room = opened["room"]
        assert room["type"] == "caucus" and room["side"] == "applicant"
        assert set(room["members"]) == {m.id, z.id, c.id}
        assert room["mediator_present"] is True and room["timer_ends_at"]
        # The other side is told the mediator is meeting the other side, and since when.
        told = await li.client.wait_for_event(
            "rooms_updated", lambda d: d["reason"] == "opened", timeout=10
        )
        assert told["rooms"][0]["side"] == "applicant" and told["rooms"][0]["opened_at"]

        # 李四 is offered nothing of the caucus; the caucus nothing of 李四.
        await wait_until(
            lambda: (
                li.offered() == set()
                and mediator.offered() == {z.id}
                and zhang.offered() == {m.id}
                and counsel.offered() == {m.id, z.id}
            ),
            20,
            "media to follow the caucus",
            describe,
        )
        # And nothing of it trickles through: no frame of 张三 reaches 李四 over 1.5 s.
        await asyncio.sleep(1.5)
        assert (z.id, "video") not in li.client.received
        assert (z.id, "audio") not in li.client.received
        # Recorder, transcriber and composite all take the joint session's members only (the
        # transcript and the composite are checked from their own output in
        # transcription_e2e/test_caucus_not_transcribed.py; the recording below).
        in_joint = await server.app[LIVE].hearing_room_members(hid)
        assert set(in_joint) == {li_p.id}
        caucus_started = asyncio.get_running_loop().time()
        await asyncio.sleep(5.0)
        caucus_s = asyncio.get_running_loop().time() - caucus_started

        # The mediator steps back into the joint session: 李四 sees the mediator again and the
        # caucus (still open, 张三 and counsel in it) no longer receives the mediator.
        await mediator.client.call("enter_room", {"room_id": "hearing"})
        await wait_until(
            lambda: li.offered() == {m.id} and zhang.offered() == set(),
            20,
            "the mediator to be back in the joint session",
            describe,
        )
        rooms = await li.client.wait_for_event(
            "rooms_updated", lambda d: d["reason"] == "moved", timeout=10
        )
        assert rooms["rooms"][0]["mediator_present"] is False

        # Closing the caucus brings everyone back together.
        await mediator.client.call("close_caucus", {"room_id": room["id"]})
        await wait_until(
            lambda: all(
                p.offered() == {m.id, z.id, li_p.id} - {p.person.id} for p in peers.values()
            ),
            30,
            "everyone back in the joint session",
            describe,
        )
        closed = await li.client.wait_for_event(
            "rooms_updated", lambda d: d["reason"] == "closed", timeout=10
        )
        assert closed["rooms"] == []

        await mediator.client.call("hearing_action", {"action": "close"})
        await mediator.client.wait_for_event(
            "recording_state", lambda d: d["state"] == "not_recording", timeout=30
        )
    finally:
        for peer in peers.values():
            await peer.stop()

    # The recording: 张三's audio misses the caucus, 李四's does not.
    root = settings.effective_recordings_dir / hid
    (rec_dir,) = [d for d in root.iterdir() if d.is_dir()]
    audio_s: dict[str, float] = defaultdict(float)
    for line in (rec_dir / "manifest.jsonl").read_text().splitlines():
        entry = json.loads(line)
        if entry["type"] != "segment":
            continue
        track = entry["data"]["file"].split("/")[0]
        if "audio" in track:
            audio_s[track.split("-", 2)[2]] += entry["data"]["duration_us"] / 1e6
    assert audio_s[li_p.id] - audio_s[z.id] >= caucus_s - 2.0, dict(audio_s)

    # The audit log: who met whom and for how long, nothing said.
    audit = [e for e in await server.app[STORE].list_audit(hid) if e.event.startswith("caucus")]
    assert [e.event for e in audit] == ["caucus_opened", "caucus_entered", "caucus_closed"]
    assert set(audit[0].data["members"]) == {m.id, z.id, c.id}
    assert audit[0].data["side"] == "applicant" and audit[0].data["timer_minutes"] == 30
    assert audit[2].data["duration_s"] >= 5
    assert set(audit[2].data) == {"room_id", "side", "members", "duration_s"}


async def test_only_the_mediator_opens_a_caucus_and_bad_requests_are_refused(
    server: TestServer, make_client: MakeClient
) -> None:
    hid, people = await _mediation(server)
    mediator = make_client(people["调解员"].token)
    zhang = make_client(people["张三"].token)
    for cl in (mediator, zhang):
        await cl.connect()
        await cl.join()

    async def refused(client: HearingClient, event: str, data: dict[str, object]) -> str:
        with pytest.raises(SignalingError) as info:
            await client.call(event, data)
        return info.value.code

    assert await refused(zhang, "open_caucus", {"side": "applicant"}) == "forbidden"
    # 李四 has not joined: nobody of the respondent side is there.
    assert await refused(mediator, "open_caucus", {"side": "respondent"}) == "nobody_there"
    assert await refused(mediator, "open_caucus", {"side": "nobody"}) == "invalid_field"
    assert await refused(mediator, "open_caucus", {"side": 3}) == "invalid_field"
    assert (
        await refused(mediator, "open_caucus", {"side": "applicant", "timer_minutes": 100000})
        == "invalid_timer"
    )
    assert await refused(mediator, "enter_room", {"room_id": "caucus-99"}) == "not_found"
    assert await refused(mediator, "enter_room", {"room_id": "x" * 1000}) == "invalid_field"
    assert await refused(mediator, "close_caucus", {"room_id": "hearing"}) == "conflict"
    room = (await mediator.call("open_caucus", {"side": "applicant"}))["room"]
    # One caucus per side; a party cannot close it; the waiting room is no place to go.
    assert await refused(mediator, "open_caucus", {"side": "applicant"}) == "nobody_there"
    assert await refused(zhang, "close_caucus", {"room_id": room["id"]}) == "forbidden"
    assert await refused(mediator, "enter_room", {"room_id": "waiting"}) == "conflict"
    # 张三 drops out and comes back: into the caucus, which kept their place.
    await zhang.close()
    zhang2 = make_client(people["张三"].token)
    await zhang2.connect()
    info = await zhang2.join()
    assert info["me"]["room"] == "caucus" and info["me"]["state"] == "in_consultation"
    assert [r["id"] for r in info["rooms"]] == [room["id"]]
    assert (await mediator.call("close_caucus", {"room_id": room["id"]}))["rooms"] == []
    me = await zhang2.wait_for_event("me_updated", lambda d: d["room"] == "hearing")
    assert me["state"] == "in_hearing"
    # A court hearing has no caucus, even for its presiding judge.
    _, court = await make_hearing(server.app, [(Role.JUDGE, "王法官")], state="in_session")
    judge = make_client(court["王法官"].token)
    await judge.connect()
    await judge.join()
    assert await refused(judge, "open_caucus", {"side": "plaintiff"}) == "forbidden"
    assert hid


async def test_caucus_timer_warns_when_it_runs_out(
    server: TestServer, make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, people = await _mediation(server)
    mediator = make_client(people["调解员"].token)
    li = make_client(people["李四"].token)
    for cl in (mediator, li):
        await cl.connect()
        await cl.join()
    room = (await mediator.call("open_caucus", {"side": "respondent", "timer_minutes": 1}))["room"]
    await mediator.call("caucus_timer", {"room_id": room["id"], "minutes": None})
    cleared = await li.wait_for_event("rooms_updated", lambda d: d["reason"] == "timer")
    assert cleared["rooms"][0]["timer_ends_at"] is None
    await mediator.call("caucus_timer", {"room_id": room["id"], "minutes": 1})
    # Rather than wait a minute, the service's clock jumps a minute ahead: the timer rings
    # through its own path.
    monkeypatch.setattr(
        server.app[PRIVATE_ROOMS], "_now", lambda: datetime.now(UTC) + timedelta(seconds=61)
    )
    expired = await li.wait_for_event(
        "rooms_updated", lambda d: d["reason"] == "timer_expired", timeout=10
    )
    assert expired["rooms"][0]["id"] == room["id"] and expired["rooms"][0]["timer_expired"]
