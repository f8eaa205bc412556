"""Every class of bad input gets a 4xx with a JSON {code, message}; nothing is lost."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from support.api import HEARING_BODY, add_participant, create_hearing


async def _error(resp: Any, status: int, code: str) -> None:
    assert resp.status == status, await resp.text()
    body = await resp.json()
    assert body["code"] == code and body["message"]


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b"\xff\xfe\x00", 400, "invalid_json"),
        (b"[1, 2]", 400, "invalid_body"),
        (b'"a string"', 400, "invalid_body"),
        (b"", 400, "invalid_json"),
    ],
)
async def test_malformed_json(
    client: TestClient, admin_headers: dict[str, str], raw: bytes, status: int, code: str
) -> None:
    resp = await client.post(
        "/api/hearings", data=raw, headers={**admin_headers, "Content-Type": "application/json"}
    )
    await _error(resp, status, code)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"unexpected": 1}, "unknown_field"),
        ({"court": 12}, "invalid_field"),
        ({"title": None}, "invalid_field"),
        ({"title": "x" * 201}, "invalid_field"),
        ({"title": "bad\x00title"}, "invalid_field"),
        ({"title": "bad\ud800title"}, "invalid_field"),  # a lone surrogate: not text
        ({"kind": "tribunal"}, "invalid_field"),
        ({"visibility": "secret"}, "invalid_field"),
        ({"case_number": "ab"}, "invalid_case_number"),
        ({"case_number": "<script>alert(1)</script>"}, "invalid_case_number"),
        ({"scheduled_start": "yesterday"}, "invalid_date"),
        ({"scheduled_start": "2026-12-01T09:00:00"}, "invalid_date"),
        ({"scheduled_end": "2026-12-01T08:00:00+08:00"}, "invalid_date"),
        ({"scheduled_start": "2026-02-30T09:00:00+08:00"}, "invalid_date"),
    ],
)
async def test_invalid_fields(
    client: TestClient, admin_headers: dict[str, str], change: dict[str, Any], code: str
) -> None:
    resp = await client.post(
        "/api/hearings", json={**HEARING_BODY, **change}, headers=admin_headers
    )
    await _error(resp, 422, code)


async def test_missing_field(client: TestClient, admin_headers: dict[str, str]) -> None:
    body = dict(HEARING_BODY)
    del body["court"]
    await _error(
        await client.post("/api/hearings", json=body, headers=admin_headers), 422, "missing_field"
    )


async def test_wrong_content_type(client: TestClient, admin_headers: dict[str, str]) -> None:
    resp = await client.post(
        "/api/hearings",
        data="case=1",
        headers={**admin_headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    await _error(resp, 415, "unsupported_media_type")


async def test_oversize_body(client: TestClient, admin_headers: dict[str, str]) -> None:
    big = {**HEARING_BODY, "title": "x" * (200 * 1024)}
    await _error(
        await client.post("/api/hearings", json=big, headers=admin_headers), 413, "body_too_large"
    )
    # The server is still serving and nothing half-written is visible.
    resp = await client.get("/api/hearings", headers=admin_headers)
    assert (await resp.json())["hearings"] == []


async def test_auth_required(client: TestClient) -> None:
    await _error(await client.get("/api/hearings"), 401, "unauthorized")
    await _error(
        await client.get("/api/hearings", headers={"X-API-Key": "wrong"}), 401, "invalid_api_key"
    )
    await _error(
        await client.get("/api/hearings", headers={"Authorization": "Bearer x.y.z"}),
        401,
        "invalid_token",
    )


async def test_unknown_ids_and_routes(client: TestClient, admin_headers: dict[str, str]) -> None:
    await _error(await client.get("/api/hearings/nope", headers=admin_headers), 404, "not_found")
    await _error(
        await client.post("/api/participants/nope/links", headers=admin_headers), 404, "not_found"
    )
    await _error(await client.get("/api/nothing-here"), 404, "not_found")
    await _error(await client.delete("/api/hearings"), 405, "method_not_allowed")


async def test_bad_query(client: TestClient, admin_headers: dict[str, str]) -> None:
    for q in ("limit=abc", "limit=0", "offset=-1", "state=flying"):
        await _error(
            await client.get(f"/api/hearings?{q}", headers=admin_headers), 400, "invalid_query"
        )


async def test_invalid_transition_is_409(client: TestClient, admin_headers: dict[str, str]) -> None:
    h = await create_hearing(client, admin_headers)
    url = f"/api/hearings/{h['id']}/transitions"
    await client.post(url, json={"action": "close"}, headers=admin_headers)
    await _error(
        await client.post(url, json={"action": "open"}, headers=admin_headers),
        409,
        "invalid_transition",
    )
    await _error(
        await client.post(url, json={"action": "dance"}, headers=admin_headers),
        422,
        "invalid_field",
    )


async def test_bad_participants(client: TestClient, admin_headers: dict[str, str]) -> None:
    h = await create_hearing(client, admin_headers)
    url = f"/api/hearings/{h['id']}/participants"
    await _error(
        await client.post(url, json={"role": "king", "display_name": "x"}, headers=admin_headers),
        422,
        "invalid_field",
    )
    await _error(
        await client.post(url, json={"role": "party", "display_name": "  "}, headers=admin_headers),
        422,
        "invalid_value",
    )
    await _error(
        await client.post(
            url, json={"role": "party", "display_name": "张\udc00三"}, headers=admin_headers
        ),
        422,
        "invalid_field",
    )
    await _error(
        await client.post(
            url, json={"role": "mediator", "display_name": "调解员"}, headers=admin_headers
        ),
        422,
        "invalid_role",
    )
    judge = await add_participant(client, admin_headers, h["id"], "judge", "王法官")
    # Counsel must represent a party of the same hearing.
    await _error(
        await client.post(
            url,
            json={"role": "counsel", "display_name": "律师", "represents": judge["id"]},
            headers=admin_headers,
        ),
        422,
        "invalid_value",
    )
    await _error(
        await client.post(
            url,
            json={"role": "counsel", "display_name": "律师", "represents": "missing"},
            headers=admin_headers,
        ),
        404,
        "not_found",
    )
