"""SQLite storage of revoked tokens (:class:`~.tokens.TokenStore`)."""

from __future__ import annotations

from datetime import UTC, datetime

from .sqlite_connection import SQLiteConnection, format_dt


class SQLiteTokens(SQLiteConnection):
    """The ``revoked_tokens`` table."""

    async def revoke_token(self, jti: str, expires_at: datetime) -> None:
        async with self._write_lock:
            await self.db.execute(
                "INSERT OR REPLACE INTO revoked_tokens (jti, expires_at) VALUES (?, ?)",
                (jti, format_dt(expires_at)),
            )
            # Expired entries can never match a valid token again; keep the table small.
            await self.db.execute(
                "DELETE FROM revoked_tokens WHERE expires_at < ?",
                (format_dt(datetime.now(UTC)),),
            )
            await self.db.commit()

    async def is_token_revoked(self, jti: str) -> bool:
        async with self.db.execute("SELECT 1 FROM revoked_tokens WHERE jti = ?", (jti,)) as cur:
            return await cur.fetchone() is not None
