"""The judge or clerk of a hearing registers its people from the console with their own join
token, through the real server: the same endpoints staff use, authorized by the permission
table's register_identity. Every role of a hearing and of a mediation tries; those the table
refuses get 403 and nothing is stored; the court of another hearing is refused too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from hearing_server.core.hearing import HearingKind
from hearing_server.core.participant import Role
from hearing_server.core.permissions import Action, can
from hearing_server.keys import STORE
from support.faces import face_bytes, side_by_side
from support.identity import LI_ID, ZHANG_ID, identity_hearing

ROLES = [
    (Role.JUDGE, "王法官"),
    (Role.CLERK, "赵书记员"),
    (Role.PARTY, "张三"),
    (Role.COUNSEL, "钱律师"),
    (Role.WITNESS, "陈证人"),
    (Role.EXPERT, "刘鉴定"),
    (Role.INTERPRETER, "周翻译"),
    (Role.OBSERVER, "旁听者"),
    (Role.COURTROOM_DISPLAY, "法庭屏幕"),
]
TARGET = "李四"
BODY = {"legal_name": TARGET, "id_type": "resident_id", "id_number": LI_ID, "phone": "13900139000"}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Caller:
    def __init__(self, http: aiohttp.ClientSession, server: TestServer, token: str) -> None:
        self._http = http
        self._base = f"http://127.0.0.1:{server.port}"
        self._headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, pid: str, tail: str, **kw: Any) -> tuple[int, dict[str, Any]]:
        url = f"{self._base}/api/participants/{pid}/{tail}"
        headers = self._headers | kw.pop("headers", {})
        async with self._http.request(method, url, headers=headers, **kw) as resp:
            return resp.status, await resp.json()

    async def register(self, pid: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return await self.call("PUT", pid, "registration", json=body)

    async def photo(self, pid: str, data: bytes) -> tuple[int, dict[str, Any]]:
        return await self.call(
            "PUT", pid, "reference-photo", data=data, headers={"Content-Type": "image/jpeg"}
        )


def _people(kind: HearingKind) -> list[tuple[Role, str]]:
    roles = [*ROLES, (Role.PARTY, TARGET)]
    if kind is HearingKind.MEDIATION:
        roles.append((Role.MEDIATOR, "孙调解员"))
    return roles


@pytest.mark.parametrize("kind", [HearingKind.HEARING, HearingKind.MEDIATION])
async def test_only_the_roles_the_table_allows_register(
    server: TestServer, http: aiohttp.ClientSession, kind: HearingKind
) -> None:
    h = await identity_hearing(server.app, _people(kind), kind=kind)
    target = h.people[TARGET].id
    store = server.app[STORE]
    actors = [p for name, p in h.people.items() if name != TARGET]
    allowed = [p for p in actors if can(p.role, Action.REGISTER_IDENTITY, kind)]
    expected = {Role.JUDGE, Role.CLERK} | (
        {Role.MEDIATOR} if kind is HearingKind.MEDIATION else set()
    )
    assert {p.role for p in allowed} == expected
    for p in actors:
        if p in allowed:
            continue
        caller = Caller(http, server, p.token)
        status, body = await caller.register(target, BODY)
        assert (status, body["code"]) == (403, "forbidden"), (p.role, body)
        status, body = await caller.call("GET", target, "registration")
        assert (status, body["code"]) == (403, "forbidden"), (p.role, body)
        status, body = await caller.photo(target, b"\xff\xd8not a photo")
        assert (status, body["code"]) == (403, "forbidden"), (p.role, body)
        assert await store.get_registration(target) is None
    for p in allowed:
        caller = Caller(http, server, p.token)
        status, body = await caller.register(target, {**BODY, "phone": "13900139001"})
        assert status == 200, (p.role, body)
        assert body["id_last4"] == LI_ID[-4:] and body["registered_by"] == p.id
        status, body = await caller.call("GET", target, "registration")
        assert (status, body["legal_name"]) == (200, TARGET)
        assert "id_number" not in body and "id_digest" not in body


async def test_the_clerk_registers_their_own_hearing_only(
    server: TestServer, http: aiohttp.ClientSession
) -> None:
    mine = await identity_hearing(server.app, [(Role.CLERK, "赵书记员"), (Role.PARTY, TARGET)])
    other = await identity_hearing(server.app, [(Role.CLERK, "钱书记员"), (Role.PARTY, "张三")])
    clerk = Caller(http, server, mine.people["赵书记员"].token)
    stranger = other.people["张三"].id
    store = server.app[STORE]

    status, body = await clerk.register(mine.people[TARGET].id, BODY)
    assert status == 200, body
    # The other hearing's people: refused by the one authorization path, nothing stored.
    status, body = await clerk.register(stranger, {**BODY, "legal_name": "张三",
                                                    "id_number": ZHANG_ID})  # fmt: skip
    assert (status, body["code"]) == (403, "forbidden"), body
    status, body = await clerk.call("GET", stranger, "registration")
    assert (status, body["code"]) == (403, "forbidden"), body
    status, body = await clerk.photo(stranger, b"\xff\xd8not a photo")
    assert (status, body["code"]) == (403, "forbidden"), body
    assert await store.get_registration(stranger) is None

    # Bad input from the console is the clear 4xx staff get, and changes nothing.
    before = await store.get_registration(mine.people[TARGET].id)
    status, body = await clerk.register(mine.people[TARGET].id, {**BODY, "id_number": "1234"})
    assert (status, body["code"]) == (422, "id_length"), body
    status, body = await clerk.register(mine.people[TARGET].id, {**BODY, "id_type": "card"})
    assert (status, body["code"]) == (422, "invalid_field"), body
    status, body = await clerk.call("GET", "no-such-participant", "registration")
    assert status == 404, body
    assert await store.get_registration(mine.people[TARGET].id) == before


@pytest.mark.media
async def test_the_clerk_uploads_the_reference_photo(
    server: TestServer, http: aiohttp.ClientSession
) -> None:
    h = await identity_hearing(
        server.app, [(Role.CLERK, "赵书记员"), (Role.PARTY, "张三"), (Role.PARTY, TARGET)]
    )
    clerk = Caller(http, server, h.people["赵书记员"].token)
    party = Caller(http, server, h.people["张三"].token)
    target = h.people[TARGET].id
    photo = face_bytes("obama.jpg")

    status, body = await party.photo(target, photo)
    assert (status, body["code"]) == (403, "forbidden"), body
    status, body = await party.photo(h.people["张三"].id, photo)  # not even one's own
    assert (status, body["code"]) == (403, "forbidden"), body

    two = side_by_side("obama.jpg", "biden.jpg")
    status, body = await clerk.photo(target, two)
    assert (status, body["code"]) == (422, "multiple_faces"), body
    status, body = await clerk.photo(target, b"\xff\xd8not a photo")
    assert (status, body["code"]) == (422, "image_invalid"), body
    status, body = await clerk.photo(target, photo)
    assert status == 200, body
    assert body["identity"]["reference_photo"] is True
