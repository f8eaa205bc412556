"""A staff request that reaches a node not serving the hearing (a load balancer picks any
node) is relayed to the node that serves it, so the hearing's clients hear of it and its
live state follows; it is answered where it arrived when nobody serves the hearing or its
node cannot be reached."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer

from cluster import NodeInfo
from hearing_server.api.forwarding import FORWARDED_BY
from hearing_server.core.participant import Role
from hearing_server.keys import HEARINGS, PLACEMENT
from signaling.client import HearingClient
from support.cluster import NODE_LEASE_S, free_port
from support.hearing import make_hearing

PAUSE = "/api/me/hearing/transitions"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _url(node: TestServer) -> str:
    return f"http://127.0.0.1:{node.port}"


async def _post(node: TestServer, path: str, body: Any, headers: dict[str, str]) -> Any:
    async with aiohttp.ClientSession() as http:
        resp = await http.post(f"{_url(node)}{path}", json=body, headers=headers)
        assert resp.status in (200, 201), await resp.text()
        return await resp.json()


async def test_a_staff_request_to_the_other_node_reaches_the_hearings_clients(
    nodes: dict[str, TestServer],
    clients: Callable[[TestServer, str], HearingClient],
    admin_headers: dict[str, str],
) -> None:
    a, b = nodes["a"], nodes["b"]
    hid, people = await make_hearing(b.app, [(Role.JUDGE, "王法官")], state="in_session")
    judge = clients(a, people["王法官"].token)
    await judge.connect()
    await judge.join()
    assert a.app[PLACEMENT].owned() == {hid}

    # The judge's console pauses the hearing through b: a serves it, so a handles it and
    # pushes it to the judge's connection.
    seen = len(judge.events)
    answer = await _post(b, PAUSE, {"action": "pause"}, _bearer(people["王法官"].token))
    assert answer["state"] == "paused"
    await judge.wait_for_event("hearing_state", lambda d: d["state"] == "paused", start=seen)

    # A new participant added through b (a body streamed through) is announced by a.
    added = await _post(
        b,
        f"/api/hearings/{hid}/participants",
        {"role": "party", "display_name": "张三", "side": "plaintiff"},
        admin_headers,
    )
    update = await judge.wait_for_event(
        "participant_updated", lambda d: d["id"] == added["id"], start=seen
    )
    assert update["display_name"] == "张三"
    # ... and a route naming the participant, not the hearing, goes to a too.
    link = await _post(b, f"/api/participants/{added['id']}/links", None, admin_headers)
    assert link["token"]
    # The participant's own API, through b, is answered as a would.
    async with aiohttp.ClientSession() as http:
        resp = await http.get(f"{_url(b)}/api/me", headers=_bearer(link["token"]))
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["node_url"] == _url(a)
    # Bad input relayed is refused by a exactly as b would refuse it.
    async with aiohttp.ClientSession() as http:
        resp = await http.post(
            f"{_url(b)}{PAUSE}",
            data=b"{not json",
            headers={**_bearer(people["王法官"].token), "Content-Type": "application/json"},
        )
        assert resp.status == 400
        assert (await resp.json())["code"] == "invalid_json"
    entries = await b.app[HEARINGS].store.list_audit(hid)
    paused = [
        e for e in entries if e.event == "hearing_state_changed" and e.data.get("to") == "paused"
    ]
    assert len(paused) == 1, [(e.event, e.data) for e in entries]


async def test_a_relayed_request_is_never_relayed_again(
    nodes: dict[str, TestServer], clients: Callable[[TestServer, str], HearingClient]
) -> None:
    a, b = nodes["a"], nodes["b"]
    hid, people = await make_hearing(b.app, [(Role.JUDGE, "王法官")], state="in_session")
    judge = clients(a, people["王法官"].token)
    await judge.connect()
    await judge.join()
    seen = len(judge.events)
    # Marked as relayed already: b answers it itself (the store changes; a's judge is not told).
    await _post(
        b, PAUSE, {"action": "pause"}, {**_bearer(people["王法官"].token), FORWARDED_BY: "a"}
    )
    assert (await b.app[HEARINGS].store.get_hearing(hid)).state.value == "paused"
    assert not [e for e, d in judge.events[seen:] if e == "hearing_state"]


async def test_an_unreachable_node_leaves_the_request_to_the_node_it_reached(
    nodes: dict[str, TestServer], redis_url: str
) -> None:
    b = nodes["b"]
    hid, people = await make_hearing(b.app, [(Role.JUDGE, "王法官")], state="in_session")
    # A node "c" holds the hearing's lease, its record still alive, but nothing listens at
    # its address (it has just died).
    r = aioredis.Redis.from_url(redis_url)
    try:
        gone = NodeInfo("c", f"http://127.0.0.1:{free_port()}")
        await r.set("hearing-server:node:c", gone.to_json(), px=int(NODE_LEASE_S * 5000))
        await r.set(f"hearing-server:owner:{hid}", "c", px=int(NODE_LEASE_S * 5000))
    finally:
        await r.aclose()
    answer = await _post(b, PAUSE, {"action": "pause"}, _bearer(people["王法官"].token))
    assert answer["state"] == "paused"
