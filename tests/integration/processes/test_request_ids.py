"""A real server logging JSON: every line is one object; each HTTP request's lines carry its
id (the caller's ``X-Request-Id`` or a new one, answered in ``X-Request-Id``), and a refused
signaling event's answer carries the id its lines were written under."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp

from signaling.client import HearingClient
from testbed.nodes import ADMIN_KEY, open_hearing_with, start_server_process


async def test_json_log_lines_carry_the_request_ids(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = await start_server_process(tmp_path / "data", log, log_format="json")
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server.url}/healthz", headers={"X-Request-Id": "court-7"}) as r:
                assert r.status == 200 and r.headers["X-Request-Id"] == "court-7"
            async with http.get(
                f"{server.url}/api/hearings/no-such-hearing",
                headers={"X-API-Key": ADMIN_KEY, "X-Request-Id": "bad id\twith spaces"},
            ) as r:
                assert r.status == 404
                made = r.headers["X-Request-Id"]
                assert len(made) == 16 and made != "bad id\twith spaces"
        _, tokens = await open_hearing_with(server.url, ("judge", "王法官"))
        judge = HearingClient(server.url, tokens["王法官"])
        try:
            await judge.connect()
            await judge.join()
            answer = await judge._sio.call(
                "hearing_action", {"action": "fly"}, namespace="/hearing", timeout=10
            )
        finally:
            await judge.close()
        assert answer["ok"] is False and len(answer["request_id"]) == 16, answer
        await asyncio.sleep(0.3)  # the access log line is written after the answer
    finally:
        await server.kill()
    written = [line for line in log.read_text(encoding="utf-8").splitlines() if line]
    # Besides the log (stderr), the file has the start banner the server prints on stdout.
    banner = [line for line in written if not line.startswith("{")]
    assert all(line.startswith(("hearing-server listening", "admin API key")) for line in banner)
    lines = [json.loads(line) for line in written if line.startswith("{")]
    assert all({"time", "level", "logger", "message", "request_id"} <= set(x) for x in lines)
    access = {x["request_id"]: x["message"] for x in lines if x["logger"] == "aiohttp.access"}
    assert "GET /healthz" in access["court-7"]
    assert "GET /api/hearings/no-such-hearing" in access[made]
