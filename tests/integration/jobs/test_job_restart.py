"""The job queue across a SIGKILL (issue 17): jobs due while the server was down are sent when
it starts; a server killed in the middle of the batch is started again and every message is
delivered exactly once.

Real servers (``python -m hearing_server serve``) on one data dir, sending through the HTTP SMS
gateway sender to a gateway this test runs on 127.0.0.1. The gateway behaves as a gateway with
idempotency keys does: a POST with a key it has seen is answered 200 and not delivered again.
So the test checks both halves of "exactly once": each job's key is delivered once, and the
only keys posted twice are those of jobs the kill caught in flight (their outcome was never
recorded, so they ran again, with the same key).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from hearing_server.core.jobs import new_job
from hearing_server.service.message_jobs import MESSAGE_JOB, message_payload
from hearing_server.store.sqlite import SQLiteStore
from testbed.nodes import ADMIN_KEY, free_port, server_environ

REPO = Path(__file__).resolve().parents[3]
JOBS = 80
CONCURRENCY = 4
GATEWAY_DELAY_S = 0.05  # per message, so the kill lands mid-batch
KILL_AFTER = 20  # messages delivered before the SIGKILL
LEASE_S = 2.0
READY_S = 60.0
BODY_TEMPLATE = '{"to": "{recipient}", "text": "{text}", "ref": "{key}"}'


class Gateway:
    """An SMS gateway: records every POST; delivers each idempotency key once."""

    def __init__(self) -> None:
        self.posts: list[str] = []
        self.delivered: dict[str, dict[str, str]] = {}
        self.failing = False

    async def handle(self, request: web.Request) -> web.Response:
        key = request.headers.get("Idempotency-Key", "")
        body = await request.json()
        await asyncio.sleep(GATEWAY_DELAY_S)
        if self.failing:
            return web.json_response({"error": "down for maintenance"}, status=503)
        self.posts.append(key)
        if key in self.delivered:
            return web.json_response({"duplicate": True})
        self.delivered[key] = body
        return web.json_response({"id": f"sms-{len(self.delivered)}"})


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[Gateway, str]]:
    gw = Gateway()
    app = web.Application()
    app.router.add_post("/sms", gw.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield gw, f"http://127.0.0.1:{port}/sms"
    await runner.cleanup()


def _environment(data_dir: Path, port: int, gateway_url: str) -> dict[str, str]:
    return server_environ(
        data_dir,
        port,
        identity_default_policy="standard",  # the loader's default, as before
        face_checks_enabled="false",
        message_sender="http",
        message_http_url=gateway_url,
        message_http_body_template=BODY_TEMPLATE,
        jobs_lease_seconds=str(LEASE_S),
        jobs_concurrency=str(CONCURRENCY),
        jobs_retry_seconds="0.2",
        jobs_poll_seconds="0.5",
    )


async def _start(tmp_path: Path, gateway_url: str, n: int) -> asyncio.subprocess.Process:
    port = free_port()
    log = tmp_path / f"server-{n}.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hearing_server", "serve",
            cwd=REPO, env=_environment(tmp_path / "var", port, gateway_url),
            stdout=out, stderr=out,
        )  # fmt: skip
    proc.port = port  # type: ignore[attr-defined]
    return proc


async def _job_counts(port: int) -> dict[str, int] | None:
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                f"http://127.0.0.1:{port}/api/jobs?limit=1", headers={"X-API-Key": ADMIN_KEY}
            ) as resp,
        ):
            if resp.status != 200:
                return None
            return dict((await resp.json())["counts"])
    except aiohttp.ClientError:
        return None


async def _enqueue_while_down(db: Path) -> list[str]:
    """The jobs a clerk's action stored before the server went down: all due now."""
    store = SQLiteStore(db)
    await store.open()
    ids = []
    try:
        now = datetime.now(UTC)
        for n in range(JOBS):
            payload = message_payload(f"1380013{n:04d}", "开庭通知", f"第{n}号通知 请按时参加庭审")
            job, _ = await store.enqueue_job(new_job(MESSAGE_JOB, payload, now=now))
            ids.append(job.id)
    finally:
        await store.close()
    return ids


async def test_a_killed_server_sends_every_job_once_after_restart(
    tmp_path: Path, gateway: tuple[Gateway, str]
) -> None:
    gw, url = gateway
    db = tmp_path / "var" / "hearings.sqlite3"
    ids = await _enqueue_while_down(db)

    first = await _start(tmp_path, url, 0)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_S
    try:
        while len(gw.delivered) < KILL_AFTER:
            assert first.returncode is None, (tmp_path / "server-0.log").read_text()
            assert loop.time() < deadline, (tmp_path / "server-0.log").read_text()
            await asyncio.sleep(0.005)
        os.kill(first.pid, signal.SIGKILL)
        assert await asyncio.wait_for(first.wait(), 10) == -signal.SIGKILL
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
    at_kill = len(gw.delivered)
    assert at_kill < JOBS, "the batch finished before the kill; the test proves nothing"
    with sqlite3.connect(db) as conn:
        in_flight = {r[0] for r in conn.execute("SELECT id FROM jobs WHERE state = 'running'")}
        done_before = conn.execute("SELECT COUNT(*) FROM jobs WHERE state = 'done'").fetchone()[0]
    assert len(in_flight) <= CONCURRENCY

    # The gateway fails for a while after the restart: the queue retries, nothing is lost.
    gw.failing = True
    second = await _start(tmp_path, url, 1)
    try:
        await asyncio.sleep(1.0)
        gw.failing = False
        deadline = loop.time() + READY_S
        while True:
            assert second.returncode is None, (tmp_path / "server-1.log").read_text()
            counts = await _job_counts(second.port)  # type: ignore[attr-defined]
            if counts is not None and counts["done"] == JOBS:
                break
            assert loop.time() < deadline, (counts, (tmp_path / "server-1.log").read_text())
            await asyncio.sleep(0.1)
        assert counts == {"pending": 0, "running": 0, "done": JOBS, "dead": 0}
    finally:
        second.send_signal(signal.SIGTERM)
        await asyncio.wait_for(second.wait(), 30)

    # Delivered once each: every job's key, and nothing else.
    assert sorted(gw.delivered) == sorted(ids)
    texts = sorted(body["text"] for body in gw.delivered.values())
    assert texts == sorted(f"第{n}号通知 请按时参加庭审" for n in range(JOBS))
    assert all(body["ref"] in ids for body in gw.delivered.values())
    # Posted twice only where the kill left the outcome unrecorded.
    repeats = {k for k in gw.posts if gw.posts.count(k) > 1}
    assert repeats <= in_flight, (repeats, in_flight)
    assert len(gw.posts) == JOBS + len(repeats)
    print(
        f"\n{at_kill} delivered before the SIGKILL ({done_before} recorded done, "
        f"{len(in_flight)} in flight); {len(repeats)} repeated after the restart, "
        f"dropped by key; {JOBS} delivered once each"
    )
