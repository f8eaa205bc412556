"""Two real server processes on one PostgreSQL and one Redis; the node serving a hearing is
killed with SIGKILL: within one lease (and a margin) the hearing's judge, connecting through
the other node, is served there, and the dead node's lease and record are gone."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from signaling.client import HearingClient, SignalingError
from support.cluster import ADMIN_KEY, ServerProcess, node_processes, open_hearing_with

LEASE_S = 2.0


@pytest.fixture
async def two_nodes(
    redis_url: str, postgres_url: str, tmp_path: Path
) -> AsyncIterator[dict[str, ServerProcess]]:
    async with node_processes(
        tmp_path,
        database_url=postgres_url,
        redis_url=redis_url,
        signing_key_path=str(tmp_path / "jwt_signing.key"),
        hearing_lease_seconds=str(LEASE_S),
    ) as nodes:
        yield nodes


async def _served(base: str) -> list[str]:
    async with aiohttp.ClientSession() as http:
        resp = await http.get(f"{base}/api/node", headers={"X-API-Key": ADMIN_KEY})
        assert resp.status == 200, await resp.text()
        return list((await resp.json())["hearings"])


async def test_a_killed_nodes_hearing_is_served_by_the_other_within_a_lease(
    two_nodes: dict[str, ServerProcess],
) -> None:
    a, b = two_nodes["a"], two_nodes["b"]
    _, tokens = await open_hearing_with(b.url, ("judge", "王法官"))
    token = tokens["王法官"]
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
