"""Every route that takes a body answers a body past its limit with a JSON 4xx, never a
500: ``max_body_bytes`` for JSON bodies (413 ``body_too_large``), and the evidence and
service uploads' own larger limits."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hearing_server.api.agreements import MAX_DRAFT_BYTES, MAX_SIGN_BYTES
from hearing_server.api.routes import ROUTES
from hearing_server.config import Settings
from support.api import add_participant, create_hearing, issue_link

LIMIT = 4096
# Routes whose bodies outgrow the default have their own limit (a drawn signature, a draft).
OWN_LIMITS = {
    "PUT /api/me/agreement/draft": MAX_DRAFT_BYTES,
    "POST /api/me/agreement/sign": MAX_SIGN_BYTES,
}
TOO_LARGE = {"body_too_large", "payload_too_large"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # (no face worker process: the reference photo route would start one for this garbage)
    return replace(
        settings, max_body_bytes=LIMIT, login_requests_per_minute=10_000, face_checks_enabled=False
    )


async def test_every_body_route_refuses_an_oversize_body(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    h = await create_hearing(client, admin_headers)
    p = await add_participant(client, admin_headers, h["id"], "party", "张三")
    join = {
        "Authorization": f"Bearer {(await issue_link(client, admin_headers, p['id']))['token']}"
    }
    ids = {"hearing_id": h["id"], "participant_id": p["id"]}
    answers: dict[str, tuple[int, str]] = {}
    for r in ROUTES:
        if r.method not in ("POST", "PUT", "PATCH") or r.path == "/api/node/drain":
            continue  # (draining would stop this node taking the rest)
        path = re.sub(r"{(\w+)(?::[^}]*)?}", lambda m: ids.get(m.group(1), "x1"), r.path)
        headers = join if r.auth == "join" else admin_headers
        name = f"{r.method} {r.path}"
        big = b'{"x": "' + b"a" * (OWN_LIMITS.get(name, LIMIT) + 1) + b'"}'
        resp = await client.request(
            r.method, path, data=big, headers={**headers, "Content-Type": "application/json"}
        )
        assert resp.status < 500, (r.method, r.path, resp.status, await resp.text())
        body: Any = await resp.json() if resp.content_type == "application/json" else {}
        if resp.status >= 400 and r.path.startswith("/api/"):  # (/s/ pages answer in HTML)
            assert body.get("code") and body.get("message"), (r.method, r.path, resp.status, body)
        else:
            # Only a route that takes no body may ignore it.
            assert r.body is None, (r.method, r.path, resp.status)
        answers[name] = (resp.status, body.get("code", ""))
    too_large = {k for k, (s, c) in answers.items() if s == 413}
    assert all(answers[k][1] in TOO_LARGE for k in too_large), answers
    # Every route that reads a JSON body and got that far said 413.
    with_body = {f"{r.method} {r.path}" for r in ROUTES if r.body is not None} | set(OWN_LIMITS)
    reached = {k for k in with_body if answers[k][0] not in (401, 403, 404)}
    assert reached and reached <= too_large, {k: answers[k] for k in reached - too_large}
