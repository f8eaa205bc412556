"""Hearings placed on nodes through leases in Redis.

Keys (under a prefix, ``hearing-server:`` by default):

- ``node:<id>``: the node's record (``NodeInfo`` JSON), expiring after one lease unless the
  node renews it; ``nodes``: the set of node ids (ids whose record expired are dropped on read);
- ``owner:<hearing>``: the id of the node serving the hearing, expiring after one lease;
- ``served:<node>``: the hearings placed on the node, which it renews.

The owner renews every lease a third of a lease apart. A node that dies (kill -9, a lost
machine) stops renewing: its record and its hearings' leases expire, and the next client of
each hearing places it on a live node. The check-and-set steps are Lua scripts, so two nodes
placing the same hearing at once agree on one owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.exceptions import AuthenticationError, RedisError, ResponseError

from .model import ClusterUnavailable, NodeInfo, NoNodeAvailable

log = logging.getLogger(__name__)

# KEYS: owner key, served set of the candidate. ARGV: candidate id, lease ms, hearing id.
# Returns the owner: the one already there, or the candidate, now placed.
_PLACE = """
local cur = redis.call('GET', KEYS[1])
if cur then return cur end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
return ARGV[1]
"""
# KEYS: owner key, my served set. ARGV: my id, lease ms, hearing id. 1 = still mine.
# A lease that is gone (Redis restarted empty, or it ran out and nobody took the hearing)
# is taken again: this node still serves the hearing; only another owner ends that.
_RENEW = """
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('SADD', KEYS[2], ARGV[3])
  return 1
end
redis.call('SREM', KEYS[2], ARGV[3])
return 0
"""
# KEYS: owner key, my served set. ARGV: my id, hearing id.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('SREM', KEYS[2], ARGV[2])
return 1
"""


SPREAD_LOAD_LIMIT = 2
"""Spreading, a node at this load level (video shed) or above takes a new hearing only when
every node is."""


