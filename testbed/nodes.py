"""Real ``hearing-server serve`` processes on 127.0.0.1, and the staff API calls that give
them something to serve (a hearing, its people and their join links)."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
ADMIN_KEY = "process-admin-key-0123456789abcdef0123456789"
READY_S = 60.0

HEARING_BODY: dict[str, Any] = {
    "case_number": "(2026)京0105民初12345号",
    "court": "北京市朝阳区人民法院",
    "title": "张三诉李四买卖合同纠纷",
    "scheduled_start": "2026-12-01T09:00:00+08:00",
    "scheduled_end": "2026-12-01T11:00:00+08:00",
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on just now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """One ``hearing-server serve`` process; its output goes to ``log``."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int, log: Path) -> None:
        self.proc, self.port, self.log = proc, port, log
        self.url = f"http://127.0.0.1:{port}"

    async def wait_ready(self) -> None:
        """Until ``/readyz`` answers 200; fails (with the log) if the process exits or
        ``READY_S`` pass first."""
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
        """SIGKILL, as a crash would; nothing of the process runs after this returns."""
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


def server_environ(data_dir: Path, port: int, **settings: str) -> dict[str, str]:
    """The environment of a real server on 127.0.0.1:``port`` and ``data_dir``: the admin key
    ``ADMIN_KEY``, no composite, no transcription, no identity checks, and ``settings``
    (names as in docs/configuration.md) on top."""
    # (a lifeline setting of the caller's would make the server a child of the test runner's)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEARING_", "LIFELINE_"))}
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
    return env


async def start_server_process(
    data_dir: Path, log: Path, *, wrapper: Sequence[str] = (), **settings: str
) -> ServerProcess:
    """A real server on 127.0.0.1 and a free port, on ``data_dir`` (``server_environ``);
    ready when this returns. ``wrapper``: a command that runs the server (its arguments
    follow), which must exec it so that the process's pid is the server's (e.g. ``unshare
    -m`` and a mount of the test's own)."""
    port = free_port()
    env = server_environ(data_dir, port, **settings)
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            *wrapper, sys.executable, "-m", "hearing_server", "serve",
            cwd=REPO, env=env, stdout=out, stderr=out,
        )  # fmt: skip
    server = ServerProcess(proc, port, log)
    try:
        await server.wait_ready()
    except BaseException:
        await server.kill()
        raise
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
    """The staff API moves the hearing on (``open``, ``close``, ...)."""
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
