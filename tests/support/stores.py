"""The store backends a test can run on: the embedded SQLite file and a PostgreSQL database.

A test that takes the ``store_backend`` fixture (tests/conftest.py) runs once on each; it gets
its stores, its app settings and raw SQL access (someone with write access to the database,
going around the store) from the backend, so the same test body checks both.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import asyncpg

from hearing_server.store.base import Store
from hearing_server.store.postgres import PostgresStore
from hearing_server.store.sqlite import SQLiteStore


class RawSQLError(Exception):
    """The database refused a raw statement (the message is the database's)."""


class StoreBackend:
    """One backend for one test; see :class:`SQLiteBackend` and :class:`PostgresBackend`."""

    dialect = ""

    def store(self) -> Store:
        """A new, unopened store on this test's database."""
        raise NotImplementedError

    def settings_overrides(self) -> dict[str, Any]:
        """What ``load_settings`` needs to put an app on this test's database."""
        raise NotImplementedError

    async def execute(self, sql: str) -> None:
        """Run ``sql`` on the database directly; :class:`RawSQLError` if it is refused."""
        raise NotImplementedError

    def pick(self, *, sqlite: str, postgresql: str) -> str:
        """This backend's form of a statement whose dialects differ."""
        return sqlite if self.dialect == "sqlite" else postgresql


class SQLiteBackend(StoreBackend):
    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path

    def store(self) -> Store:
        return SQLiteStore(self.path)

    def settings_overrides(self) -> dict[str, Any]:
        return {"database_path": self.path}

    async def execute(self, sql: str) -> None:
        db = sqlite3.connect(self.path)
        try:
            db.execute(sql)
            db.commit()
        except sqlite3.DatabaseError as exc:
            raise RawSQLError(str(exc)) from exc
        finally:
            db.close()

    def __repr__(self) -> str:
        return "sqlite"


class PostgresBackend(StoreBackend):
    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url

    def store(self) -> Store:
        return PostgresStore(self.url, connect_timeout=5.0, pool_size=4)

    def settings_overrides(self) -> dict[str, Any]:
        return {"database_url": self.url, "database_connect_timeout_seconds": 5.0}

    async def execute(self, sql: str) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            await conn.execute(sql)
        except asyncpg.PostgresError as exc:
            raise RawSQLError(str(exc)) from exc
        finally:
            await conn.close()

    def __repr__(self) -> str:
        return "postgresql"


def store_is_open(store: Store) -> bool:
    """Whether ``store`` holds its connection (SQLite) or pool (PostgreSQL)."""
    if isinstance(store, SQLiteStore):
        return store._db is not None
    if isinstance(store, PostgresStore):
        return store._pool is not None
    raise TypeError(f"unknown store {type(store).__name__}")
