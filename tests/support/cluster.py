"""Several server nodes in one test: their settings (one PostgreSQL, one Redis, the shared
join-link key), and what a node's client receives."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

from hearing_server.config import Settings
from signaling.client import HearingClient
from support.api import HEARING_BODY
from support.media import TrackConsumer
from support.waiting import wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def node_settings(
    settings: Settings,
    name: str,
    port: int,
    *,
    redis_url: str,
    postgres_url: str,
    shared: Path,
    **extra: Any,
) -> Settings:
    """Node ``name`` listening on ``port``: its own data dir under ``shared``; the store,
    the Redis and the key that signs and checks join links shared with the other nodes."""
    return replace(
        settings,
        data_dir=shared / name,
        database_url=postgres_url,
        redis_url=redis_url,
        node_id=name,
        node_url=f"http://127.0.0.1:{port}",
        signing_key_path=shared / "jwt_signing.key",
        **extra,
    )


async def receives_video(client: HearingClient, publisher_id: str, what: str) -> None:
    """Wait until ``client`` has decoded 10 frames of ``publisher_id``'s camera."""
    video = await client.wait_for_track(publisher_id, "video", timeout=30)
    consumer = TrackConsumer(video)
    try:
        await wait_until(lambda: consumer.state.frames >= 10, 30, what)
    finally:
        await consumer.stop()


REPO = Path(__file__).resolve().parents[2]
ADMIN_KEY = "process-admin-key-0123456789abcdef0123456789"
READY_S = 60.0


class ServerProcess:
    """One ``hearing-server serve`` process of a test; its output goes to ``log``."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int, log: Path) -> None:
        self.proc, self.port, self.log = proc, port, log
        self.url = f"http://127.0.0.1:{port}"

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_S
        async with aiohttp.ClientSession() as http:
            while True:
                assert self.proc.returncode is None, self.log.read_text(errors="replace")
                assert time.monotonic() < deadline, self.log.read_text(errors="replace")
                try:
                    async with http.get(f"{self.url}/readyz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


async def start_server_process(data_dir: Path, log: Path, **settings: str) -> ServerProcess:
    """A real server on 127.0.0.1 and a free port, on ``data_dir``: the admin key
    ``ADMIN_KEY``, no composite, no transcription, no identity checks, and ``settings``
    (names as in docs/configuration.md) on top; ready when this returns."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARING_")}
    env.update(
        PYTHONPATH=str(REPO),
        HEARING_DATA_DIR=str(data_dir),
        HEARING_HOST="127.0.0.1",
        HEARING_PORT=str(port),
        HEARING_ADMIN_API_KEY=ADMIN_KEY,
        HEARING_MEDIA_ANNOUNCED_ADDRESSES="127.0.0.1",
        HEARING_COMPOSITE_ENABLED="false",
        HEARING_TRANSCRIPTION_ENABLED="false",
        HEARING_IDENTITY_DEFAULT_POLICY="none",
    )
    env.update({f"HEARING_{name.upper()}": value for name, value in settings.items()})
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hearing_server", "serve",
            cwd=REPO, env=env, stdout=out, stderr=out,
        )  # fmt: skip
    server = ServerProcess(proc, port, log)
    await server.wait_ready()
    return server


async def open_hearing_with(base: str, *roles: tuple[str, str]) -> tuple[str, dict[str, str]]:
    """Through the staff API: a hearing, opened, with ``(role, name)`` people; returns its id
    and each name's join token."""
    headers = {"X-API-Key": ADMIN_KEY}
    tokens: dict[str, str] = {}
    async with aiohttp.ClientSession() as http:
        resp = await http.post(f"{base}/api/hearings", json=HEARING_BODY, headers=headers)
        assert resp.status == 201, await resp.text()
        hid = str((await resp.json())["id"])
        for role, name in roles:
            body: dict[str, Any] = {"role": role, "display_name": name}
            if role == "party":
                body["side"] = "plaintiff"
            resp = await http.post(
                f"{base}/api/hearings/{hid}/participants", json=body, headers=headers
            )
            assert resp.status == 201, await resp.text()
            pid = (await resp.json())["id"]
            resp = await http.post(f"{base}/api/participants/{pid}/links", headers=headers)
            assert resp.status == 201, await resp.text()
            tokens[name] = str((await resp.json())["token"])
        await transition(base, hid, "open")
    return hid, tokens


async def transition(base: str, hearing_id: str, action: str) -> None:
    async with aiohttp.ClientSession() as http:
        resp = await http.post(
            f"{base}/api/hearings/{hearing_id}/transitions",
            json={"action": action},
            headers={"X-API-Key": ADMIN_KEY},
        )
        assert resp.status == 200, await resp.text()


async def judge_transition(base: str, judge_token: str, action: str) -> None:
    """The judge moves the hearing on (``start``, ``pause``, ...) from their console."""
    async with aiohttp.ClientSession() as http:
        resp = await http.post(
            f"{base}/api/me/hearing/transitions",
            json={"action": action},
            headers={"Authorization": f"Bearer {judge_token}"},
        )
        assert resp.status == 200, await resp.text()
