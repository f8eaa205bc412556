"""Hearings, participants and the audit log survive a restart of the app."""

from __future__ import annotations

from typing import Any

from hearing_server.app import create_app
from hearing_server.config import Settings
from support.api import add_participant, create_hearing, issue_link


async def test_state_survives_restart(
    aiohttp_client: Any, settings: Settings, admin_headers: dict[str, str]
) -> None:
    first = await aiohttp_client(create_app(settings))
    h = await create_hearing(first, admin_headers)
    p = await add_participant(first, admin_headers, h["id"], "party", "张三")
    link = await issue_link(first, admin_headers, p["id"])
    await first.post(
        f"/api/hearings/{h['id']}/transitions", json={"action": "open"}, headers=admin_headers
    )
    audit_before = await (
        await first.get(f"/api/hearings/{h['id']}/audit", headers=admin_headers)
    ).json()
    await first.close()

    second = await aiohttp_client(create_app(settings))
    body = await (await second.get(f"/api/hearings/{h['id']}", headers=admin_headers)).json()
    assert body["state"] == "open"
    assert [x["id"] for x in body["participants"]] == [p["id"]]
    # The signing key persisted too: the old link still works.
    resp = await second.get("/api/me", headers={"Authorization": f"Bearer {link['token']}"})
    assert resp.status == 200
    audit_after = await (
        await second.get(f"/api/hearings/{h['id']}/audit", headers=admin_headers)
    ).json()
    assert audit_after["entries"] == audit_before["entries"] and audit_after["verified"]
