"""Builders for API tests: create hearings, participants and links through the HTTP API."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from testbed.nodes import HEARING_BODY


async def create_hearing(
    client: TestClient, headers: dict[str, str], **extra: Any
) -> dict[str, Any]:
    resp = await client.post("/api/hearings", json={**HEARING_BODY, **extra}, headers=headers)
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def add_participant(
    client: TestClient, headers: dict[str, str], hearing_id: str, role: str, name: str, **extra: Any
) -> dict[str, Any]:
    resp = await client.post(
        f"/api/hearings/{hearing_id}/participants",
        json={"role": role, "display_name": name, **extra},
        headers=headers,
    )
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def issue_link(
    client: TestClient, headers: dict[str, str], participant_id: str
) -> dict[str, Any]:
    resp = await client.post(f"/api/participants/{participant_id}/links", headers=headers)
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())
