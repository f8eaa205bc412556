"""Join tokens that must be refused: wrong key, alg none, expired, early, other hearing, revoked."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient

from hearing_server.auth.tokens import TokenError
from hearing_server.keys import TOKENS
from support.api import add_participant, create_hearing, issue_link


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def _party_link(
    client: TestClient, headers: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    h = await create_hearing(client, headers)
    p = await add_participant(client, headers, h["id"], "party", "张三")
    return h, await issue_link(client, headers, p["id"])


async def _me(client: TestClient, token: str) -> tuple[int, str]:
    resp = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    return resp.status, (await resp.json())["code"] if resp.status != 200 else ""


def _claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


async def test_valid_token_accepted(client: TestClient, admin_headers: dict[str, str]) -> None:
    _, link = await _party_link(client, admin_headers)
    assert await _me(client, link["token"]) == (200, "")


async def test_wrong_key(client: TestClient, admin_headers: dict[str, str]) -> None:
    _, link = await _party_link(client, admin_headers)
    forged = jwt.encode(_claims(link["token"]), "another-key-" * 4, algorithm="HS256")
    assert await _me(client, forged) == (401, "invalid_token")


async def test_alg_none(client: TestClient, admin_headers: dict[str, str]) -> None:
    _, link = await _party_link(client, admin_headers)
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(link['token']))}."
    assert await _me(client, unsigned) == (401, "invalid_token")


async def test_tampered_role(client: TestClient, admin_headers: dict[str, str]) -> None:
    _, link = await _party_link(client, admin_headers)
    header, _, sig = link["token"].split(".")
    claims = _claims(link["token"])
    claims["role"] = "judge"
    assert await _me(client, f"{header}.{_b64(claims)}.{sig}") == (401, "invalid_token")


async def test_expired_and_not_yet_valid(client: TestClient, admin_headers: dict[str, str]) -> None:
    _, link = await _party_link(client, admin_headers)
    claims = _claims(link["token"])
    key_owner = client.app[TOKENS]
    now = int(time.time())
    expired = jwt.encode({**claims, "exp": now - 10}, key_owner._key, algorithm="HS256")
    assert await _me(client, expired) == (401, "token_expired")
    early = jwt.encode({**claims, "nbf": now + 3600}, key_owner._key, algorithm="HS256")
    assert await _me(client, early) == (401, "token_not_yet_valid")
    missing_jti = {k: v for k, v in claims.items() if k != "jti"}
    assert await _me(client, jwt.encode(missing_jti, key_owner._key, algorithm="HS256")) == (
        401,
        "invalid_token",
    )


async def test_other_hearing(client: TestClient, admin_headers: dict[str, str]) -> None:
    h1, link1 = await _party_link(client, admin_headers)
    _, link2 = await _party_link(client, admin_headers)
    tokens = client.app[TOKENS]
    claims = await tokens.verify_join(link1["token"], hearing_id=h1["id"])
    assert claims.hearing_id == h1["id"]
    with pytest.raises(TokenError) as info:
        await tokens.verify_join(link2["token"], hearing_id=h1["id"])
    assert info.value.code == "wrong_hearing"


async def test_revoked(client: TestClient, admin_headers: dict[str, str]) -> None:
    _, link = await _party_link(client, admin_headers)
    resp = await client.post(
        "/api/links/revoke", json={"token": link["token"]}, headers=admin_headers
    )
    assert resp.status == 200
    assert await _me(client, link["token"]) == (401, "token_revoked")


async def test_staff_token_is_not_a_join_token(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    resp = await client.post("/api/staff-tokens", json={"name": "office"}, headers=admin_headers)
    staff_token = (await resp.json())["token"]
    assert await _me(client, staff_token) == (401, "invalid_token")
    _, link = await _party_link(client, admin_headers)
    resp = await client.get("/api/hearings", headers={"Authorization": f"Bearer {link['token']}"})
    assert resp.status == 401