class RedisLeases:
    """Placement shared by every node that uses the same Redis (and prefix).

    ``load`` reports this node's load level (0 = calm) for its record; ``on_lost`` is told
    of a hearing whose lease this node lost (it could not renew in time and another node
    took it over): the caller must stop serving it here. ``spread``: a new hearing goes to
    the node with the fewest hearings among those not shedding video, even when this node is
    calm (the workers of one machine, whose clients all arrive at worker 0), instead of
    staying here.
    """

    def __init__(
        self,
        redis_url: str,
        node: NodeInfo,
        *,
        lease_seconds: float = 10.0,
        prefix: str = "hearing-server:",
        load: Callable[[], int] = lambda: 0,
        on_lost: Callable[[str], None] = lambda _hid: None,
        connect_timeout: float = 30.0,
        spread: bool = False,
    ) -> None:
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        self._url = redis_url
        self._node = node
        self._lease_ms = max(1, round(lease_seconds * 1000))
        self._prefix = prefix
        self._load = load
        self._on_lost = on_lost
        self._connect_timeout = connect_timeout
        self._spread = spread
        self._draining = False
        self._owned: set[str] = set()
        self._redis: aioredis.Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._last_renewed = 0.0
        self._scripts: dict[str, Any] = {}

    # -- keys -----------------------------------------------------------------------------

    def _k_node(self, node_id: str) -> str:
        return f"{self._prefix}node:{node_id}"

    def _k_owner(self, hearing_id: str) -> str:
        return f"{self._prefix}owner:{hearing_id}"

    def _k_served(self, node_id: str) -> str:
        return f"{self._prefix}served:{node_id}"

    @property
    def _k_nodes(self) -> str:
        return f"{self._prefix}nodes"

    # -- Placement ------------------------------------------------------------------------

    @property
    def node(self) -> NodeInfo:
        return NodeInfo(
            self._node.id,
            self._node.url,
            load=self._safe_load(),
            hearings=len(self._owned),
            draining=self._draining,
        )

    def owned(self) -> frozenset[str]:
        return frozenset(self._owned)

    def serves(self, hearing_id: str) -> bool:
        return hearing_id in self._owned

    async def owner(self, hearing_id: str) -> NodeInfo:
        if hearing_id in self._owned:
            return self.node
        r = self._client()
        # Twice at most: the dead owner's lease may run out between the two reads below.
        for _ in range(2):
            current = await r.get(self._k_owner(hearing_id))
            if current is None:
                candidate = await self._candidate()
                current = await self._scripts["place"](
                    keys=[self._k_owner(hearing_id), self._k_served(candidate.id)],
                    args=[candidate.id, self._lease_ms, hearing_id],
                )
            owner_id = _text(current)
            if owner_id == self._node.id:
                self._owned.add(hearing_id)
                return self.node
            raw = await r.get(self._k_node(owner_id))
            if raw is not None:
                return NodeInfo.from_json(raw)
            # Its node is gone but the lease still runs: nobody may serve it until then.
            ttl_ms = await r.pttl(self._k_owner(hearing_id))
            if ttl_ms > 0:
                raise NoNodeAvailable(
                    "the server of this hearing stopped; it moves to another one shortly",
                    retry_after=ttl_ms / 1000,
                )
        raise NoNodeAvailable("the hearing is moving between servers; try again", 0.5)

    async def holder(self, hearing_id: str) -> NodeInfo | None:
        if hearing_id in self._owned:
            return self.node
        r = self._client()
        current = await r.get(self._k_owner(hearing_id))
        if current is None:
            return None
        owner_id = _text(current)
        if owner_id == self._node.id:  # a lease of this node's from before a restart
            return self.node
        raw = await r.get(self._k_node(owner_id))
        return NodeInfo.from_json(raw) if raw is not None else None

    async def release(self, hearing_id: str) -> None:
        self._owned.discard(hearing_id)
        await self._scripts["release"](
            keys=[self._k_owner(hearing_id), self._k_served(self._node.id)],
            args=[self._node.id, hearing_id],
        )

    async def nodes(self) -> list[NodeInfo]:
        r = self._client()
        ids = sorted(_text(m) for m in await r.smembers(self._k_nodes))
        if not ids:
            return []
        raws = await r.mget([self._k_node(i) for i in ids])
        out: list[NodeInfo] = []
        for node_id, raw in zip(ids, raws, strict=True):
            if raw is None:
                await r.srem(self._k_nodes, node_id)
                continue
            try:
                out.append(NodeInfo.from_json(raw))
            except ValueError:
                log.warning("node record %s is not readable; ignored", node_id)
        return out

    async def drain(self) -> None:
        self._draining = True
        await self._announce()

    async def start(self) -> None:
        # A Redis that stops answering must not hang a client's connect or the renewals.
        timeout = max(1.0, self._lease_ms / 3000)
        self._redis = aioredis.Redis.from_url(
            self._url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        for name, text in (("place", _PLACE), ("renew", _RENEW), ("release", _RELEASE)):
            self._scripts[name] = self._redis.register_script(text)
        await self._first_contact()
        # Hearings placed here by an earlier life of this node id are still ours to renew.
        await self._renew()
        self._task = asyncio.create_task(self._keep(), name=f"leases of node {self._node.id}")

    async def close(self) -> None:
        if self._task is not None:
            # Let a renewal in flight finish: a Redis command cancelled half-way leaves its
            # connection in the pool out of step with the server.
            self._stopping.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), self._lease_ms / 1000 + 2)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        if self._redis is None:
            return
        try:
            for hearing_id in list(self._owned):
                await self.release(hearing_id)
            await self._redis.delete(self._k_node(self._node.id))
            await self._redis.srem(self._k_nodes, self._node.id)
        except RedisError as exc:
            log.warning("leaving the cluster: Redis failed (%s); the leases expire instead", exc)
        finally:
            await self._redis.aclose()
            self._redis = None

    # -- internals ------------------------------------------------------------------------

    async def _first_contact(self) -> None:
        """Register this node, trying again while Redis is unreachable (it may be starting
        with us) for ``connect_timeout`` seconds; then ClusterUnavailable."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        delay, attempts = 0.25, 0
        while True:
            attempts += 1
            try:
                await self._announce()
                return
            except RedisError as exc:
                reason = str(exc) or type(exc).__name__
                if isinstance(exc, (ResponseError, AuthenticationError)):
                    raise ClusterUnavailable(
                        f"Redis at {_masked(self._url)} refused this node: {reason}"
                    ) from None
            elapsed = loop.time() - started
            if elapsed >= self._connect_timeout:
                if self._redis is not None:
                    await self._redis.aclose()
                    self._redis = None
                raise ClusterUnavailable(
                    f"Redis at {_masked(self._url)} is unreachable: {reason} "
                    f"({attempts} attempts over {elapsed:.0f} s)"
                )
            log.warning(
                "Redis at %s is not reachable yet (%s); trying again for %.1f s more",
                _masked(self._url),
                reason,
                self._connect_timeout - elapsed,
            )
            await asyncio.sleep(min(delay, self._connect_timeout - elapsed))
            delay = min(delay * 2, 2.0)

    def _client(self) -> aioredis.Redis:
        if self._redis is None:
            raise RuntimeError("RedisLeases.start() was not called")
        return self._redis

    def _safe_load(self) -> int:
        try:
            return int(self._load())
        except Exception:
            log.exception("reading the node's load failed")
            return 0

    async def _candidate(self) -> NodeInfo:
        """Where a hearing nobody serves goes: here, when this node is calm and not
        draining; else the least loaded live node that is not draining (here on a tie).
        Spreading, the least loaded with the fewest hearings, always."""
        me = self.node
        if not self._spread and not me.draining and me.load == 0:
            return me
        others = [n for n in await self.nodes() if not n.draining and n.id != me.id]
        pool = others + ([] if me.draining else [me])
        if not pool:
            raise NoNodeAvailable("every server is draining; try again shortly", 5.0)
        if self._spread:
            # The records' counts are as old as their last renewal: hearings placed since
            # are in the served sets already (the placing script adds them there).
            r = self._client()
            counts = [int(await r.scard(self._k_served(n.id))) for n in pool]
            pool = [replace(n, hearings=c) for n, c in zip(pool, counts, strict=True)]
            # by hearings among the nodes not shedding video: a node's level rises and falls
            # with moments of lag (the one every client reaches first lags most), and ranking
            # by it first sent every hearing to whichever node was calm at that moment
            return min(
                pool, key=lambda n: (n.load >= SPREAD_LOAD_LIMIT, n.hearings, n.load, n.id != me.id)
            )
        return min(pool, key=lambda n: (n.load, n.hearings, n.id != me.id))

    async def _announce(self) -> None:
        r = self._client()
        async with r.pipeline(transaction=True) as pipe:
            pipe.set(self._k_node(self._node.id), self.node.to_json(), px=self._lease_ms)
            pipe.sadd(self._k_nodes, self._node.id)
            await pipe.execute()

    async def _renew(self) -> None:
        r = self._client()
        await self._announce()
        members = {_text(m) for m in await r.smembers(self._k_served(self._node.id))}
        kept: set[str] = set()
        for hearing_id in members | self._owned:
            mine = await self._scripts["renew"](
                keys=[self._k_owner(hearing_id), self._k_served(self._node.id)],
                args=[self._node.id, self._lease_ms, hearing_id],
            )
            if mine:
                kept.add(hearing_id)
        lost = self._owned - kept
        self._owned = kept
        self._last_renewed = time.monotonic()
        for hearing_id in lost:
            log.error("node %s lost the lease of hearing %s", self._node.id, hearing_id)
            try:
                self._on_lost(hearing_id)
            except Exception:
                log.exception("handling the lost lease of %s failed", hearing_id)

    async def _keep(self) -> None:
        interval = self._lease_ms / 3000
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), interval)
            if self._stopping.is_set():
                return
            try:
                await self._renew()
            except RedisError as exc:
                late = time.monotonic() - self._last_renewed
                log.error(
                    "node %s could not renew its leases for %.1f s: %s", self._node.id, late, exc
                )
                if late * 1000 >= self._lease_ms and self._owned:
                    # The leases ran out: other nodes may serve these hearings by now, and
                    # two servers of one hearing would split its participants.
                    lost, self._owned = self._owned, set()
                    for hearing_id in lost:
                        try:
                            self._on_lost(hearing_id)
                        except Exception:
                            log.exception("handling the lost lease of %s failed", hearing_id)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _masked(url: str) -> str:
    """The URL without its password (it appears in logs and error messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
