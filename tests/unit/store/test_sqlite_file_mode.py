"""The SQLite database and its WAL files are readable by the server's user only, and an
existing database that others could read is made owner-only when opened."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

from hearing_server.store.sqlite import SQLiteStore


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_and_its_wal_are_owner_only(tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    store = SQLiteStore(tmp_path / "hearings.sqlite3")
    try:
        loop.run_until_complete(store.open())
        loop.run_until_complete(store.schema_version())
        files = sorted(tmp_path.glob("hearings.sqlite3*"))  # while open: the WAL is there
        assert any(p.name.endswith("-wal") for p in files), files
        for path in files:
            assert _mode(path) & 0o077 == 0, (path.name, oct(_mode(path)))
    finally:
        loop.run_until_complete(store.close())
        loop.close()


def test_an_existing_database_readable_by_others_is_made_owner_only(tmp_path: Path) -> None:
    async def run() -> None:
        path = tmp_path / "hearings.sqlite3"
        first = SQLiteStore(path)
        await first.open()
        await first.close()
        path.chmod(0o644)
        again = SQLiteStore(path)
        await again.open()
        try:
            assert _mode(path) == 0o600
        finally:
            await again.close()

    asyncio.run(run())
