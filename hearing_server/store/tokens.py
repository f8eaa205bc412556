"""Revoked tokens: the join links and tokens withdrawn before they expire."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class TokenStore(Protocol):
    """Persistence of revoked token ids (``jti``) until the tokens expire."""

    async def revoke_token(self, jti: str, expires_at: datetime) -> None: ...

    async def is_token_revoked(self, jti: str) -> bool: ...
