"""Two real server processes on one PostgreSQL and one Redis; the node serving a hearing is
killed with SIGKILL: within one lease (and a margin) the hearing's judge, connecting through
the other node, is served there, and the dead node's lease and record are gone."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from signaling.client import HearingClient, SignalingError
from support.api import HEARING_BODY
from support.cluster import free_port

REPO = Path(__file__).resolve().parents[3]
ADMIN_KEY = "cluster-admin-key-0123456789abcdef0123456789"
LEASE_S = 2.0
READY_S = 60.0


class Node:
    def __init__(self, name: str, proc: asyncio.subprocess.Process, port: int, log: Path) -> None:
        self.name, self.proc, self.port, self.log = name, proc, port, log
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


@pytest.fixture
async def two_nodes(
    redis_url: str, postgres_url: str, tmp_path: Path
) -> AsyncIterator[dict[str, Node]]:
    nodes: dict[str, Node] = {}
    try:
        for name in ("a", "b"):
            port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("HEARING_")}
            env.update(
                PYTHONPATH=str(REPO),
                HEARING_DATA_DIR=str(tmp_path / name),
                HEARING_HOST="127.0.0.1",
                HEARING_PORT=str(port),
                HEARING_ADMIN_API_KEY=ADMIN_KEY,
                HEARING_MEDIA_ANNOUNCED_ADDRESSES="127.0.0.1",
                HEARING_COMPOSITE_ENABLED="false",
                HEARING_TRANSCRIPTION_ENABLED="false",
                HEARING_IDENTITY_DEFAULT_POLICY="none",
                HEARING_DATABASE_URL=postgres_url,
                HEARING_REDIS_URL=redis_url,
                HEARING_NODE_ID=name,
                HEARING_SIGNING_KEY_PATH=str(tmp_path / "jwt_signing.key"),
                HEARING_HEARING_LEASE_SECONDS=str(LEASE_S),
            )
            log = tmp_path / f"node-{name}.log"
            with log.open("wb") as out:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "hearing_server", "serve",
                    cwd=REPO, env=env, stdout=out, stderr=out,
                )  # fmt: skip
            nodes[name] = Node(name, proc, port, log)
            await nodes[name].wait_ready()  # one after the other: a creates the shared key
        yield nodes
    finally:
        for node in nodes.values():
            if node.proc.returncode is None:
                node.proc.kill()
                await node.proc.wait()


async def _judge_token(base: str) -> str:
    headers = {"X-API-Key": ADMIN_KEY}
    async with aiohttp.ClientSession() as http:
        resp = await http.post(f"{base}/api/hearings", json=HEARING_BODY, headers=headers)
        assert resp.status == 201, await resp.text()
        hid = (await resp.json())["id"]
        resp = await http.post(
            f"{base}/api/hearings/{hid}/transitions", json={"action": "open"}, headers=headers
        )
        assert resp.status == 200, await resp.text()
        resp = await http.post(
            f"{base}/api/hearings/{hid}/participants",
            json={"role": "judge", "display_name": "王法官"},
            headers=headers,
        )
        assert resp.status == 201, await resp.text()
        pid = (await resp.json())["id"]
        resp = await http.post(f"{base}/api/participants/{pid}/links", headers=headers)
        assert resp.status == 201, await resp.text()
        return str((await resp.json())["token"])


async def _served(base: str) -> list[str]:
    async with aiohttp.ClientSession() as http:
        resp = await http.get(f"{base}/api/node", headers={"X-API-Key": ADMIN_KEY})
        assert resp.status == 200, await resp.text()
        return list((await resp.json())["hearings"])


async def test_a_killed_nodes_hearing_is_served_by_the_other_within_a_lease(
    two_nodes: dict[str, Node],
) -> None:
    a, b = two_nodes["a"], two_nodes["b"]
    token = await _judge_token(b.url)
    first = HearingClient(a.url, token)
    await first.connect()  # placed on a
    await first.join()
    [hid] = await _served(a.url)

    a.proc.send_signal(signal.SIGKILL)
    await a.proc.wait()
    killed = time.monotonic()
    await first.close()

    answers: list[str] = []
    judge = HearingClient(b.url, token)
    try:
        while True:
            try:
                await judge.connect()
                break
            except SignalingError as exc:
                # b sends the judge to the dead a while a's record lives, or says to retry
                # while its lease runs; then b serves the hearing itself
                answers.append(exc.code)
                judge = HearingClient(b.url, token)
            assert time.monotonic() - killed < LEASE_S * 3 + 5, answers
            await asyncio.sleep(0.2)
        took = time.monotonic() - killed
        assert judge.base_url == b.url
        assert set(answers) <= {"connect_failed", "unavailable"}, answers
        await judge.join()
        assert await _served(b.url) == [hid]
        print(f"b served the hearing {took:.2f} s after a was killed; before that: {answers}")
        assert took <= LEASE_S + 4.0, (took, answers)  # a loaded machine retries late
    finally:
        await judge.close()
