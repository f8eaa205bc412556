"""What the PostgreSQL store's per-aggregate parts share: one connection pool."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import urlsplit

import asyncpg

from hearing_server.core.errors import ValidationError


def to_utc(value: datetime | None) -> datetime | None:
    """A time as stored in a ``TIMESTAMPTZ`` column: converted to UTC (``None`` stays
    ``None``), as the SQLite store converts before formatting, so both read back alike."""
    return value.astimezone(UTC) if value is not None else None


def redact_url(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        if ":" in host:  # an IPv6 address keeps its brackets
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port is not None else ""
        netloc = f"{parts.username or ''}:***@{host}{port}"
        return parts._replace(netloc=netloc).geturl()
    except ValueError:  # malformed (a bad port): show only what cannot hold a secret
        return f"{url.partition('://')[0]}://…"


def storable(text: str) -> bool:
    """Whether a PostgreSQL text column can hold ``text``: it refuses the NUL character, and
    UTF-8 cannot carry a lone surrogate. No stored key is such a string, so a lookup by one
    finds nothing (SQLite, which would take either, answers the same)."""
    if "\0" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@contextmanager
def text_checked(what: str) -> Iterator[None]:
    """Turn text the database cannot hold, met while writing ``what``, into a
    :class:`~hearing_server.core.errors.ValidationError` (bad input, never a server error)."""
    try:
        yield
    except UnicodeEncodeError as exc:
        raise ValidationError(f"{what} is not valid text: {exc.reason}") from None
    except asyncpg.DataError as exc:
        raise ValidationError(f"{what} cannot be stored: {exc}") from None


def affected(status: str) -> int:
    """The row count of a command status such as ``UPDATE 1`` (what asyncpg's ``execute``
    returns)."""
    tail = status.rpartition(" ")[2]
    return int(tail) if tail.isdigit() else 0


class PostgresConnection:
    """The pool of connections to one PostgreSQL database, shared by the store's
    per-aggregate mixins.

    :class:`~hearing_server.store.postgres.PostgresStore` opens and closes it. Every write that
    must be atomic runs in one transaction on one connection taken from the pool; concurrent
    requests use different connections, so nothing here serialises them in the process (the
    database does, where it must: see :mod:`.postgres_chains`).
    """

    def __init__(self, url: str, *, connect_timeout: float = 30.0, pool_size: int = 10) -> None:
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        self._url = url
        self._connect_timeout = connect_timeout
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        """The open pool; ``RuntimeError`` before :meth:`open` or after :meth:`close`."""
        if self._pool is None:
            raise RuntimeError("store is not open")
        return self._pool

    @property
    def url(self) -> str:
        """The database URL without its password."""
        return redact_url(self._url)
