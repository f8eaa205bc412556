"""PostgreSQL storage of revoked tokens (:class:`~.tokens.TokenStore`)."""

from __future__ import annotations

from datetime import UTC, datetime

from .postgres_connection import PostgresConnection, storable, text_checked, to_utc


class PostgresTokens(PostgresConnection):
    """The ``revoked_tokens`` table."""

    async def revoke_token(self, jti: str, expires_at: datetime) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            with text_checked("the token id"):
                await conn.execute(
                    "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) "
                    "ON CONFLICT (jti) DO UPDATE SET expires_at = EXCLUDED.expires_at",
                    jti,
                    to_utc(expires_at),
                )
            # Expired entries can never match a valid token again; keep the table small.
            await conn.execute(
                "DELETE FROM revoked_tokens WHERE expires_at < $1", datetime.now(UTC)
            )

    async def is_token_revoked(self, jti: str) -> bool:
        if not storable(jti):
            return False
        row = await self.pool.fetchrow("SELECT 1 FROM revoked_tokens WHERE jti = $1", jti)
        return row is not None
