"""A real server's access log never holds the secret of a service link, a slot-picking link
or an exhibit ticket (hearing_server/access_log.py), but still says what was asked."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from hearing_server.access_log import redact
from testbed.nodes import start_server_process

SECRET = "s3cr3t-link-token-0123456789abcdef"


def test_redact_hides_the_secret_segments_and_parameters() -> None:
    assert redact(f"/s/{SECRET}/document") == "/s/[hidden]/document"
    assert redact(f"/api/pick/{SECRET}") == "/api/pick/[hidden]"
    assert redact(f"/api/evidence-files/{SECRET}?page=2") == "/api/evidence-files/[hidden]?page=2"
    assert redact(f"/x?a=1&token={SECRET}&code=123456") == "/x?a=1&token=[hidden]&code=[hidden]"
    assert redact("/api/hearings/h1/participants") == "/api/hearings/h1/participants"


async def test_the_servers_access_log_holds_no_link_secret(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = await start_server_process(tmp_path / "data", log)
    try:
        async with aiohttp.ClientSession() as http:
            for path in (
                f"/s/{SECRET}",
                f"/s/{SECRET}/calendar.ics",
                f"/api/pick/{SECRET}",
                f"/api/evidence-files/{SECRET}",
                f"/healthz?token={SECRET}",
            ):
                async with http.get(f"{server.url}{path}") as resp:
                    assert resp.status < 500, (path, resp.status)
        await asyncio.sleep(0.2)  # the access log line is written after the answer
    finally:
        await server.kill()
    text = log.read_text(encoding="utf-8", errors="replace")
    assert SECRET not in text
    assert text.count("[hidden]") >= 5, text[-2000:]
    assert '"GET /s/[hidden]/calendar.ics HTTP/1.1" 4' in text
