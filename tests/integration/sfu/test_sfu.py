"""Participants see and hear each other through the server, which never transcodes.

Real server, real socket.io signaling, real aiortc peers on loopback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from aiohttp.test_utils import TestServer

from hearing_server.core.participant import Role
from hearing_server.keys import MEDIA
from signaling.client import HearingClient, SignalingError
from support.hearing import Person, make_hearing
from support.media import (
    ColourVideoTrack,
    ToneAudioTrack,
    TrackConsumer,
    close_colour,
)
from support.waiting import wait_until

MakeClient = Callable[..., HearingClient]

COLOUR = {"王法官": (220, 40, 40), "张三": (40, 200, 40), "李四": (40, 40, 220)}
TONE = {"王法官": 440.0, "张三": 700.0, "李四": 1100.0}
PEOPLE = [(Role.JUDGE, "王法官"), (Role.PARTY, "张三"), (Role.PARTY, "李四")]


class Participant:
    """A test participant: a HearingClient publishing its colour and tone, consuming all."""

    def __init__(self, person: Person, client: HearingClient) -> None:
        self.person = person
        self.client = client
        self.consumers: dict[tuple[str, str], TrackConsumer] = {}

    async def start(self, *, publish: bool = True) -> dict[str, object]:
        await self.client.connect()
        info = await self.client.join()
        if publish:
            await self.client.publish(
                [ColourVideoTrack(COLOUR[self.person.name]), ToneAudioTrack(TONE[self.person.name])]
            )
        return info

    def consume_new(self) -> None:
        for key, received in self.client.received.items():
            if key not in self.consumers:
                self.consumers[key] = TrackConsumer(received.track)

    def frames(self, publisher: Person, kind: str) -> int:
        self.consume_new()
        c = self.consumers.get((publisher.id, kind))
        return c.state.frames if c else 0

    def sees(self, publisher: Person) -> bool:
        self.consume_new()
        c = self.consumers.get((publisher.id, "video"))
        return (
            c is not None
            and c.state.frames >= 5
            and close_colour(c.state.colour, COLOUR[publisher.name])
        )

    def hears(self, publisher: Person) -> bool:
        self.consume_new()
        c = self.consumers.get((publisher.id, "audio"))
        return c is not None and c.state.dominant_tone(list(TONE.values())) == TONE[publisher.name]

    async def stop(self) -> None:
        for c in self.consumers.values():
            await c.stop()


async def _participants(
    server: TestServer, make_client: MakeClient, *, state: str = "in_session", **kw: object
) -> dict[str, Participant]:
    _, people = await make_hearing(server.app, PEOPLE, state=state)
    return {name: Participant(p, make_client(p.token, **kw)) for name, p in people.items()}


def _describe(ps: dict[str, Participant]) -> Callable[[], str]:
    def describe() -> str:
        return "; ".join(
            f"{name}: "
            + ", ".join(
                f"{key[1]} from {key[0][:6]}: {c.state.frames} frames colour {c.state.colour}"
                for key, c in p.consumers.items()
            )
            for name, p in ps.items()
        )

    return describe


@pytest.mark.parametrize("codec", [None, "video/H264"], ids=["vp8", "h264"])
async def test_three_participants_see_and_hear_each_other(
    server: TestServer, make_client: MakeClient, codec: str | None
) -> None:
    ps = await _participants(server, make_client, video_codec=codec)
    try:
        for p in ps.values():
            await p.start()
        for name, p in ps.items():
            for other_name, other in ps.items():
                if other_name == name:
                    continue
                await wait_until(
                    lambda p=p, o=other: p.sees(o.person),
                    20,
                    f"{name} to see {other_name}",
                    _describe(ps),
                )
                await wait_until(
                    lambda p=p, o=other: p.hears(o.person),
                    20,
                    f"{name} to hear {other_name}",
                    _describe(ps),
                )
        # Each participant receives exactly the other two's audio and video.
        for name, p in ps.items():
            assert set(p.client.received) == {
                (o.person.id, kind)
                for n, o in ps.items()
                if n != name
                for kind in ("audio", "video")
            }
        stats = server.app[MEDIA].stats()
        assert stats["forwarded_packets"] > 0
        assert stats["decoded_frames"] == 0 and stats["encoded_frames"] == 0, stats
    finally:
        for p in ps.values():
            await p.stop()


async def test_waiting_receives_nothing_until_admitted(
    server: TestServer, make_client: MakeClient
) -> None:
    ps = await _participants(server, make_client, state="open")
    judge, zhang, li = ps["王法官"], ps["张三"], ps["李四"]
    try:
        await judge.start()
        await zhang.start()
        await li.start()
        await judge.client.call("hearing_action", {"action": "start"})
        await asyncio.sleep(2.0)
        # Waiting: nothing arrives, and nobody in the hearing room receives them either.
        assert zhang.client.received == {} and li.client.received == {}
        assert judge.client.received == {}
        await judge.client.call("admit", {"participant_id": zhang.person.id})
        await wait_until(
            lambda: zhang.sees(judge.person) and judge.sees(zhang.person),
            20,
            "judge and 张三 to see each other",
            _describe(ps),
        )
        assert li.client.received == {}
        await judge.client.call("admit", {"participant_id": li.person.id})
        await wait_until(
            lambda: li.sees(judge.person) and li.sees(zhang.person) and zhang.sees(li.person),
            20,
            "everyone after admitting 李四",
            _describe(ps),
        )
        # Returned to the waiting room: their media stops both ways.
        await judge.client.call("return_to_waiting", {"participant_id": li.person.id})
        await wait_until(
            lambda: (
                (judge.person.id, "video") not in li.client.received
                and (li.person.id, "video") not in judge.client.received
            ),
            15,
            "李四's media to stop",
            _describe(ps),
        )
    finally:
        for p in ps.values():
            await p.stop()


async def test_muted_audio_is_not_forwarded(server: TestServer, make_client: MakeClient) -> None:
    ps = await _participants(server, make_client)
    judge, zhang = ps["王法官"], ps["张三"]
    try:
        await judge.start()
        await zhang.start()
        await wait_until(lambda: judge.hears(zhang.person), 20, "judge to hear 张三", _describe(ps))
        await judge.client.call(
            "mute", {"participant_id": zhang.person.id, "muted": True, "lock": True}
        )
        await asyncio.sleep(0.5)
        before = judge.frames(zhang.person, "audio")
        await asyncio.sleep(1.5)
        assert judge.frames(zhang.person, "audio") - before <= 3
        # Video keeps flowing; the track is still there.
        v = judge.frames(zhang.person, "video")
        await wait_until(lambda: judge.frames(zhang.person, "video") > v + 10, 10, "video")
        with pytest.raises(SignalingError, match="mute_locked"):
            await zhang.client.call("mute", {"participant_id": zhang.person.id, "muted": False})
        await judge.client.call("mute", {"participant_id": zhang.person.id, "muted": False})
        a = judge.frames(zhang.person, "audio")
        await wait_until(
            lambda: judge.frames(zhang.person, "audio") > a + 20, 10, "audio to resume"
        )
    finally:
        for p in ps.values():
            await p.stop()


async def test_leaving_removes_tracks_and_newcomer_gets_all(
    server: TestServer, make_client: MakeClient
) -> None:
    ps = await _participants(server, make_client)
    judge, zhang, li = ps["王法官"], ps["张三"], ps["李四"]
    try:
        await judge.start()
        await zhang.start()
        await wait_until(lambda: judge.sees(zhang.person), 20, "judge to see 张三", _describe(ps))
        # A newcomer receives every current track.
        await li.start()
        await wait_until(
            lambda: li.sees(judge.person) and li.sees(zhang.person),
            20,
            "李四 to see everyone",
            _describe(ps),
        )
        await zhang.client.call("leave")
        await wait_until(
            lambda: all(
                (zhang.person.id, k) not in p.client.received
                for p in (judge, li)
                for k in ("audio", "video")
            ),
            15,
            "张三's tracks to leave every subscriber",
            _describe(ps),
        )
        assert li.sees(judge.person)
    finally:
        for p in ps.values():
            await p.stop()


async def test_malformed_sdp_gets_error_and_others_keep_going(
    server: TestServer, make_client: MakeClient
) -> None:
    ps = await _participants(server, make_client)
    judge, zhang, li = ps["王法官"], ps["张三"], ps["李四"]
    try:
        await judge.start()
        await zhang.start()
        await li.start(publish=False)
        for bad in (
            "v=0\r\nthis is not sdp",
            "",
            "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n",
        ):
            with pytest.raises(SignalingError) as info:
                await li.client.call("publish_offer", {"type": "offer", "sdp": bad})
            assert info.value.code in ("invalid_sdp", "unsupported_codec", "invalid_field")
        await li.client.wait_for_event("error", lambda d: d["event"] == "publish_offer")
        with pytest.raises(SignalingError):
            await li.client.call(
                "subscribe_answer", {"type": "answer", "sdp": "garbage", "revision": 99}
            )
        await wait_until(
            lambda: judge.sees(zhang.person) and zhang.sees(judge.person),
            20,
            "the others to keep seeing each other",
            _describe(ps),
        )
        await wait_until(lambda: li.sees(judge.person), 20, "李四 to still receive")
    finally:
        for p in ps.values():
            await p.stop()
