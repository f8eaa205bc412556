"""TURN through a real coturn: the server's short-lived credentials, relay-only clients.

coturn (Debian ``coturn``) runs on 127.0.0.1 inside the test's network namespace with the
TURN REST API scheme (``use-auth-secret``) and the same secret as the server
(tests/support/turn.py). A client that may only use relay candidates
(``iceTransportPolicy: relay``) joins a real server with the credentials from its ``join``
answer, publishes, and receives the other's media: all of its media crosses coturn.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from aioice import stun
from aioice.turn import TurnClientUdpProtocol
from aiortc import RTCPeerConnection

from hearing_server.auth.turn import turn_credential
from hearing_server.config import Settings
from hearing_server.core.participant import Role
from signaling.client import HearingClient
from support.hearing import make_hearing
from support.media import ColourVideoTrack, ToneAudioTrack, TrackConsumer, close_colour
from support.turn import TurnServer, start_or_skip
from support.waiting import wait_until

SECRET = "turn-test-secret-of-at-least-32-characters"
COLOUR = {"王法官": (220, 40, 40), "张三": (40, 200, 40)}
TONE = {"王法官": 440.0, "张三": 700.0}
RELAY_PORTS = range(40000, 41000)  # tests/support/turn.py: --min-port/--max-port

MakeClient = Callable[..., HearingClient]


@pytest.fixture
def turn() -> Iterator[TurnServer]:
    server = start_or_skip(SECRET)
    yield server
    server.stop()


@pytest.fixture
def turn_transport() -> str:
    return "udp"


@pytest.fixture
def settings(
    settings: Settings, turn: TurnServer, turn_transport: str, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    if turn_transport == "tls":
        # aioice verifies the TURN server's certificate against the default trust store,
        # which OpenSSL reads from SSL_CERT_FILE when it is set
        monkeypatch.setenv("SSL_CERT_FILE", str(turn.certificate))
    urls = [turn.url(turn_transport)]
    return dataclasses.replace(settings, turn_urls=urls, turn_secret=SECRET)


def _selected_pair(pc: RTCPeerConnection | None) -> Any:
    """The candidate pair aioice nominated for ``pc`` (max-bundle: one transport)."""
    if pc is None:
        return None
    for transceiver in pc.getTransceivers():
        connection = transceiver.sender.transport.transport._connection
        if connection._nominated:
            return connection._nominated[1]
    return None


class Watcher:
    """Decodes every track a client receives; tells whose colour and tone arrive."""

    def __init__(self, client: HearingClient) -> None:
        self.client = client
        self.consumers: dict[tuple[str, str], TrackConsumer] = {}

    def _sync(self) -> None:
        for key, received in self.client.received.items():
            if key not in self.consumers:
                self.consumers[key] = TrackConsumer(received.track)

    def sees(self, pid: str, name: str) -> bool:
        self._sync()
        c = self.consumers.get((pid, "video"))
        return c is not None and c.state.frames >= 10 and close_colour(c.state.colour, COLOUR[name])

    def hears(self, pid: str, name: str) -> bool:
        self._sync()
        c = self.consumers.get((pid, "audio"))
        return c is not None and c.state.dominant_tone(list(TONE.values())) == TONE[name]

    def __repr__(self) -> str:
        return repr({k: (c.state.frames, c.state.colour) for k, c in self.consumers.items()})

    async def stop(self) -> None:
        for c in self.consumers.values():
            await c.stop()


# TCP: for networks that block UDP (aioice speaks TURN over TCP to coturn, which relays UDP);
# TLS (turns:): for networks that let only HTTPS out
@pytest.mark.parametrize("turn_transport", ["udp", "tcp", "tls"])
async def test_relay_only_client_publishes_and_receives_through_coturn(
    server: TestServer, make_client: MakeClient, turn: TurnServer, turn_transport: str
) -> None:
    _, people = await make_hearing(
        server.app, [(Role.JUDGE, "王法官"), (Role.PARTY, "张三")], state="in_session"
    )
    judge, party = people["王法官"], people["张三"]
    relayed = make_client(judge.token, relay_only=True)
    direct = make_client(party.token)
    watchers = [Watcher(relayed), Watcher(direct)]
    try:
        for client, person in ((relayed, judge), (direct, party)):
            await client.connect()
            info = await client.join()
            # The join answer carries this participant's TURN credentials, valid for an hour.
            (ice,) = info["ice_servers"]
            expiry, _, user = ice["username"].partition(":")
            assert ice["urls"] == [turn.url(turn_transport)] and user == person.id
            assert 3500 < int(expiry) - time.time() <= 3600
            assert ice["credential"] == turn_credential(SECRET, person.id, int(expiry))[1]
            await client.publish(
                [ColourVideoTrack(COLOUR[person.name]), ToneAudioTrack(TONE[person.name])]
            )
        seen_by_relayed, seen_by_direct = watchers
        await wait_until(
            lambda: (
                seen_by_relayed.sees(party.id, party.name)
                and seen_by_relayed.hears(party.id, party.name)
            ),
            30,
            "the relay-only judge to see and hear the party",
            lambda: f"{seen_by_relayed!r}; coturn log: {turn.log_tail()}",
        )
        await wait_until(
            lambda: (
                seen_by_direct.sees(judge.id, judge.name)
                and seen_by_direct.hears(judge.id, judge.name)
            ),
            30,
            "the party to see and hear the relay-only judge",
            lambda: f"{seen_by_direct!r}; coturn log: {turn.log_tail()}",
        )
        # Both of the judge's connections run on a relay candidate of coturn's; the party's
        # run host to host.
        for pc in (relayed.publish_pc, relayed.subscribe_pc):
            pair = _selected_pair(pc)
            assert pair is not None
            assert pair.local_candidate.type == "relay"
            assert pair.local_candidate.port in RELAY_PORTS
        assert _selected_pair(direct.publish_pc).local_candidate.type == "host"
        # coturn authenticated the judge's username (expiry:participant id) and relayed.
        log = turn.log()
        assert re.search(
            rf"user <\d+:{judge.id}>: incoming packet ALLOCATE processed, success", log
        )
        # ... over the transport its URL names
        assert ("tcp or tls connected to" in log) == (turn_transport in ("tcp", "tls"))
        if turn_transport == "tls":
            assert re.search(r"TLSv1\.[23]", log), turn.log_tail()
    finally:
        for w in watchers:
            await w.stop()


@contextlib.asynccontextmanager
async def _turn_client(turn: TurnServer, username: str, password: str) -> AsyncIterator[Any]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: TurnClientUdpProtocol(
            ("127.0.0.1", turn.port),
            username=username,
            password=password,
            lifetime=600,
            channel_refresh_time=500,
        ),
        remote_addr=("127.0.0.1", turn.port),
    )
    try:
        yield protocol
    finally:
        if protocol.refresh_task is not None:
            protocol.refresh_task.cancel()
        transport.close()


async def test_expired_credentials_are_refused_and_a_live_allocation_outlives_them(
    turn: TurnServer,
) -> None:
    now = int(time.time())
    # Expired a second ago: coturn refuses the allocation (401), however well signed.
    username, password = turn_credential(SECRET, "p-expired", now - 1)
    async with _turn_client(turn, username, password) as client:
        with pytest.raises(stun.TransactionFailed) as refused:
            await client.connect()
        assert refused.value.response.error_code == 401
    # Signed with another secret: refused too.
    username, password = turn_credential("x" * 40, "p-forged", now + 600)
    async with _turn_client(turn, username, password) as client:
        with pytest.raises(stun.TransactionFailed):
            await client.connect()
    # Valid for 2 s: the allocation is made, and refreshed after the credential expired
    # (coturn checks the expiry when a TURN session first authenticates). This is why a
    # participant's relayed call goes on past turn_credential_ttl_seconds.
    username, password = turn_credential(SECRET, "p-live", int(time.time()) + 2)
    async with _turn_client(turn, username, password) as client:
        relayed = await client.connect()
        assert relayed[0] == "127.0.0.1" and relayed[1] in RELAY_PORTS
        await asyncio.sleep(max(0.0, username_expiry(username) + 1.5 - time.time()))
        refresh = stun.Message(message_method=stun.Method.REFRESH, message_class=stun.Class.REQUEST)
        refresh.attributes["LIFETIME"] = 600
        response, _ = await client.request_with_retry(refresh)
        assert response.attributes["LIFETIME"] > 0
    # A new allocation with that same, now expired, credential is refused.
    async with _turn_client(turn, username, password) as client:
        with pytest.raises(stun.TransactionFailed):
            await client.connect()


def username_expiry(username: str) -> int:
    return int(username.split(":", 1)[0])
