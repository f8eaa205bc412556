"""Hearings placed on nodes through leases in a real Redis: one owner per hearing, whoever
asks; a draining node places new hearings elsewhere; a dead node's hearings move once its
leases expire; a node that lost a lease is told."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from cluster import NodeInfo, NoNodeAvailable, RedisLeases

LEASE = 0.6
# Renewing under a loaded machine (the whole suite on two cores) may run late by more than
# 0.6 s: where a test needs leases to hold for a while, they are longer.
HOLD_LEASE = 2.0


def _node(url: str, name: str, lease: float = LEASE, **kw: object) -> RedisLeases:
    node = NodeInfo(name, f"http://127.0.0.1/{name}")
    return RedisLeases(url, node, lease_seconds=lease, **kw)  # type: ignore[arg-type]


def test_one_owner_whoever_asks(redis_url: str) -> None:
    async def run() -> None:
        nodes = [_node(redis_url, f"n{i}", HOLD_LEASE) for i in range(6)]
        for n in nodes:
            await n.start()
        try:
            # six nodes asked at once for the same hearing agree on one owner
            owners = await asyncio.gather(*(n.owner("h1") for n in nodes))
            assert len({o.id for o in owners}) == 1
            owner = next(n for n in nodes if n.node.id == owners[0].id)
            assert owner.owned() == {"h1"}
            assert all(not n.owned() for n in nodes if n is not owner)
            assert owners[0].url == f"http://127.0.0.1/{owners[0].id}"
            # the lease outlives many lease periods while its owner renews it
            await asyncio.sleep(HOLD_LEASE * 2)
            again = await nodes[-1].owner("h1")
            assert again.id == owners[0].id
            assert {n.id for n in await nodes[0].nodes()} == {f"n{i}" for i in range(6)}
            # released: the next node to ask serves it
            await owner.release("h1")
            other = next(n for n in nodes if n is not owner)
            assert (await other.owner("h1")).id == other.node.id
        finally:
            for n in nodes:
                await n.close()

    asyncio.run(run())


def test_a_draining_node_places_new_hearings_elsewhere(redis_url: str) -> None:
    async def run() -> None:
        a, b = _node(redis_url, "a", HOLD_LEASE), _node(redis_url, "b", HOLD_LEASE)
        await a.start()
        await b.start()
        try:
            assert (await a.owner("old")).id == "a"
            await a.drain()
            assert (await a.owner("old")).id == "a"  # what it serves stays
            assert (await a.owner("new")).id == "b"  # what is new goes to b
            await asyncio.sleep(HOLD_LEASE / 2)  # b renews what was placed on it, unasked
            assert "new" in b.owned()
            assert (await b.owner("new")).id == "b"
            await b.drain()
            with pytest.raises(NoNodeAvailable):
                await a.owner("third")
        finally:
            await a.close()
            await b.close()

    asyncio.run(run())


def test_a_node_that_lost_its_lease_is_told(redis_url: str) -> None:
    async def run() -> None:
        lost: list[str] = []
        told = asyncio.Event()

        def on_lost(hearing_id: str) -> None:
            lost.append(hearing_id)
            told.set()

        a = _node(redis_url, "a", on_lost=on_lost)
        await a.start()
        try:
            assert (await a.owner("h")).id == "a"
            r = aioredis.Redis.from_url(redis_url)
            await r.set("hearing-server:owner:h", "b", px=5000)  # someone took it over
            await r.aclose()
            await asyncio.wait_for(told.wait(), LEASE * 5)
            assert lost == ["h"]
            assert a.owned() == frozenset()
        finally:
            await a.close()

    asyncio.run(run())


_CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from cluster import NodeInfo, RedisLeases

    async def main():
        n = RedisLeases(sys.argv[1], NodeInfo("doomed", "http://127.0.0.1/doomed"),
                        lease_seconds=float(sys.argv[2]))
        await n.start()
        assert (await n.owner("h")).id == "doomed"
        print("serving", flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


def test_a_killed_nodes_hearing_moves_once_its_lease_expires(redis_url: str) -> None:
    root = Path(__file__).resolve().parents[3]
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, redis_url, str(LEASE)],
        cwd=root,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"serving"

        async def run() -> None:
            b = _node(redis_url, "b")
            await b.start()
            try:
                assert (await b.owner("h")).id == "doomed"
                child.send_signal(signal.SIGKILL)
                child.wait(timeout=10)
                killed = time.monotonic()
                # until its record expires it still looks alive (a client sent there fails
                # and comes back); then, until its lease runs out, nobody may serve it and
                # the client is told to retry; then b takes it
                answers: list[str] = []
                while not answers or answers[-1] != "b":
                    try:
                        answers.append((await b.owner("h")).id)
                    except NoNodeAvailable as exc:
                        assert 0 < exc.retry_after <= LEASE + 0.1
                        answers.append("retry")
                    await asyncio.sleep(0.02)
                    assert time.monotonic() - killed < LEASE * 5, answers
                assert set(answers) <= {"doomed", "retry", "b"}
                assert answers.index("b") == len(answers) - 1
                assert b.owned() == {"h"}
                assert {n.id for n in await b.nodes()} == {"b"}
            finally:
                await b.close()

        asyncio.run(run())
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_after_redis_restarts_empty_a_node_keeps_and_registers_its_hearings_again(
    redis_url: str,
) -> None:
    async def run() -> None:
        lost: list[str] = []
        a = _node(redis_url, "a", HOLD_LEASE, on_lost=lost.append)
        await a.start()
        try:
            assert (await a.owner("h")).id == "a"
            r = aioredis.Redis.from_url(redis_url)
            try:
                await r.flushall()  # what a Redis without persistence looks like after restart
                assert await r.get("hearing-server:owner:h") is None

                async def registered() -> bool:
                    return (await r.get("hearing-server:owner:h")) == b"a" and bool(
                        await r.get("hearing-server:node:a")
                    )

                deadline = time.monotonic() + HOLD_LEASE * 2
                while not await registered():
                    assert time.monotonic() < deadline, "a did not register again"
                    await asyncio.sleep(0.05)
            finally:
                await r.aclose()
            assert a.owned() == {"h"} and lost == []
            b = _node(redis_url, "b", HOLD_LEASE)
            await b.start()
            try:
                assert (await b.owner("h")).id == "a"  # and the others see it there
            finally:
                await b.close()
        finally:
            await a.close()

    asyncio.run(run())


def test_spreading_nodes_place_new_hearings_on_the_one_with_fewest(redis_url: str) -> None:
    # The workers of one machine: every client arrives at the first, which is calm, yet the
    # hearings must go round the workers (counted from the served sets, not the records,
    # which are as old as their last renewal).
    async def run() -> None:
        nodes = [_node(redis_url, f"w{i}", HOLD_LEASE, spread=True) for i in range(3)]
        for n in nodes:
            await n.start()
        try:
            owners = [(await nodes[0].owner(f"h{i}")).id for i in range(6)]
            assert sorted(owners) == ["w0", "w0", "w1", "w1", "w2", "w2"], owners
            assert owners[0] == "w0"  # here on a tie
            # a node shedding video takes none while another does not
            busy = _node(redis_url, "busy", HOLD_LEASE, spread=True, load=lambda: 2)
            await busy.start()
            try:
                assert {(await busy.owner(f"b{i}")).id for i in range(3)} == {"w0", "w1", "w2"}
            finally:
                await busy.close()
            calm = _node(redis_url, "here", HOLD_LEASE)
            await calm.start()
            try:
                assert (await calm.owner("h-new")).id == "here"  # the default stays put
            finally:
                await calm.close()
        finally:
            for n in nodes:
                await n.close()

    asyncio.run(run())
