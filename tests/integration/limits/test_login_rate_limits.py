"""Login-like routes (they check or issue a secret) are capped per client address and per
secret presented: 429 ``rate_limited`` with Retry-After, and nobody else is affected."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiohttp.test_utils import TestClient

from hearing_server.app import create_app
from hearing_server.config import Settings
from support.api import add_participant, create_hearing, issue_link


def _from(address: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    return {"X-Forwarded-For": address, **(headers or {})}


async def _staff_token(client: TestClient, headers: dict[str, str]) -> int:
    resp = await client.post("/api/staff-tokens", json={"name": "书记员"}, headers=headers)
    return resp.status


async def _assert_limited(resp: Any) -> None:
    assert resp.status == 429, await resp.text()
    assert int(resp.headers["Retry-After"]) >= 1
    body = await resp.json()
    assert body["code"] == "rate_limited" and body["message"]


async def test_staff_token_issuance_is_capped_per_address(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    # Six guesses of the admin key from one address spend its six; the seventh is refused.
    statuses = [
        await _staff_token(client, _from("10.0.0.1", {"X-API-Key": f"guess-{i}"})) for i in range(6)
    ]
    assert statuses == [401] * 6
    resp = await client.post(
        "/api/staff-tokens", json={"name": "x"}, headers=_from("10.0.0.1", {"X-API-Key": "g7"})
    )
    await _assert_limited(resp)
    # Another address is not affected, nor are the other routes from the limited one, nor
    # the admin key itself (the back office issues links in bulk with it).
    assert await _staff_token(client, _from("10.0.0.2", {"X-API-Key": "guess-8"})) == 401
    resp = await client.get("/api/hearings", headers=_from("10.0.0.1", admin_headers))
    assert resp.status == 200
    statuses = [await _staff_token(client, _from("10.0.0.1", admin_headers)) for _ in range(10)]
    assert statuses == [201] * 10


async def test_a_staff_token_issuing_links_is_capped(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    resp = await client.post("/api/staff-tokens", json={"name": "书记员"}, headers=admin_headers)
    staff = {"Authorization": f"Bearer {(await resp.json())['token']}"}
    h = await create_hearing(client, admin_headers)
    p = await add_participant(client, admin_headers, h["id"], "party", "张三")
    url = f"/api/participants/{p['id']}/links"
    # The token's four, from four addresses; the fifth is refused wherever it comes from.
    for i in range(4):
        resp = await client.post(url, headers=_from(f"10.0.1.{i}", staff))
        assert resp.status == 201, await resp.text()
    await _assert_limited(await client.post(url, headers=_from("10.0.1.9", staff)))
    resp = await client.post(url, headers=_from("10.0.1.9", admin_headers))
    assert resp.status == 201


async def test_the_secret_is_capped_whatever_the_address(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    h = await create_hearing(client, admin_headers)
    party = await add_participant(client, admin_headers, h["id"], "party", "张三")
    other = await add_participant(client, admin_headers, h["id"], "party", "李四")
    token = (await issue_link(client, admin_headers, party["id"]))["token"]
    other_token = (await issue_link(client, admin_headers, other["id"]))["token"]

    async def code(address: str, bearer: str) -> Any:
        return await client.post(
            "/api/me/identity/code",
            json={"code": "000000"},
            headers=_from(address, {"Authorization": f"Bearer {bearer}"}),
        )

    # Four one-time code guesses with one link, each from a new address: the fifth is refused.
    for i in range(4):
        resp = await code(f"10.1.0.{i}", token)
        assert resp.status not in (429, 500), await resp.text()
    await _assert_limited(await code("10.1.0.9", token))
    # Another participant's link, from one of those addresses, still answers.
    resp = await code("10.1.0.0", other_token)
    assert resp.status not in (429, 500), await resp.text()


async def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(replace(settings, trusted_proxies=[])))
    # A client that names a new address in each request is still one address: its own.
    statuses = [
        await _staff_token(client, _from(f"10.2.0.{i}", {"X-API-Key": f"guess-{i}"}))
        for i in range(7)
    ]
    assert statuses == [401] * 6 + [429]


async def test_token_pages_are_capped(client: TestClient) -> None:
    # A secret in the path (slot links, service tracking links) counts like a header.
    statuses = [
        (await client.get(f"/api/pick/guess{i}", headers=_from("10.3.0.1"))).status
        for i in range(7)
    ]
    assert 500 not in statuses and statuses[-1] == 429 and 429 not in statuses[:6]
    statuses = [
        (await client.get("/s/one-token", headers=_from(f"10.3.1.{i}"))).status for i in range(5)
    ]
    assert 500 not in statuses and statuses[-1] == 429 and 429 not in statuses[:4]
