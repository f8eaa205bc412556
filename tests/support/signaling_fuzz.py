"""Signaling fuzzing of a real server: hypothesis-generated socket.io events from real clients.

A server built by ``create_app`` listens on 127.0.0.1 (real SQLite store, real socket.io);
a hearing in session (or a mediation) gets a presiding fuzzer (judge or mediator), a party
fuzzer, a well-behaved watcher and a few passive participants, each a real
``socketio.AsyncClient`` joined with its own join token. The fuzzers send events generated
by hypothesis from the server's own table of client events (``CLIENT_EVENTS``, which the
namespace asserts equal to its handlers, so a new event is fuzzed without touching this
file): valid payloads, payloads with fields dropped, nulled, replaced by hostile values
(wrong types, huge strings, deep nesting, unicode, bytes, huge numbers) or added, payloads
that are not objects, several arguments, unknown and reserved event names, malformed SDP and
ICE candidates, in any order (before ``join``, after ``leave``). Then: every event before
``join`` and after ``leave``; malformed socket.io packets written to the engine.io socket;
a burst of events at ``BURST_RATE`` a second from one client.

Checked: every event is answered (an ack within ``ANSWER_TIMEOUT_S``) with ``ok`` or a clear
error (``{ok: false, code, message, event}``, never ``internal``) and exactly one ``error``
push per refusal; the server logs no error or traceback; the watcher's requests keep being
answered meanwhile; no party's staff-only event succeeds; and afterwards the state holds
(``check_invariants``: one room per participant, the room matching the stored state, the
connected ones the live ones, roles and allowed actions unchanged).

Used by tests/integration/fuzz/test_signaling_fuzz.py (short) and bench/fuzz/signaling.py
(long). It runs the app in-process, so that its live state can be checked against the store:
it lives here, not in testbed (which imports nothing of the server).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import socketio
from aiohttp import web
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from socketio import packet

from hearing_server.app import create_app
from hearing_server.config import Settings, load_settings
from hearing_server.core.actors import Actor
from hearing_server.core.hearing import HearingAction, HearingKind
from hearing_server.core.participant import ParticipantState, PartySide, Role
from hearing_server.core.permissions import Action, allowed_actions, can
from hearing_server.core.rooms import participant_state_for
from hearing_server.keys import HEARINGS, LIVE, STORE
from hearing_server.schema import Field, Schema
from hearing_server.signaling.messages import CLIENT_EVENTS
from signaling.protocol import MAX_SDP, NAMESPACE, PROTOCOL_VERSION

ANSWER_TIMEOUT_S = 10.0  # no answer in this long is a hang
BUFFER_LIMIT = 2 * MAX_SDP  # the server's max_http_buffer_size: a longer message is dropped
BURST_RATE = 1000  # events a second in the burst
ADMIN_KEY = "fuzz-admin-key-0123456789abcdef0123456789"
STAFF = Actor.staff("signaling fuzz")
# The presiding fuzzer may do anything but end the session (the rest of the run would meet
# a closed hearing): a valid close or adjourn is not generated; a mutated one still is.
ENDING = frozenset({HearingAction.CLOSE.value, HearingAction.ADJOURN.value})
# Events only some roles may send, with the action the permission table checks: a party's
# success at one of these is an escalation.
GUARDED: dict[str, tuple[Action, ...]] = {
    "admit": (Action.ADMIT, Action.CALL_WITNESS),
    "return_to_waiting": (Action.RETURN_TO_WAITING,),
    "remove": (Action.REMOVE,),
    "grant_floor": (Action.GRANT_FLOOR,),
    "lower_hand": (Action.GRANT_FLOOR,),
    "dismiss_witness": (Action.CALL_WITNESS,),
    "spotlight": (Action.SET_LAYOUT,),
    "set_layout": (Action.SET_LAYOUT,),
    "recording": (Action.CONTROL_RECORDING,),
    "livestream": (Action.CONTROL_LIVESTREAM,),
    "verify_identity": (Action.VERIFY_IDENTITY,),
    "waive_identity": (Action.WAIVE_IDENTITY,),
    "open_caucus": (Action.OPEN_CAUCUS,),
    "send_notice": (Action.SEND_NOTICE,),
    "grant_presenting": (Action.GRANT_PRESENTING,),
    "hearing_action": (
        Action.PAUSE_HEARING,
        Action.RESUME_HEARING,
        Action.SUSPEND_HEARING,
        Action.START_HEARING,
    ),
}

# -- what is generated ---------------------------------------------------------------------

UNICODE = (
    "",
    " ",
    "张三",
    "\u202eevil",  # right-to-left override
    "\ufeff",
    "\u200d\u200d",
    "\U0001f600" * 3,
    "\ud800",  # a lone surrogate: JSON can spell it, UTF-8 cannot
    "\udfff\ud800",
    "e\u0301",
    "\x00",
    "\x1b[31m",
    "\r\n\t",
    "%s%n%x",
    "'; DROP TABLE participants; --",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "null",
    "true",
    "-1",
    "1e309",
)
RESERVED_NAMES = (
    "connect",
    "disconnect",
    "connect_error",
    "error",
    "message",
    "*",
    "",
    "__proto__",
    "constructor",
    "JOIN",
    "join ",
    "subscriber_offer",
    "hearing_state",
    "ok",
)
SDP_OFFER = (
    "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "a=group:BUNDLE 0 1\r\na=msid-semantic: WMS stream\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 "
    "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99"
    "\r\na=setup:actpass\r\na=mid:0\r\na=sendonly\r\na=msid:stream audio0\r\na=rtcp-mux\r\n"
    "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n"
    "a=ssrc:1001 cname:fuzz\r\n"
    "a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
    "a=fingerprint:sha-256 "
    "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99"
    "\r\na=setup:actpass\r\na=mid:1\r\na=sendonly\r\na=msid:stream video0\r\na=rtcp-mux\r\n"
    "a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n"
    "a=ssrc:2002 cname:fuzz\r\n"
)
# Candidates name 127.0.0.1 or no address at all: a fuzzed SDP must not send the server's
# connectivity checks anywhere but loopback.
CANDIDATES = (
    "a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host",
    "a=candidate:1 1 udp 2130706431 127.0.0.1 99999 typ host",
    "a=candidate:1 1 udp 2130706431 127.0.0.1 -1 typ host",
    "a=candidate:1 1 udp 2130706431 999.999.999.999 9 typ host",
    "a=candidate:1 1 udp 2130706431 ::1::1 9 typ host",
    "a=candidate:1 1 tcp 2130706431 127.0.0.1 9 typ host tcptype bogus",
    "a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ relay raddr 1.2.3.4",
    "a=candidate:1 1 udp 99999999999999999999 127.0.0.1 9 typ host",
    "a=candidate:",
    "a=candidate:1",
    "a=candidate:1 2 3",
    "a=candidate:x x x x x x x x",
    "a=end-of-candidates",
)
SDP_JUNK = (
    "m=audio",
    "m=video 9 RTP/AVP",
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
    "a=mid:",
    "a=mid:0",
    "a=group:BUNDLE 7 8 9",
    "a=rtpmap:111",
    "a=rtpmap:abc opus/48000/2",
    "a=fmtp:96 " + "x" * 200,
    "a=fingerprint:sha-256 zz",
    "a=fingerprint:md5",
    "a=setup:bogus",
    "a=ssrc:-1 cname:x",
    "a=ssrc-group:FID 1",
    "a=extmap:99999 urn:x",
    "a=ice-ufrag:",
    "a=ice-pwd:",
    "c=IN IP6 ::1",
    "v=1",
    "o=",
    "t=-1 -1",
    "\x00",
    "a=sendrecv",
    "a=inactive",
    "a=rtcp-fb:* nack",
)


def _nest(depth: int, leaf: Any, as_object: bool) -> Any:
    for _ in range(depth):
        leaf = {"a": leaf} if as_object else [leaf]
    return leaf


def _huge() -> st.SearchStrategy[str]:
    """Long strings, cheap to generate: a size (some past the server's buffer) times a unit."""
    sizes = st.sampled_from((300, 5_000, 40_000, 70_000, 200_000))
    units = st.sampled_from(("x", "é", "漢", "\U0001f600", "\n", "\\", '"'))
    return st.tuples(sizes, units).map(lambda su: su[1] * (su[0] // len(su[1].encode())))


def _deep() -> st.SearchStrategy[Any]:
    """Nesting deep enough to matter, shallow enough for the client's JSON encoder (deeper
    nesting goes through ``RAW_PACKETS``)."""
    return st.tuples(st.integers(1, 400), st.booleans()).map(lambda db: _nest(db[0], 1, db[1]))


def hostile() -> st.SearchStrategy[Any]:
    """Any JSON (or binary) value a client could send where something else was expected."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from((2**63, -(2**63) - 1, 10**40, 2**31, -1, 0)),
        st.floats(),  # NaN and the infinities included (the client's JSON spells them)
        st.text(max_size=40),
        st.sampled_from(UNICODE),
        st.binary(max_size=64),
    )
    trees = st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=8,
    )
    return st.one_of(scalars, trees, _huge(), _deep())


def sdp() -> st.SearchStrategy[str]:
    """Malformed session descriptions: the offer with lines dropped, corrupted, repeated or
    added (broken candidates among them), truncated, or no SDP at all."""
    lines = SDP_OFFER.rstrip("\r\n").split("\r\n")

    @st.composite
    def mangled(draw: st.DrawFn) -> str:
        out = list(lines)
        for _ in range(draw(st.integers(1, 6))):
            op = draw(st.sampled_from(("drop", "insert", "replace", "repeat", "truncate")))
            i = draw(st.integers(0, max(0, len(out) - 1)))
            extra = draw(st.sampled_from(CANDIDATES + SDP_JUNK) | st.text(max_size=30))
            if op == "drop" and out:
                del out[i]
            elif op == "insert":
                out.insert(i, extra)
            elif op == "replace" and out:
                out[i] = extra
            elif op == "repeat" and out:
                out[i:i] = [out[i]] * draw(st.integers(1, 50))
            elif op == "truncate":
                out = out[:i]
        text = "\r\n".join(out) + draw(st.sampled_from(("\r\n", "\n", "")))
        return text[: draw(st.integers(0, len(text)))] if draw(st.booleans()) else text

    return st.one_of(
        mangled(),
        st.just(SDP_OFFER),
        st.sampled_from(("", "v=0", "v=0\r\n", "\r\n" * 10, "garbage")),
        st.text(max_size=200),
        st.sampled_from(CANDIDATES).map(lambda c: SDP_OFFER + c + "\r\n"),
    )


@dataclass(frozen=True)
class Targets:
    """Real values the fuzzers' payloads point at (participants, rooms, ...), by field name,
    so that generated events reach the services and not only the schema check."""

    ids: dict[str, tuple[str, ...]]

    def strategy(self, name: str) -> st.SearchStrategy[str] | None:
        known = self.ids.get(name)
        return st.sampled_from(known) if known else None


def value(f: Field, targets: Targets, *, presiding: bool) -> st.SearchStrategy[Any]:
    """Values of the field's own type (mostly valid, with their edges)."""
    if f.type == "string":
        if f.multiline:
            return sdp()
        pool = st.text(max_size=min(f.max_length, 80)) | st.sampled_from(UNICODE)
        known = targets.strategy(f.name)
        return st.one_of(known, known, pool) if known is not None else pool
    if f.type == "integer":
        if f.name == "protocol":
            return st.just(PROTOCOL_VERSION) | st.integers(-2, 3)
        return st.integers(-3, 130) | st.integers() | st.sampled_from((2**63, 10**30))
    if f.type == "number":
        return st.floats(-1e6, 1e6) | st.floats()
    if f.type == "boolean":
        return st.booleans()
    if f.type == "enum":
        choices = f.enum
        if presiding and f.name == "action":
            choices = tuple(c for c in choices if c not in ENDING) or choices
        return st.sampled_from(choices)
    if f.type == "point":
        return st.lists(st.floats(0, 1), min_size=2, max_size=2) | st.lists(st.floats(), max_size=3)
    if f.type in ("id_list", "enum_list"):
        known = targets.strategy("participant_id")
        item = known | st.text(max_size=70) if known is not None else st.text(max_size=70)
        return st.lists(st.sampled_from(f.enum) if f.enum else item, max_size=7)
    return hostile()  # a type this file does not know yet: fuzzed all the same


@st.composite
def payload(draw: st.DrawFn, schema: Schema, targets: Targets, presiding: bool) -> Any:
    """One payload for ``schema``: valid, mutated (fields dropped, nulled, replaced by
    hostile values, unknown ones added) or not an object at all."""
    kind = draw(st.sampled_from(("valid", "valid", "mutated", "mutated", "mutated", "other")))
    if kind == "other":
        return draw(hostile())
    out: dict[str, Any] = {}
    for f in schema.fields:
        if f.required or draw(st.booleans()):
            out[f.name] = draw(value(f, targets, presiding=presiding))
    if kind == "mutated":
        for _ in range(draw(st.integers(1, 3))):
            op = draw(st.sampled_from(("drop", "replace", "null", "add")))
            names = sorted(out)
            if op in ("drop", "replace", "null") and names:
                name = draw(st.sampled_from(names))
                if op == "drop":
                    del out[name]
                else:
                    out[name] = None if op == "null" else draw(hostile())
            else:
                extra = st.sampled_from(("__proto__", "ok", "event", "sdp", "x")) | st.text(
                    max_size=12
                )
                out[draw(extra)] = draw(hostile())
    return out


@dataclass(frozen=True)
class Shot:
    """One event a fuzzer sends: its name and its arguments (none, one or several)."""

    event: str
    args: tuple[Any, ...]

    def data(self) -> Any:
        """What ``socketio.AsyncClient.emit`` takes for these arguments."""
        if not self.args:
            return None
        return self.args[0] if len(self.args) == 1 else self.args

    def encoded_size(self) -> int:
        """Bytes on the wire (text and binary attachments): past ``BUFFER_LIMIT`` the
        server drops the connection instead of answering."""
        encoded = packet.Packet(
            packet.EVENT, data=[self.event, *self.args], namespace=NAMESPACE, id=1
        ).encode()
        parts = encoded if isinstance(encoded, list) else [encoded]
        return sum(len(p.encode() if isinstance(p, str) else p) for p in parts)

    def describe(self, limit: int = 300) -> str:
        text = repr((self.event, self.args))
        return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


@st.composite
def shot(draw: st.DrawFn, targets: Targets, presiding: bool) -> Shot:
    """An event of the server's table with a payload, or (one in ten) an unknown name."""
    if draw(st.integers(0, 9)) == 0:
        name = draw(st.sampled_from(RESERVED_NAMES) | st.text(max_size=30))
        return Shot(name, (draw(hostile()),))
    name = draw(st.sampled_from(sorted(CLIENT_EVENTS)))
    body = draw(payload(CLIENT_EVENTS[name], targets, presiding))
    arity = draw(st.sampled_from((1, 1, 1, 1, 1, 1, 1, 1, 0, 2)))
    args: tuple[Any, ...] = (body,) if arity == 1 else () if arity == 0 else (body, draw(hostile()))
    return Shot(name, args)


def generate(n: int, targets: Targets, *, presiding: bool, seed_value: int) -> list[Shot]:
    """``n`` shots drawn by hypothesis (generation only: the server is judged by the runner,
    which reports the shot that failed)."""
    out: list[Shot] = []

    @settings(
        max_examples=n,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @seed(seed_value)
    @given(shot(targets, presiding))
    def collect(s: Shot) -> None:
        out.append(s)

    collect()
    return out


# Malformed socket.io packets written straight to the engine.io socket (the client library
# would refuse to write them): bad JSON, deep nesting past any recursion limit, an event
# without a name or with a name that is not a string, a binary event whose attachments never
# come, acks for calls never made, a connect to an unknown namespace, unknown packet types.
RAW_PACKETS = (
    f'42{NAMESPACE},["join"',
    f"42{NAMESPACE},not json",
    f"42{NAMESPACE},[]",
    f"42{NAMESPACE},{{}}",
    f'42{NAMESPACE},"join"',
    f"42{NAMESPACE},[1,{{}}]",
    f"42{NAMESPACE},[null]",
    f'42{NAMESPACE},[{{"a":1}},{{}}]',
    f'42{NAMESPACE},["raise_hand",' + "[" * 50_000 + "]" * 50_000 + "]",
    f'42{NAMESPACE},["raise_hand",' + '{"a":' * 20_000 + "1" + "}" * 20_000 + "]",
    f'42{NAMESPACE},7["raise_hand",' + "[" * 50_000 + "]" * 50_000 + "]",
    f'452-{NAMESPACE},["raise_hand",{{"_placeholder":true,"num":0}}]',
    f"43{NAMESPACE},999[]",
    f"43{NAMESPACE},abc[]",
    "40/nowhere,",
    "41/nowhere,",
    '42/nowhere,["join",{}]',
    '42["join",{}]',
    "49",
    "4x",
    "4",
    "2",
    "6",
    "",
)


# -- the server and its people -------------------------------------------------------------


def fuzz_settings(data_dir: Path, **overrides: Any) -> Settings:
    """A loopback server with no composite, no recognition, no identity checks, and limits
    that would only get in the fuzzer's way raised (they have tests of their own)."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "admin_api_key": ADMIN_KEY,
        "public_url": "http://127.0.0.1:8080",
        "media_announced_addresses": ["127.0.0.1"],
        "composite_enabled": False,
        "transcription_enabled": False,
        "overload_shedding": False,
        "identity_default_policy": "none",
        "login_requests_per_minute": 1_000_000.0,
        "max_connections_per_address": 10_000,
        **overrides,
    }
    return load_settings(env={}, **values)


class ServerLog(logging.Handler):
    """What the server logs at warning and above, its own loggers and its libraries' (the
    fuzzing clients' loggers, in the same process, excepted)."""

    CLIENT_LOGGERS = ("socketio.client", "engineio.client", "signaling.")

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(self.CLIENT_LOGGERS):
            self.records.append(record)

    def errors(self) -> list[str]:
        """Errors and anything with a traceback: each is a failure of the run."""
        out = []
        for r in self.records:
            if r.levelno >= logging.ERROR or r.exc_info:
                exc = f" ({r.exc_info[1]!r})" if r.exc_info else ""
                out.append(f"{r.name}: {r.getMessage()[:300]}{exc}")
        return out

    def warnings(self) -> list[str]:
        return [
            f"{r.name}: {r.getMessage()[:200]}"
            for r in self.records
            if r.levelno < logging.ERROR and not r.exc_info
        ]


@dataclass
class Hearing:
    """The fuzzed session: its id, kind, and each person's id, role and token by name."""

    id: str
    kind: HearingKind
    people: dict[str, tuple[str, Role, str]]

    def pid(self, name: str) -> str:
        return self.people[name][0]


PRESIDING, PARTY, WATCHER = "presiding", "party", "watcher"
PASSIVE = ("clerk", "counsel", "witness", "observer", "other_party")


async def open_session(app: web.Application, kind: HearingKind) -> Hearing:
    """A hearing (or mediation) in session with the fuzzers, the watcher and the others."""
    service = app[HEARINGS]
    now = datetime.now(UTC)
    h = await service.create_hearing(
        STAFF,
        kind=kind,
        case_number="(2026)京0105民初19002号",
        court="北京市朝阳区人民法院",
        title="信令模糊测试",
        scheduled_start=now,
        scheduled_end=now + timedelta(hours=2),
    )
    presiding = Role.MEDIATOR if kind is HearingKind.MEDIATION else Role.JUDGE
    specs: list[tuple[str, Role, PartySide | None]] = [
        (PRESIDING, presiding, None),
        (PARTY, Role.PARTY, PartySide.PLAINTIFF),
        (WATCHER, Role.PARTY, PartySide.DEFENDANT),
        ("clerk", Role.CLERK, None),
        ("counsel", Role.COUNSEL, None),
        ("witness", Role.WITNESS, None),
        ("observer", Role.OBSERVER, None),
        ("other_party", Role.PARTY, PartySide.DEFENDANT),
    ]
    people: dict[str, tuple[str, Role, str]] = {}
    for name, role, side in specs:
        represents = people[PARTY][0] if name == "counsel" else None
        p = await service.add_participant(
            STAFF, h.id, role=role, display_name=name, side=side, represents=represents
        )
        _, token, _ = await service.issue_link(STAFF, p.id)
        people[name] = (p.id, role, token)
    await service.transition(STAFF, h.id, HearingAction.OPEN)
    await service.transition(Actor.system(), h.id, HearingAction.START)
    return Hearing(h.id, kind, people)


# -- the clients ---------------------------------------------------------------------------


@dataclass
class Tally:
    """What one client sent and got back."""

    sent: int = 0
    ok: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    dropped: int = 0  # past the buffer limit: the server closed the connection
    reconnects: int = 0
    failures: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.sent += other.sent
        self.ok += other.ok
        self.refused.update(other.refused)
        self.dropped += other.dropped
        self.reconnects += other.reconnects
        self.failures += other.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "ok": self.ok,
            "refused": sum(self.refused.values()),
            "refusal_codes": dict(self.refused.most_common()),
            "dropped_past_buffer_limit": self.dropped,
            "reconnects": self.reconnects,
            "failures": len(self.failures),
        }


class FuzzClient:
    """A real socket.io client for one participant, counting what the server pushes."""

    def __init__(self, url: str, name: str, pid: str, role: Role, token: str) -> None:
        self.url, self.name, self.pid, self.role, self._token = url, name, pid, role, token
        self.sio = socketio.AsyncClient(reconnection=False)
        self.pushes: Counter[str] = Counter()
        self.error_pushes: list[Any] = []
        self.expected_errors = 0  # refusals answered: each must come with an error push
        self.tally = Tally()
        self.joined = False  # joined and not left since: the server must count it live
        self.sio.on("*", self._push, namespace=NAMESPACE)

    async def _push(self, event: str, *data: Any) -> None:
        self.pushes[event] += 1
        if event == "error":
            self.error_pushes.append(data[0] if data else None)

    @property
    def sid(self) -> str | None:
        """The socket.io sid while connected and joined (what the server's presence holds)."""
        return self.sio.get_sid(NAMESPACE) if self.sio.connected and self.joined else None

    async def connect(self, *, join: bool = True) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()  # an engine.io socket left open by a dropped namespace
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("*", self._push, namespace=NAMESPACE)
        self.joined = False
        await self.sio.connect(
            self.url,
            namespaces=[NAMESPACE],
            auth={"token": self._token},
            transports=["websocket"],
            wait_timeout=ANSWER_TIMEOUT_S,
        )
        if join:
            reply = await self.call("join", {"protocol": PROTOCOL_VERSION})
            if not reply.get("ok"):
                raise RuntimeError(f"{self.name} cannot join: {reply}")
            self.joined = True

    async def call(self, event: str, data: Any) -> Any:
        return await self.sio.call(event, data, namespace=NAMESPACE, timeout=ANSWER_TIMEOUT_S)

    def judge_answer(self, s: Shot, reply: Any, kind: HearingKind) -> None:
        """Count the server's answer to ``s``; anything but ``ok`` or a clear refusal fails."""
        t = self.tally
        if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
            t.failures.append(f"{self.name}: not an answer {reply!r:.200} to {s.describe()}")
        elif reply["ok"]:
            t.ok += 1
            if s.event in ("join", "leave"):
                self.joined = s.event == "join"
            for action in GUARDED.get(s.event, ()):
                if can(self.role, action, kind):
                    break
            else:
                if s.event in GUARDED:
                    t.failures.append(f"{self.name}: escalation, {s.describe()} succeeded")
        else:
            code, message = reply.get("code"), reply.get("message")
            self.expected_errors += 1
            t.refused[str(code)] += 1
            if not (isinstance(code, str) and code and isinstance(message, str) and message):
                t.failures.append(f"{self.name}: unclear refusal {reply!r:.200}")
            elif code == "internal":
                t.failures.append(f"{self.name}: internal error for {s.describe()}")
            elif reply.get("event") != s.event:
                t.failures.append(f"{self.name}: refusal names {reply.get('event')!r:.60}")

    async def fire(self, s: Shot, kind: HearingKind) -> None:
        """Send one shot and judge the answer; reconnect after a drop."""
        t = self.tally
        t.sent += 1
        oversize = s.encoded_size() > BUFFER_LIMIT
        if oversize:
            await self.sio.emit(s.event, s.data(), namespace=NAMESPACE)
            await self._wait_dropped()
            t.dropped += 1
        else:
            try:
                reply = await self.call(s.event, s.data())
            except socketio.exceptions.TimeoutError:
                t.failures.append(f"{self.name}: no answer in {ANSWER_TIMEOUT_S} s: {s.describe()}")
                return
            except socketio.exceptions.BadNamespaceError:
                t.failures.append(f"{self.name}: disconnected by {s.describe()}")
            else:
                self.judge_answer(s, reply, kind)
        if not self.sio.connected:
            t.reconnects += 1
            await self.connect()

    async def _wait_dropped(self) -> None:
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        # (polling the client library's state: it has no event for this)
        while self.sio.connected and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        if self.sio.connected:
            self.tally.failures.append(f"{self.name}: a message past the buffer was not dropped")

    async def errors_pushed(self) -> list[str]:
        """After the answers: one ``error`` push per refusal, each {code, message, event}."""
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        while (  # noqa: ASYNC110 (the pushes arrive through the library's callbacks)
            len(self.error_pushes) < self.expected_errors and time.monotonic() < deadline
        ):
            await asyncio.sleep(0.05)
        problems = []
        if len(self.error_pushes) != self.expected_errors:
            problems.append(
                f"{self.name}: {len(self.error_pushes)} error pushes for "
                f"{self.expected_errors} refusals"
            )
        bad = [e for e in self.error_pushes if not (isinstance(e, dict) and e.get("code"))]
        if bad:
            problems.append(f"{self.name}: error pushes without a code: {bad[:3]!r:.300}")
        return problems

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(ANSWER_TIMEOUT_S):
                await self.sio.disconnect()


@dataclass
class Watcher:
    """The well-behaved client: asks the server something every ``interval`` s while the
    others fuzz; every request must be answered (ok, or a clear refusal by the rules)."""

    client: FuzzClient
    interval: float = 0.05
    answered: int = 0
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        raised = False
        while not stop.is_set():
            raised = not raised
            asks = (("network_report", {"grade": "good"}), ("raise_hand", {"raised": raised}))
            for event, data in asks:
                started = time.monotonic()
                try:
                    reply = await self.client.call(event, data)
                except Exception as exc:  # a hang or a dropped connection: both failures
                    self.failures.append(f"watcher: {event} unanswered ({exc!r})")
                    return
                self.latencies.append(time.monotonic() - started)
                ok = isinstance(reply, dict) and (
                    reply.get("ok") or (event == "raise_hand" and reply.get("code") != "internal")
                )
                if not ok:
                    self.failures.append(f"watcher: {event} answered {reply!r:.200}")
                self.answered += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)

    def to_json(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        return {
            "answered": self.answered,
            "pushes_received": sum(self.client.pushes.values()),
            "p50_ms": round(lat[len(lat) // 2] * 1000, 1) if lat else None,
            "max_ms": round(lat[-1] * 1000, 1) if lat else None,
            "failures": len(self.failures),
        }


# -- invariants ----------------------------------------------------------------------------

LIVE_STATES = frozenset(
    {ParticipantState.WAITING, ParticipantState.IN_HEARING, ParticipantState.IN_CONSULTATION}
)


async def check_invariants(
    app: web.Application, hearing: Hearing, connected: dict[str, str]
) -> list[str]:
    """The state after a run: ``connected`` maps each joined client's participant id to its
    socket.io sid. Returns what does not hold."""
    live, store = app[LIVE], app[STORE]
    problems: list[str] = []
    registry = live.existing_registry(hearing.id)
    rooms = registry.rooms() if registry is not None else ()
    seen = Counter(pid for room in rooms for pid in room.members)
    problems += [f"{pid} is in {n} rooms" for pid, n in seen.items() if n > 1]
    for room in rooms:
        for pid in room.members:
            where = registry.room_of(pid) if registry is not None else None
            if where is None or where.id != room.id:
                problems.append(f"{pid} is a member of {room.id} but located in {where}")
    roles = {pid: role for pid, role, _ in hearing.people.values()}
    for p in await store.list_participants(hearing.id):
        if p.id in roles and p.role is not roles[p.id]:
            problems.append(f"{p.id}'s role changed: {roles[p.id]} -> {p.role}")
        is_live = live.is_connected(hearing.id, p.id)
        at = registry.room_of(p.id) if registry is not None else None
        if p.state in LIVE_STATES:
            if not is_live:
                problems.append(f"{p.id} is {p.state} in the store but not connected")
            if at is None or participant_state_for(at.type) is not p.state:
                problems.append(f"{p.id} is {p.state} in the store but in room {at}")
        elif p.state is ParticipantState.IDENTIFYING:
            if at is not None:
                problems.append(f"{p.id} is identifying but in room {at.id}")
        elif is_live:
            problems.append(f"{p.id} is connected but {p.state} in the store")
        elif p.state in (ParticipantState.LEFT, ParticipantState.NOT_JOINED) and at is not None:
            problems.append(f"{p.id} is {p.state} but still in room {at.id}")
        if p.id in connected and live.connection_of(p.id) != connected[p.id]:
            problems.append(
                f"{p.id}'s live connection is {live.connection_of(p.id)}, "
                f"its client's is {connected[p.id]}"
            )
    return problems


# -- the run -------------------------------------------------------------------------------


@dataclass
class Report:
    """One fuzzing run; ``failures`` empty when everything held."""

    kind: str
    phases: dict[str, dict[str, Any]] = field(default_factory=dict)
    watcher: dict[str, Any] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    server_warnings: int = 0
    invariant_problems: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def events(self) -> int:
        return sum(int(p["sent"]) for p in self.phases.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "events": self.events,
            "phases": self.phases,
            "watcher": self.watcher,
            "server_errors": self.server_errors,
            "server_warnings": self.server_warnings,
            "invariant_problems": self.invariant_problems,
            "failures": self.failures[:50],
            "failure_count": len(self.failures),
        }


@contextlib.asynccontextmanager
async def running_server(settings_: Settings) -> Any:
    """``create_app(settings_)`` listening on 127.0.0.1; yields (app, base URL)."""
    app = create_app(settings_)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield app, f"http://127.0.0.1:{port}"
    finally:
        # The clients closed just now: their sockets' ends are read first (engine.io's
        # shutdown waits on a socket whose client is gone, up to the server's bound).
        await asyncio.sleep(0.3)
        await runner.cleanup()


@contextlib.contextmanager
def captured_log() -> Iterator[ServerLog]:
    handler = ServerLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def _targets(hearing: Hearing, app: web.Application) -> Targets:
    """Everyone but the fuzzers and the watcher may be acted on (removing a fuzzer would end
    its fuzzing), plus ids that exist nowhere."""
    others = tuple(hearing.pid(n) for n in PASSIVE)
    ghosts = ("p-000000000000", "x" * 64)
    rooms = ("hearing", "waiting", "caucus-plaintiff", "caucus-defendant", "consultation-1")
    return Targets(
        {
            "participant_id": others + ghosts,
            "target": (*others, "plaintiff", "defendant", "waiting"),
            "room_id": rooms + ghosts,
            "notice_id": ghosts,
            "request_id": ghosts,
            "exhibit_id": ghosts,
            "next_sitting_id": ghosts,
        }
    )


def _since(client: FuzzClient, mark: Tally) -> Tally:
    """What ``client`` counted since ``mark`` (a copy of its tally taken before)."""
    now = client.tally
    return Tally(
        sent=now.sent - mark.sent,
        ok=now.ok - mark.ok,
        refused=now.refused - mark.refused,
        dropped=now.dropped - mark.dropped,
        reconnects=now.reconnects - mark.reconnects,
        failures=now.failures[len(mark.failures) :],
    )


def _mark(client: FuzzClient) -> Tally:
    t = client.tally
    return Tally(t.sent, t.ok, Counter(t.refused), t.dropped, t.reconnects, list(t.failures))


async def _phase(clients: list[tuple[FuzzClient, list[Shot]]], kind: HearingKind) -> Tally:
    """Each client sends its shots one after the other (the clients at once)."""

    async def one(client: FuzzClient, shots: list[Shot]) -> None:
        for s in shots:
            await client.fire(s, kind)

    marks = [(c, _mark(c)) for c, _ in clients]
    await asyncio.gather(*(one(c, shots) for c, shots in clients))
    out = Tally()
    for c, mark in marks:
        out.add(_since(c, mark))
    return out


async def _out_of_order(client: FuzzClient, kind: HearingKind) -> Tally:
    """Every event of the table with a valid-looking payload before join, then after leave:
    each refused with ``not_joined``."""
    tally = Tally()
    targets_payload: dict[str, Any] = {"participant_id": "p-000000000000", "room_id": "hearing"}
    for when in ("before join", "after leave"):
        await client.connect(join=False)
        if when == "after leave":
            await client.call("join", {"protocol": PROTOCOL_VERSION})
            await client.call("leave", {})
        for name, schema in sorted(CLIENT_EVENTS.items()):
            if name == "join":
                continue
            body = {f.name: targets_payload.get(f.name, "x") for f in schema.fields if f.required}
            tally.sent += 1
            try:
                reply = await client.call(name, body)
            except Exception as exc:
                tally.failures.append(f"{name} {when}: no answer ({exc!r})")
                continue
            code = reply.get("code") if isinstance(reply, dict) else None
            tally.refused[str(code)] += 1
            if code not in ("not_joined", "invalid_field", "missing_field"):
                tally.failures.append(f"{name} {when}: answered {reply!r:.200}")
    await client.connect()
    return tally


async def _raw_packets(spare: FuzzClient, served: FuzzClient) -> Tally:
    """Malformed packets on the engine.io socket of ``spare`` (connected, not joined): the
    server may close that connection (a protocol error), nothing else; ``served`` is
    answered afterwards."""
    tally = Tally()
    for text in RAW_PACKETS:
        if not spare.sio.connected:
            tally.reconnects += 1
            await spare.connect(join=False)
        tally.sent += 1
        await spare.sio.eio.send(text)
        await asyncio.sleep(0.05)
    await spare.close()
    tally.sent += 1
    reply = await served.call("network_report", {"grade": "good"})
    if not (isinstance(reply, dict) and reply.get("ok")):
        tally.failures.append(f"after the raw packets: {reply!r:.200}")
    return tally


async def _burst(client: FuzzClient, shots: list[Shot], kind: HearingKind) -> tuple[Tally, float]:
    """``shots`` at ``BURST_RATE`` a second without waiting for answers; every one must be
    answered all the same. Returns the tally and the rate reached (events a second)."""
    loop = asyncio.get_running_loop()
    answers: list[tuple[Shot, asyncio.Future[Any]]] = []
    mark = _mark(client)
    started = time.monotonic()
    for i, s in enumerate(s for s in shots if s.encoded_size() <= BUFFER_LIMIT):
        fut: asyncio.Future[Any] = loop.create_future()

        def done(*reply: Any, fut: asyncio.Future[Any] = fut) -> None:
            if not fut.done():
                fut.set_result(reply[0] if reply else None)

        await client.sio.emit(s.event, s.data(), namespace=NAMESPACE, callback=done)
        answers.append((s, fut))
        ahead = started + (i + 1) / BURST_RATE - time.monotonic()
        if ahead > 0:
            await asyncio.sleep(ahead)
    rate = len(answers) / max(time.monotonic() - started, 1e-6)
    if answers:
        await asyncio.wait([f for _, f in answers], timeout=ANSWER_TIMEOUT_S)
    for s, f in answers:
        client.tally.sent += 1
        if f.done():
            client.judge_answer(s, f.result(), kind)
        else:
            client.tally.failures.append(f"burst: no answer to {s.describe()}")
    return _since(client, mark), rate


async def fuzz_signaling(
    root: Path,
    *,
    events: int,
    kind: HearingKind = HearingKind.HEARING,
    seed_value: int = 20261207,
    burst: int = 1000,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Fuzz a fresh server on ``root`` with about ``events`` generated events (split between
    the presiding and the party fuzzer) plus the out-of-order, raw-packet and burst phases."""
    say = progress or (lambda _: None)
    report = Report(kind=kind.value)
    with captured_log() as log:
        async with running_server(fuzz_settings(root / "var")) as (app, url):
            hearing = await open_session(app, kind)
            clients = {
                name: FuzzClient(url, name, *hearing.people[name])
                for name in (PRESIDING, PARTY, WATCHER, *PASSIVE)
            }
            try:
                for c in clients.values():
                    await c.connect()
                targets = _targets(hearing, app)
                half = events // 2
                say(f"generating {events} events")
                presiding_shots = generate(half, targets, presiding=True, seed_value=seed_value)
                party_shots = generate(
                    events - half, targets, presiding=False, seed_value=seed_value + 1
                )
                burst_shots = generate(burst, targets, presiding=False, seed_value=seed_value + 2)
                watcher = Watcher(clients[WATCHER])
                stop = asyncio.Event()
                watching = asyncio.create_task(watcher.run(stop))
                say("fuzzing")
                tally = await _phase(
                    [(clients[PRESIDING], presiding_shots), (clients[PARTY], party_shots)], kind
                )
                report.failures += tally.failures
                report.phases["generated"] = tally.to_json()
                say("out of order")
                spare = FuzzClient(url, "party (out of order)", *hearing.people[PARTY])
                tally = await _out_of_order(spare, kind)
                report.failures += tally.failures
                report.phases["out_of_order"] = tally.to_json()
                await spare.close()
                await clients[PARTY].connect()  # the spare replaced the party's connection
                say("raw packets")
                tally = await _raw_packets(spare, clients[PARTY])
                report.failures += tally.failures
                report.phases["raw_packets"] = tally.to_json()
                say("burst")
                tally, rate = await _burst(clients[PARTY], burst_shots, kind)
                report.failures += tally.failures
                report.phases["burst"] = {**tally.to_json(), "rate_per_s": round(rate)}
                say("checking")
                stop.set()
                await watching
                report.watcher = watcher.to_json()
                report.failures += watcher.failures
                for name in (PRESIDING, PARTY):
                    report.failures += await clients[name].errors_pushed()
                connected = {c.pid: c.sid for c in clients.values() if c.sid is not None}
                report.invariant_problems = await check_invariants(app, hearing, connected)
                report.failures += report.invariant_problems
                say("fresh join")
                # Still serving: a fresh connection joins and sees what its role may do.
                fresh = FuzzClient(url, "fresh", *hearing.people[PARTY])
                await fresh.connect(join=False)
                reply = await fresh.call("join", {"protocol": PROTOCOL_VERSION})
                expected = sorted(allowed_actions(Role.PARTY, kind))
                if not (isinstance(reply, dict) and reply.get("allowed_actions") == expected):
                    report.failures.append(f"a fresh join after the run: {reply!r:.300}")
                await fresh.close()
            except BaseException as exc:
                say(f"stopped by {exc!r}")
                raise
            finally:
                say("closing")
                for c in clients.values():
                    await c.close()
            say("stopping the server")
        # (after the server stopped: its shutdown is judged too)
        report.server_errors = log.errors()
        report.server_warnings = len(log.warnings())
    report.failures += report.server_errors
    return report


def dumps(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False)
