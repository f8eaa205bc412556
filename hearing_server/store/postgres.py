"""PostgreSQL store through asyncpg, for a court that runs its database server.

One connection pool (:mod:`.postgres_connection`) shared by one mixin per aggregate:
:mod:`.postgres_hearings`, :mod:`.postgres_audit`, :mod:`.postgres_transcript` (both on the
hash chain tables of :mod:`.postgres_chains`), :mod:`.postgres_tokens` and
:mod:`.postgres_identity`;
:class:`PostgresStore` combines them and adds the lifecycle: connecting (retried for a bounded
time, then :class:`~.lifecycle.StoreUnavailable`) and the migrations of :mod:`.migrations`,
the same steps as the SQLite store's in their PostgreSQL form.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from .lifecycle import StoreUnavailable
from .migrations import MIGRATIONS
from .postgres_agreements import PostgresAgreements
from .postgres_audit import PostgresAudit
from .postgres_evidence import PostgresEvidence
from .postgres_hearings import PostgresHearings
from .postgres_identity import PostgresIdentity
from .postgres_jobs import PostgresJobs
from .postgres_notices import PostgresNotices
from .postgres_schedule import PostgresSchedule
from .postgres_serving import PostgresServing
from .postgres_slots import PostgresSlots
from .postgres_tokens import PostgresTokens
from .postgres_transcript import PostgresTranscript

log = logging.getLogger(__name__)

_RETRYABLE = (
    OSError,  # refused, unreachable, reset, no such host
    TimeoutError,
    asyncpg.CannotConnectNowError,  # the server is starting up or shutting down
    asyncpg.TooManyConnectionsError,
    asyncpg.PostgresConnectionError,
)
"""What may pass by itself while a database server starts: worth another try. A wrong
password or a database that does not exist will not, so they fail at once."""

_QUIET_UNLOCK = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)
"""Unlocking after a failed migration: the connection may be gone, and the lock with it."""


class PostgresStore(
    PostgresHearings,
    PostgresAudit,
    PostgresTranscript,
    PostgresTokens,
    PostgresIdentity,
    PostgresAgreements,
    PostgresNotices,
    PostgresEvidence,
    PostgresJobs,
    PostgresServing,
    PostgresSchedule,
    PostgresSlots,
):
    """A :class:`~hearing_server.store.base.Store` on one PostgreSQL database.

    Constructed with a libpq-style URL (``postgresql://user@host:5432/db``; the password is
    better left to ``PGPASSWORD`` or ``~/.pgpass`` than written in the URL), how long
    :meth:`open` keeps trying to reach the server, and the most connections to hold.
    """

    MIGRATION_LOCK = 0x68656172696E67  # "hearing": the advisory lock held while migrating
    """Servers starting together against one database migrate one at a time."""
    ATTEMPT_TIMEOUT_S = 10.0
    """The most one connection attempt may take (within the overall ``connect_timeout``)."""
    CLOSE_TIMEOUT_S = 10.0
    """How long closing waits for queries in flight before cutting the connections."""

    async def open(self) -> None:
        if self._pool is not None:
            return
        pool = await self._connect()
        try:
            await self._migrate(pool)
        except BaseException:
            pool.terminate()
            raise
        self._pool = pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), self.CLOSE_TIMEOUT_S)
        except TimeoutError:
            log.warning("PostgreSQL connections still busy after %g s: cut", self.CLOSE_TIMEOUT_S)
            pool.terminate()

    async def schema_version(self) -> int:
        return await self._schema_version(self.pool)

    # -- internals --------------------------------------------------------------------------

    async def _connect(self) -> asyncpg.Pool:
        """The pool, once the server answers; retried with backoff until ``connect_timeout``."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self._connect_timeout
        delay = 0.25
        attempts = 0
        while True:
            attempts += 1
            remaining = deadline - loop.time()
            try:
                pool: asyncpg.Pool = await asyncpg.create_pool(
                    self._url,
                    min_size=1,
                    max_size=self._pool_size,
                    timeout=max(0.1, min(self.ATTEMPT_TIMEOUT_S, remaining)),
                    server_settings={"application_name": "hearing-server"},
                )
                return pool
            except _RETRYABLE as exc:
                reason = str(exc) or type(exc).__name__
            except (asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
                # Refused for good (authentication, no such database or role, a bad URL).
                raise StoreUnavailable(
                    f"PostgreSQL at {self.url} refused the connection: {exc}"
                ) from None
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise StoreUnavailable(
                    f"PostgreSQL at {self.url} is unreachable: {reason} "
                    f"({attempts} attempts over {loop.time() - started:.0f} s)"
                )
            log.warning(
                "PostgreSQL at %s is not reachable yet (%s); trying again for %.1f s more",
                self.url,
                reason,
                remaining,
            )
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, 2.0)

    async def _migrate(self, pool: asyncpg.Pool) -> None:
        step_version = 0
        try:
            async with pool.acquire() as conn:
                # A session lock, not a transaction's: each step commits on its own, as in
                # SQLite, and the lock must cover creating schema_migrations too.
                await conn.execute("SELECT pg_advisory_lock($1)", self.MIGRATION_LOCK)
                try:
                    await conn.execute(
                        "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        "version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
                    )
                    current = await self._schema_version(conn)
                    for step in MIGRATIONS:
                        if step.version <= current:
                            continue
                        step_version = step.version
                        async with conn.transaction():
                            await conn.execute(step.postgresql)
                            await conn.execute(
                                "INSERT INTO schema_migrations VALUES ($1, now())", step.version
                            )
                finally:
                    with contextlib.suppress(*_QUIET_UNLOCK):
                        await conn.execute("SELECT pg_advisory_unlock($1)", self.MIGRATION_LOCK)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            # Most often a role that may not create tables (PostgreSQL 15 and later no longer
            # let every role create in the schema public): say so instead of a traceback.
            where = f"step {step_version}" if step_version else "schema_migrations"
            raise StoreUnavailable(
                f"PostgreSQL at {self.url}: the schema could not be brought up to date "
                f"({where}): {exc}"
            ) from None

    @staticmethod
    async def _schema_version(conn: asyncpg.Connection | asyncpg.Pool) -> int:
        value = await conn.fetchval("SELECT MAX(version) FROM schema_migrations")
        return int(value) if value is not None else 0
