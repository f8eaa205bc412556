"""Happy paths of the HTTP API against a real app on each store backend."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from support.api import HEARING_BODY, add_participant, create_hearing, issue_link


async def test_health_and_ready(client: TestClient) -> None:
    assert (await client.get("/healthz")).status == 200
    resp = await client.get("/readyz")
    assert resp.status == 200
    assert (await resp.json())["schema_version"] >= 1


async def test_create_list_get_update_hearing(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    h = await create_hearing(client, admin_headers)
    assert h["state"] == "scheduled"
    assert h["case_number"] == HEARING_BODY["case_number"]
    assert h["kind"] == "hearing" and h["visibility"] == "public"

    resp = await client.get("/api/hearings", headers=admin_headers)
    assert [x["id"] for x in (await resp.json())["hearings"]] == [h["id"]]

    resp = await client.get(f"/api/hearings/{h['id']}", headers=admin_headers)
    body = await resp.json()
    assert body["title"] == HEARING_BODY["title"] and body["participants"] == []

    resp = await client.patch(
        f"/api/hearings/{h['id']}",
        json={"title": "新标题", "visibility": "closed"},
        headers=admin_headers,
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["title"] == "新标题" and body["visibility"] == "closed"

    resp = await client.get("/api/hearings?state=closed", headers=admin_headers)
    assert (await resp.json())["hearings"] == []


async def test_the_language_of_captions_and_transcript_is_a_hearing_setting(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    h = await create_hearing(client, admin_headers)
    assert h["language"] is None  # the server's transcription_language (zh-CN by default)
    resp = await client.post("/api/hearings", json={**HEARING_BODY, "language": "en"},
                             headers=admin_headers)
    assert resp.status == 201 and (await resp.json())["language"] == "en"
    url = f"/api/hearings/{h['id']}"
    resp = await client.patch(url, json={"language": "zh-CN"}, headers=admin_headers)
    assert resp.status == 200 and (await resp.json())["language"] == "zh-CN"
    resp = await client.get(url, headers=admin_headers)
    assert (await resp.json())["language"] == "zh-CN"  # stored, on either backend
    resp = await client.patch(url, json={"language": None}, headers=admin_headers)
    assert resp.status == 200 and (await resp.json())["language"] is None
    for bad in ("fr", "zh", "", 5):
        resp = await client.patch(url, json={"language": bad}, headers=admin_headers)
        assert resp.status == 422, bad
        assert (await resp.json())["code"] == "invalid_field"
        resp = await client.post("/api/hearings", json={**HEARING_BODY, "language": bad},
                                 headers=admin_headers)
        assert resp.status == 422, bad


async def test_open_and_close_by_staff(client: TestClient, admin_headers: dict[str, str]) -> None:
    h = await create_hearing(client, admin_headers)
    url = f"/api/hearings/{h['id']}/transitions"
    resp = await client.post(url, json={"action": "open"}, headers=admin_headers)
    assert (await resp.json())["state"] == "open"
    # Starting is the judge's act, not staff's.
    resp = await client.post(url, json={"action": "start"}, headers=admin_headers)
    assert resp.status == 403
    resp = await client.post(url, json={"action": "close"}, headers=admin_headers)
    body = await resp.json()
    assert body["state"] == "closed" and body["actual_end"] is not None
    # A closed hearing cannot be changed, and no links are issued for it.
    resp = await client.patch(
        f"/api/hearings/{h['id']}", json={"title": "x y z"}, headers=admin_headers
    )
    assert resp.status == 409
    assert (await resp.json())["code"] == "conflict"


async def test_participants_links_and_me(client: TestClient, admin_headers: dict[str, str]) -> None:
    h = await create_hearing(client, admin_headers)
    judge = await add_participant(client, admin_headers, h["id"], "judge", "王法官")
    party = await add_participant(client, admin_headers, h["id"], "party", "张三", side="plaintiff")
    counsel = await add_participant(
        client, admin_headers, h["id"], "counsel", "刘律师", represents=party["id"]
    )
    assert counsel["represents"] == party["id"]

    link = await issue_link(client, admin_headers, party["id"])
    assert link["url"].startswith("http://127.0.0.1:8080/join#token=")
    resp = await client.get("/api/me", headers={"Authorization": f"Bearer {link['token']}"})
    assert resp.status == 200
    view: dict[str, Any] = await resp.json()
    assert view["me"]["id"] == party["id"] and view["hearing"]["id"] == h["id"]
    assert {p["id"] for p in view["participants"]} == {judge["id"], party["id"], counsel["id"]}
    # A party does not see others' live states; the judge does.
    assert all("state" not in p for p in view["participants"])

    jlink = await issue_link(client, admin_headers, judge["id"])
    jh = {"Authorization": f"Bearer {jlink['token']}"}
    view = await (await client.get("/api/me", headers=jh)).json()
    assert all("state" in p for p in view["participants"])

    # The presiding judge runs the hearing with their own token.
    await client.post(
        f"/api/hearings/{h['id']}/transitions", json={"action": "open"}, headers=admin_headers
    )
    resp = await client.post("/api/me/hearing/transitions", json={"action": "start"}, headers=jh)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["state"] == "in_session"
    # The party may not.
    resp = await client.post(
        "/api/me/hearing/transitions",
        json={"action": "pause"},
        headers={"Authorization": f"Bearer {link['token']}"},
    )
    assert resp.status == 403 and (await resp.json())["code"] == "forbidden"


async def test_audit_log_records_and_verifies(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    h = await create_hearing(client, admin_headers)
    p = await add_participant(client, admin_headers, h["id"], "party", "张三")
    await issue_link(client, admin_headers, p["id"])
    await client.post(
        f"/api/hearings/{h['id']}/transitions", json={"action": "open"}, headers=admin_headers
    )
    resp = await client.get(f"/api/hearings/{h['id']}/audit", headers=admin_headers)
    body = await resp.json()
    assert [e["event"] for e in body["entries"]] == [
        "hearing_created",
        "identity_policy_set",  # the default policy, written with the hearing
        "participant_added",
        "link_issued",
        "hearing_state_changed",
    ]
    assert body["verified"] is True and body["problems"] == []
    assert body["entries"][1]["prev_hash"] == body["entries"][0]["hash"]


async def test_staff_token_flow(client: TestClient, admin_headers: dict[str, str]) -> None:
    resp = await client.post(
        "/api/staff-tokens", json={"name": "clerk-office"}, headers=admin_headers
    )
    assert resp.status == 201
    token = (await resp.json())["token"]
    staff = {"Authorization": f"Bearer {token}"}
    h = await create_hearing(client, staff)
    audit = await (await client.get(f"/api/hearings/{h['id']}/audit", headers=staff)).json()
    assert audit["entries"][0]["actor"] == "staff:clerk-office"
    # A staff token cannot mint more staff tokens.
    resp = await client.post("/api/staff-tokens", json={"name": "x"}, headers=staff)
    assert resp.status == 401


async def test_openapi_describes_every_route(client: TestClient) -> None:
    resp = await client.get("/api/openapi.json")
    spec = await resp.json()
    assert spec["openapi"].startswith("3.")
    assert "post" in spec["paths"]["/api/hearings"]
    assert spec["components"]["schemas"]["HearingCreate"]["additionalProperties"] is False
    assert "/api/participants/{participant_id}/links" in spec["paths"]
