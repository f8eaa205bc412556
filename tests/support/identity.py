"""Identity checks in tests: valid ID numbers, a hearing with a policy and registrations,
the participant's HTTP calls, and the one-time code read from the outbox."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from hearing_server.core.hearing import HearingKind
from hearing_server.core.identity import IdentityPolicy, IdType
from hearing_server.core.participant import Role
from hearing_server.keys import IDENTITY, SETTINGS
from identitykit import check_digit
from messaging import read_outbox

from .hearing import STAFF, Person, make_hearing


def resident_id(body17: str) -> str:
    """A valid resident ID number from its first 17 digits."""
    return body17 + check_digit(body17)


# Made up, but valid by GB 11643-1999 (Beijing Chaoyang; Shanghai Pudong).
ZHANG_ID = resident_id("11010519800312123")
LI_ID = resident_id("31011519920730456")
ZHANG_PHONE = "13800138000"
LI_PHONE = "13900139000"


@dataclass
class IdentityHearing:
    hearing_id: str
    people: dict[str, Person]


async def identity_hearing(
    app: web.Application,
    people: list[tuple[Role, str]],
    *,
    policy: str = "id_and_code",
    state: str = "open",
    kind: HearingKind = HearingKind.HEARING,
    register: dict[str, tuple[str, str]] | None = None,
) -> IdentityHearing:
    """A hearing with ``policy`` whose people named in ``register`` (name -> (ID, phone)) are
    registered with a resident ID."""
    hid, made = await make_hearing(app, people, state=state, kind=kind)
    service = app[IDENTITY]
    await service.set_policy(STAFF, hid, IdentityPolicy.parse(policy))
    for name, (number, phone) in (register or {}).items():
        await service.register(
            STAFF,
            made[name].id,
            legal_name=name,
            id_type=IdType.RESIDENT_ID,
            id_number=number,
            phone=phone,
        )
    return IdentityHearing(hid, made)


class Me:
    """A participant's own HTTP calls with their join token."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str) -> None:
        self._session = session
        self._base = base
        self._headers = {"Authorization": f"Bearer {token}"}

    async def call(
        self, method: str, path: str, body: Any = None, **kw: Any
    ) -> tuple[int, dict[str, Any]]:
        async with self._session.request(
            method, self._base + path, json=body, headers=self._headers, **kw
        ) as resp:
            return resp.status, await resp.json()

    async def identity(self) -> dict[str, Any]:
        status, body = await self.call("GET", "/api/me/identity")
        assert status == 200, body
        return body

    async def id_number(self, name: str, number: str) -> tuple[int, dict[str, Any]]:
        return await self.call(
            "POST", "/api/me/identity/id-number", {"legal_name": name, "id_number": number}
        )

    async def send_code(self) -> tuple[int, dict[str, Any]]:
        return await self.call("POST", "/api/me/identity/code/send", {})

    async def code(self, code: str) -> tuple[int, dict[str, Any]]:
        return await self.call("POST", "/api/me/identity/code", {"code": code})


def outbox_code(app: web.Application, phone: str) -> str:
    """The newest one-time code the outbox holds for ``phone``."""
    return code_in(outbox_text(app[SETTINGS].effective_outbox_dir, phone))


def outbox_text(directory: Path, recipient: str) -> str:
    for entry in read_outbox(directory):
        if entry.recipient == recipient:
            return entry.text
    raise AssertionError(f"no message for {recipient} in {directory}")


def code_in(text: str) -> str:
    match = re.search(r"\b([0-9]{6})\b", text)
    assert match, text
    return match.group(1)
