"""``hearing-server serve --workers 2`` as a real process on the embedded SQLite store and a
real Redis: two worker nodes on the port and the next; a hearing placed on one is reached
through the other (``moved``); a worker killed with SIGKILL is started again; SIGTERM stops
every worker and the supervisor exits 0; a worker that cannot start ends the server."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

import lifeline
from signaling.client import HearingClient
from support.waiting import wait_until
from testbed.nodes import ADMIN_KEY, REPO, free_port, open_hearing_with, server_environ

READY_S = 90.0


def two_free_ports() -> int:
    """A port whose next port is free too (worker 0 and worker 1)."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two free ports in a row")


class Workers:
    def __init__(self, proc: asyncio.subprocess.Process, port: int, log: Path) -> None:
        self.proc, self.port, self.log = proc, port, log
        self.urls = [f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"]

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def worker_pid(self, index: int) -> int:
        found = [
            p.pid
            for p in lifeline.descendants(self.proc.pid)
            if "worker" in p.cmdline and p.cmdline[p.cmdline.index("--index") + 1] == str(index)
        ]
        assert len(found) == 1, (found, self.output())
        return found[0]

    async def wait_ready(self, index: int) -> None:
        deadline = time.monotonic() + READY_S
        async with aiohttp.ClientSession() as http:
            while True:
                assert self.proc.returncode is None, self.output()
                assert time.monotonic() < deadline, self.output()
                try:
                    async with http.get(f"{self.urls[index]}/readyz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)


async def start_workers(tmp_path: Path, port: int, **settings: str) -> Workers:
    log = tmp_path / "serve.log"
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hearing_server", "serve", "--workers", "2",
            cwd=REPO, env=server_environ(tmp_path / "data", port, **settings),
            stdout=out, stderr=out,
        )  # fmt: skip
    return Workers(proc, port, log)


@pytest.fixture
async def workers(redis_url: str, tmp_path: Path) -> AsyncIterator[Workers]:
    w = await start_workers(
        tmp_path, two_free_ports(), redis_url=redis_url, hearing_lease_seconds="2"
    )
    try:
        await w.wait_ready(0)
        await w.wait_ready(1)
        yield w
    finally:
        if w.proc.returncode is None:
            w.proc.kill()  # the workers die with it (lifeline)
            await w.proc.wait()


async def _node(base: str) -> dict[str, object]:
    async with aiohttp.ClientSession() as http:
        resp = await http.get(f"{base}/api/node", headers={"X-API-Key": ADMIN_KEY})
        assert resp.status == 200, await resp.text()
        return dict(await resp.json())


async def test_a_hearing_on_one_worker_is_reached_through_the_other(workers: Workers) -> None:
    w0, w1 = workers.urls
    node0, node1 = await _node(w0), await _node(w1)
    assert node0["node"]["id"].endswith("-w0")  # type: ignore[index]
    assert node1["node"]["id"].endswith("-w1")  # type: ignore[index]
    assert node1["node"]["url"] == w1  # type: ignore[index]
    # both workers on one SQLite file: what one writes the other reads
    hid, tokens = await open_hearing_with(w0, ("judge", "王法官"), ("party", "张三"))
    judge = HearingClient(w1, tokens["王法官"])
    party = HearingClient(w0, tokens["张三"])
    try:
        await judge.connect()  # placed on worker 1, the worker asked
        await judge.join()
        assert (await _node(w1))["hearings"] == [hid]
        await party.connect()  # worker 0 sends it on (moved)
        assert party.base_url == w1
        await party.join()
        assert (await _node(w0))["hearings"] == []
    finally:
        await party.close()
        await judge.close()


async def test_a_killed_worker_is_started_again_and_sigterm_stops_all(workers: Workers) -> None:
    first = workers.worker_pid(1)
    others = [p for p in lifeline.descendants(workers.proc.pid) if p.pid != first]
    os.kill(first, signal.SIGKILL)
    await wait_until(
        lambda: f"worker 1 (pid {first}) ended (killed by SIGKILL)" in workers.output(),
        30,
        "the supervisor notices",
    )
    await workers.wait_ready(1)
    second = workers.worker_pid(1)
    assert second != first
    assert all(lifeline.is_running(p) for p in others if "worker" in p.cmdline)

    everyone = lifeline.descendants(workers.proc.pid)
    workers.proc.send_signal(signal.SIGTERM)
    status = await asyncio.wait_for(workers.proc.wait(), 60)
    assert status == 0, workers.output()
    await wait_until(
        lambda: not any(lifeline.is_running(p) for p in everyone), 10, "no process left"
    )
    assert "worker 0" in workers.output() and "stopped: exit status 0" in workers.output()


async def test_workers_without_redis_are_refused_with_one_line(tmp_path: Path) -> None:
    w = await start_workers(tmp_path, two_free_ports())
    assert await asyncio.wait_for(w.proc.wait(), 60) == 2
    lines = w.output().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("configuration error: 2 workers need redis_url")


async def test_a_worker_that_keeps_failing_to_start_ends_the_server(
    redis_url: str, tmp_path: Path
) -> None:
    port = two_free_ports()
    with socket.socket() as taken:  # worker 1's port is taken: it can never listen
        taken.bind(("127.0.0.1", port + 1))
        taken.listen()
        w = await start_workers(tmp_path, port, redis_url=redis_url)
        status = await asyncio.wait_for(w.proc.wait(), READY_S * 2)
    out = w.output()
    assert status == 1, out
    assert "worker 1 failed to start 3 times in a row" in out, out
    assert "stopped: exit status 0" in out, out  # worker 0 was stopped cleanly
