"""The job queue in a running app: a message job enqueued through the app's runner is sent
through the configured sender (the outbox by default); the admin API shows the queue and
refuses bad filters and callers without the admin key."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from hearing_server import keys
from hearing_server.app import create_app
from hearing_server.config import Settings
from hearing_server.service.message_jobs import MESSAGE_JOB, message_payload
from messaging import read_outbox


async def test_the_app_runs_message_jobs_and_shows_the_queue(
    aiohttp_client: Any, settings: Settings, admin_headers: dict[str, str]
) -> None:
    client: TestClient = await aiohttp_client(create_app(settings))
    runner = client.app[keys.JOBS]
    job, _ = await runner.enqueue(
        MESSAGE_JOB, message_payload("13800138000", "开庭通知", "请于12月8日9:00参加庭审")
    )
    assert await runner.drain(10.0)
    [entry] = read_outbox(settings.effective_outbox_dir)
    assert entry.text == "请于12月8日9:00参加庭审"

    resp = await client.get("/api/jobs", headers=admin_headers)
    assert resp.status == 200
    body = await resp.json()
    assert body["counts"] == {"pending": 0, "running": 0, "done": 1, "dead": 0}
    assert body["runner"]["running"] and body["runner"]["done"] == 1
    [listed] = body["jobs"]
    assert (listed["id"], listed["state"], listed["attempts"]) == (job.id, "done", 1)
    assert "payload" not in listed  # a message's text may hold a tracking link

    resp = await client.get("/api/jobs?state=done&kind=message.send&limit=5", headers=admin_headers)
    assert [j["id"] for j in (await resp.json())["jobs"]] == [job.id]
    for query in ("state=bogus", "limit=0", "limit=abc", "limit=5000"):
        resp = await client.get(f"/api/jobs?{query}", headers=admin_headers)
        assert resp.status == 400, query
        assert (await resp.json())["code"] == "invalid_value"
    assert (await client.get("/api/jobs")).status == 401
    assert (await client.get("/api/jobs", headers={"X-API-Key": "wrong"})).status == 401
