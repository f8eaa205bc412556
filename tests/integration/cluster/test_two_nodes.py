"""Two server nodes on one PostgreSQL store and one Redis: a hearing is served by exactly one
of them, a client that reaches the other is sent to it (``moved``) and meets the others
there, media included; the node that serves nobody any more gives the hearing up, and a
node that loses a hearing's lease disconnects its clients, who come back to the new owner."""

from __future__ import annotations

from collections.abc import Callable

import redis.asyncio as aioredis
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from hearing_server.core.participant import Role
from hearing_server.keys import PLACEMENT
from signaling.client import HearingClient
from support.cluster import NODE_LEASE_S
from support.hearing import make_hearing
from support.media import ColourVideoTrack, ToneAudioTrack, TrackConsumer
from support.waiting import wait_until

LEASE = NODE_LEASE_S


def _url(node: TestServer) -> str:
    return f"http://127.0.0.1:{node.port}"


async def test_a_client_of_the_other_node_is_sent_to_the_hearings_node(
    nodes: dict[str, TestServer], clients: Callable[[TestServer, str], HearingClient]
) -> None:
    a, b = nodes["a"], nodes["b"]
    hid, people = await make_hearing(
        b.app, [(Role.JUDGE, "王法官"), (Role.PARTY, "张三")], state="in_session"
    )
    judge = clients(a, people["王法官"].token)
    await judge.connect()  # nobody serves it yet: the calm node that was asked takes it
    assert judge.base_url == _url(a)
    assert a.app[PLACEMENT].owned() == {hid} and b.app[PLACEMENT].owned() == frozenset()

    party = clients(b, people["张三"].token)
    await party.connect()  # b sends the party on to a
    assert party.base_url == _url(a)
    assert b.app[PLACEMENT].owned() == frozenset()

    for c, colour, tone in ((judge, (220, 40, 40), 440.0), (party, (40, 200, 40), 700.0)):
        await c.join()
        await c.publish([ColourVideoTrack(colour), ToneAudioTrack(tone)])
    consumers: dict[tuple[str, str, str], TrackConsumer] = {}

    def frames(who: HearingClient, of: str, kind: str) -> int:
        for (pid, k), received in who.received.items():
            if (str(id(who)), pid, k) not in consumers:
                consumers[str(id(who)), pid, k] = TrackConsumer(received.track)
        c = consumers.get((str(id(who)), of, kind))
        return c.state.frames if c else 0

    judge_id, party_id = people["王法官"].id, people["张三"].id
    for kind in ("video", "audio"):
        await wait_until(lambda k=kind: frames(judge, party_id, k) >= 10, 20, f"judge gets {kind}")
        await wait_until(lambda k=kind: frames(party, judge_id, k) >= 10, 20, f"party gets {kind}")
    for c in consumers.values():
        await c.stop()


async def test_a_lost_lease_sends_the_hearings_clients_to_its_new_node(
    nodes: dict[str, TestServer],
    clients: Callable[[TestServer, str], HearingClient],
    redis_url: str,
) -> None:
    a, b = nodes["a"], nodes["b"]
    hid, people = await make_hearing(a.app, [(Role.JUDGE, "王法官")], state="in_session")
    judge = clients(a, people["王法官"].token)
    await judge.connect()
    await judge.join()
    assert a.app[PLACEMENT].owned() == {hid}

    # a's lease is taken from it (as when a stalls for longer than a lease): b now serves
    # the hearing, and a, at its next renewal, disconnects the judge
    r = aioredis.Redis.from_url(redis_url)
    try:
        await r.set(f"hearing-server:owner:{hid}", "b", px=int(LEASE * 1000))
        await r.sadd("hearing-server:served:b", hid)
    finally:
        await r.aclose()
    await wait_until(lambda: not judge.connected, LEASE * 3, "a to disconnect the judge")
    assert hid not in a.app[PLACEMENT].owned()
    await judge.connect()  # to a, which sends the judge on to b
    assert judge.base_url == _url(b)
    await judge.join()
    assert b.app[PLACEMENT].owned() == {hid}


async def test_a_drained_node_keeps_its_hearings_and_sends_new_ones_elsewhere(
    nodes: dict[str, TestServer],
    clients: Callable[[TestServer, str], HearingClient],
    admin_headers: dict[str, str],
) -> None:
    a, b = nodes["a"], nodes["b"]
    old, people = await make_hearing(a.app, [(Role.JUDGE, "王法官")], state="in_session")
    new, others = await make_hearing(a.app, [(Role.JUDGE, "李法官")], state="in_session")
    judge = clients(a, people["王法官"].token)
    await judge.connect()
    await judge.join()

    async with ClientSession() as http:
        refused = await http.post(f"{_url(a)}/api/node/drain")
        assert refused.status == 401
        drained = await http.post(f"{_url(a)}/api/node/drain", headers=admin_headers)
        assert drained.status == 200
        body = await drained.json()
        assert body["node"]["draining"] is True and body["hearings"] == [old]
        ready = await http.get(f"{_url(a)}/readyz")
        assert ready.status == 503 and (await ready.json())["status"] == "draining"
        assert (await http.get(f"{_url(b)}/readyz")).status == 200

        # the hearing served on a goes on there; a new one asked of a goes to b
        assert judge.connected
        other = clients(a, others["李法官"].token)
        await other.connect()
        assert other.base_url == _url(b)
        assert b.app[PLACEMENT].owned() == {new}

        status = await (await http.get(f"{_url(b)}/api/node", headers=admin_headers)).json()
        assert status["node"]["id"] == "b" and status["hearings"] == [new]
        seen = {n["id"]: n for n in status["nodes"]}
        assert set(seen) == {"a", "b"} and seen["a"]["draining"] is True
