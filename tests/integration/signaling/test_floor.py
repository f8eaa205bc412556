"""The floor in a court hearing (issue 14, items 4 and 5) through the real server: hands are
queued in the order they went up, the judge gives one the floor (hand down, microphone open,
pinned on the courtroom display) or lowers it; observers watch and listen but the server
refuses their offers, and they are never a tile, a recorded or a transcribed voice."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import pytest
from aiohttp.test_utils import TestServer

from hearing_server.core.actors import Actor
from hearing_server.core.participant import PartySide, Role
from hearing_server.keys import HEARINGS, LIVE
from signaling.client import HearingClient, SignalingError
from support.hearing import STAFF, Person, make_hearing
from support.media import ColourVideoTrack, ToneAudioTrack
from support.waiting import wait_until

MakeClient = Callable[..., HearingClient]


async def _court(server: TestServer) -> tuple[str, dict[str, Person]]:
    hid, people = await make_hearing(
        server.app,
        [(Role.JUDGE, "王法官"), (Role.CLERK, "赵书记员"), (Role.PARTY, "张三")],
        state="in_session",
    )
    service = server.app[HEARINGS]
    for name, role, kw in (
        ("李四", Role.PARTY, {"side": PartySide.DEFENDANT}),
        ("王五", Role.PARTY, {"side": PartySide.THIRD_PARTY}),
        ("旁听者", Role.OBSERVER, {}),
    ):
        p = await service.add_participant(STAFF, hid, role=role, display_name=name, **kw)  # type: ignore[arg-type]
        _, token, _ = await service.issue_link(STAFF, p.id)
        people[name] = Person(p.id, role, name, token)
    return hid, people


async def refused(client: HearingClient, event: str, data: dict[str, object]) -> str:
    with pytest.raises(SignalingError) as info:
        await client.call(event, data)
    return info.value.code


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_hands_queue_in_order_and_the_judge_gives_the_floor(
    server: TestServer, make_client: MakeClient
) -> None:
    hid, people = await _court(server)
    clients = {name: make_client(p.token) for name, p in people.items()}
    for client in clients.values():
        await client.connect()
        await client.join()
    judge, clerk = clients["王法官"], clients["赵书记员"]
    zhang, li, wang = clients["张三"], clients["李四"], clients["王五"]
    pid = {name: p.id for name, p in people.items()}

    raised: dict[str, str] = {}
    for name, client in (("李四", li), ("张三", zhang), ("王五", wang)):
        reply = await client.call("raise_hand", {"raised": True})
        raised[name] = reply["participant"]["hand_raised_at"]
    assert _at(raised["李四"]) <= _at(raised["张三"]) <= _at(raised["王五"])
    # Raising again keeps the place in the queue (no flooding, no jumping ahead).
    again = await li.call("raise_hand", {"raised": True})
    assert again["participant"]["hand_raised_at"] == raised["李四"]
    # The judge sees the queue: every raised hand with the moment it went up.
    await judge.wait_for_event(
        "participant_updated", lambda d: d["id"] == pid["王五"] and d["hand_raised"]
    )
    # Observers have no hand to raise; the clerk gives nobody the floor.
    assert await refused(clients["旁听者"], "raise_hand", {"raised": True}) == "forbidden"
    assert await refused(clerk, "grant_floor", {"participant_id": pid["李四"]}) == "forbidden"
    assert await refused(zhang, "lower_hand", {"participant_id": pid["李四"]}) == "forbidden"
    assert await refused(judge, "grant_floor", {"participant_id": "nobody"}) == "not_found"

    # 李四 was muted and locked; the floor opens the microphone and pins them on the display.
    await judge.call("mute", {"participant_id": pid["李四"], "muted": True, "lock": True})
    granted = await judge.call("grant_floor", {"participant_id": pid["李四"]})
    me = granted["participant"]
    assert (me["hand_raised"], me["hand_raised_at"], me["audio_muted"], me["mute_locked"]) == (
        False,
        None,
        False,
        False,
    )
    state = await judge.wait_for_event("hearing_state", lambda d: d.get("spotlight") == pid["李四"])
    assert state["layout"] == "judge_focus"
    await li.wait_for_event("me_updated", lambda d: not d["hand_raised"] and not d["audio_muted"])
    # The judge lowers 张三's hand without giving the floor; a lowered hand cannot be lowered.
    lowered = await judge.call("lower_hand", {"participant_id": pid["张三"]})
    assert lowered["participant"]["hand_raised"] is False
    assert await refused(judge, "lower_hand", {"participant_id": pid["张三"]}) == (
        "hand_not_raised"
    )
    # Pinning: an observer is never shown, a stranger is not found, null unpins.
    assert await refused(judge, "spotlight", {"participant_id": pid["旁听者"]}) == "not_shown"
    assert await refused(judge, "spotlight", {"participant_id": "nobody"}) == "not_found"
    assert await refused(judge, "spotlight", {}) == "missing_field"
    assert await refused(clerk, "spotlight", {"participant_id": None}) == "forbidden"
    await judge.call("spotlight", {"participant_id": pid["王五"]})
    cleared = await judge.call("spotlight", {"participant_id": None})
    assert cleared["hearing"]["spotlight"] is None

    log = await server.app[HEARINGS].audit_log(Actor.staff("t"), hid)
    events = [(e.event, e.data.get("participant_id")) for e in log]
    assert ("floor_granted", pid["李四"]) in events
    assert ("hand_lowered", pid["张三"]) in events
    assert [d for e, d in events if e == "spotlight_set"] == [pid["李四"], pid["王五"], None]
    # 李四's second raise wrote nothing.
    assert [d for e, d in events if e == "hand_raised"] == [pid["李四"], pid["张三"], pid["王五"]]


async def test_an_observer_watches_and_listens_but_never_publishes(
    server: TestServer, make_client: MakeClient
) -> None:
    hid, people = await _court(server)
    judge, observer = make_client(people["王法官"].token), make_client(people["旁听者"].token)
    for client in (judge, observer):
        await client.connect()
    await judge.join()
    info = await observer.join()
    assert info["me"]["state"] == "waiting"  # admitted individually
    assert "speak" not in info["allowed_actions"]
    await judge.call("admit", {"participant_id": people["旁听者"].id})
    await judge.publish([ColourVideoTrack((40, 200, 40)), ToneAudioTrack(440.0)])

    # The server refuses the observer's offer: nothing of theirs is forwarded to anyone.
    with pytest.raises(SignalingError) as info_err:
        await observer.publish([ColourVideoTrack((200, 40, 40)), ToneAudioTrack(500.0)])
    assert info_err.value.code == "forbidden"
    # ... while they receive the judge's picture and sound, as real RTP.
    await wait_until(
        lambda: (
            {kind for p, kind in observer.received if p == people["王法官"].id}
            >= {"video", "audio"}
        ),
        30,
        "the observer receives the judge",
        lambda: str(observer.received),
    )
    video = await observer.wait_for_track(people["王法官"].id, "video")
    frame = await video.recv()
    assert frame.width > 0
    # In the hearing room (captions reach them), yet not among those seen, heard, recorded
    # and transcribed.
    members = await server.app[LIVE].hearing_room_members(hid)
    speakers = await server.app[LIVE].hearing_room_speakers(hid)
    assert people["旁听者"].id in members and people["旁听者"].id not in speakers
    assert people["王法官"].id in speakers
    assert not [pid for pid, _ in judge.received if pid == people["旁听者"].id]


async def test_changes_to_one_person_at_the_same_moment_are_all_kept(
    server: TestServer, make_client: MakeClient
) -> None:
    """A hand going up while the judge mutes the same person and their phone reconnects: each
    change is stored and the last announcement of them carries all of them (a stale read
    written back whole used to drop the raised hand)."""
    hid, people = await _court(server)
    live = server.app[LIVE]
    judge = Actor(id=people["王法官"].id, role=Role.JUDGE, hearing_id=hid)
    judge_client = make_client(people["王法官"].token)
    await judge_client.connect()
    await judge_client.join()
    pid = people["张三"].id

    def last_announced() -> dict[str, object]:
        # The last announcement of them is the stored record (announced in write order).
        mine = [d for e, d in judge_client.events if e == "participant_updated"]
        return [d for d in mine if d["id"] == pid][-1]

    for round_ in range(5):
        zhang = make_client(people["张三"].token)
        await zhang.connect()
        await zhang.join()
        party = Actor(id=people["张三"].id, role=Role.PARTY, hearing_id=hid)
        await asyncio.gather(
            live.raise_hand(party, hid, True),
            live.set_mute(judge, hid, party.id, muted=True),
            live.join(hid, party.id, f"again-{round_}"),
        )
        stored = await server.app[HEARINGS].store.get_participant(party.id)
        assert stored.hand_raised and stored.audio_muted, round_
        await wait_until(lambda: last_announced()["audio_muted"] is True)
        assert last_announced()["hand_raised"] is True, round_
        await live.raise_hand(party, hid, False)
        await live.set_mute(judge, hid, party.id, muted=False)
        await zhang.close()
