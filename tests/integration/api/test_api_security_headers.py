"""Every API answer is marked not to be sniffed, stored or followed by a referrer, errors
included; an answer that says how it is cached (an exhibit's page image) keeps its own."""

from __future__ import annotations

import aiohttp
from aiohttp.test_utils import TestServer

from hearing_server.core.participant import Role
from support.hearing import make_hearing


async def test_api_answers_carry_the_hardening_headers(server: TestServer) -> None:
    _, people = await make_hearing(server.app, [(Role.JUDGE, "王法官")], state="open")
    base = f"http://127.0.0.1:{server.port}"
    judge = {"Authorization": f"Bearer {people['王法官'].token}"}
    async with aiohttp.ClientSession() as http:
        for path, headers, status in (
            ("/api/me", judge, 200),
            ("/api/me", {}, 401),
            ("/api/hearings/nope", {"X-API-Key": "wrong"}, 401),
        ):
            async with http.get(f"{base}{path}", headers=headers) as resp:
                assert resp.status == status, (path, resp.status)
                assert resp.headers["X-Content-Type-Options"] == "nosniff"
                assert resp.headers["Cache-Control"] == "no-store"
                assert resp.headers["Referrer-Policy"] == "no-referrer"
