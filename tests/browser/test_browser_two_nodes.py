"""Two server nodes (one PostgreSQL store, one Redis): a party whose link opens on the node
that does not serve the hearing is moved to the one that does before anything else, walks
in there as usual, and the judge (on that node) receives the party's camera."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aioice.ice
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from hearing_server.app import create_app
from hearing_server.config import Settings
from hearing_server.core.participant import Role
from hearing_server.keys import PLACEMENT
from signaling.client import HearingClient
from support.cluster import free_port, in_process_nodes, node_settings, receives_video
from support.hearing import make_hearing
from support.journey import walk_in
from support.media import ColourVideoTrack, ToneAudioTrack

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test's own aiortc client gathers host candidates on 127.0.0.1 only."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


@pytest.fixture
async def nodes(
    redis_url: str, postgres_url: str, aiohttp_server: Any, settings: Settings, tmp_path: Path
) -> dict[str, TestServer]:
    return await in_process_nodes(
        aiohttp_server,
        settings,
        redis_url=redis_url,
        postgres_url=postgres_url,
        shared=tmp_path,
        own_public_url=True,
    )


async def test_a_party_opening_the_other_nodes_link_is_moved_and_walks_in(
    nodes: dict[str, TestServer], launch: Any
) -> None:
    a, b = nodes["a"], nodes["b"]
    a_url, b_url = (f"http://127.0.0.1:{n.port}" for n in (a, b))
    hid, people = await make_hearing(
        a.app, [(Role.JUDGE, "王法官"), (Role.PARTY, "张三")], state="in_session"
    )
    judge = HearingClient(a_url, people["王法官"].token)
    try:
        await judge.connect()
        await judge.join()
        await judge.publish([ColourVideoTrack((220, 40, 40)), ToneAudioTrack(440.0)])
        assert a.app[PLACEMENT].owned() == {hid}

        party = await launch("party", "party", width=390, height=844, mobile=True)
        page = party.page
        # the link as printed for node b; the page finds the hearing on a and moves there
        await walk_in(page, b_url, people["张三"].token)
        assert page.url.startswith(a_url + "/join"), page.url
        await expect(page.locator("[data-testid='hearing-room']")).to_be_visible()
        assert b.app[PLACEMENT].owned() == frozenset()

        await receives_video(judge, people["张三"].id, "the judge to receive the party's camera")
    finally:
        await judge.close()


async def test_a_party_whose_node_stops_is_back_in_the_hearing_on_another(
    redis_url: str,
    postgres_url: str,
    aiohttp_server: Any,
    settings: Settings,
    tmp_path: Path,
    launch: Any,
) -> None:
    # the entry (what join links point at) is node b; the hearing is placed on a
    ports = {name: free_port() for name in ("a", "b")}
    entry = f"http://127.0.0.1:{ports['b']}"
    servers: dict[str, TestServer] = {}
    for name in ("a", "b"):
        node = node_settings(
            settings,
            name,
            ports[name],
            redis_url=redis_url,
            postgres_url=postgres_url,
            shared=tmp_path,
            public_url=entry,
            hearing_lease_seconds=2.0,
        )
        servers[name] = await aiohttp_server(create_app(node), host="127.0.0.1", port=ports[name])
    a, b = servers["a"], servers["b"]
    a_url = f"http://127.0.0.1:{a.port}"
    hid, people = await make_hearing(
        a.app, [(Role.JUDGE, "王法官"), (Role.PARTY, "张三")], state="in_session"
    )
    first = HearingClient(a_url, people["王法官"].token)
    await first.connect()  # the judge's connection places the hearing on a
    await first.join()
    await first.close()

    party = await launch("party", "party", width=390, height=844, mobile=True)
    page = party.page
    await walk_in(page, entry, people["张三"].token)
    assert page.url.startswith(a_url + "/join"), page.url

    await a.close()  # node a stops: its hearings' leases are released
    # after the lease and a margin (7 s here), the page goes back to the entry, which sends
    # it on to the hearing's new node (the entry itself, b): straight back into the hearing
    # room, without the checks before it, which it passed on a
    await page.wait_for_url(entry + "/join*", timeout=30_000)
    await expect(page.locator("[data-testid='hearing-room']")).to_be_visible(timeout=30_000)
    assert b.app[PLACEMENT].owned() == {hid}

    judge = HearingClient(entry, people["王法官"].token)
    try:
        await judge.connect()
        assert judge.base_url == entry
        await judge.join()
        await judge.publish([ColourVideoTrack((220, 40, 40)), ToneAudioTrack(440.0)])
        await receives_video(judge, people["张三"].id, "the judge on b to receive the party")
    finally:
        await judge.close()
