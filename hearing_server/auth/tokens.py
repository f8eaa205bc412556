"""Join tokens (one per participant and link) and staff tokens, as HS256 JWTs."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import jwt

from hearing_server.core.actors import Actor
from hearing_server.core.participant import Role

ALGORITHM = "HS256"
ISSUER = "hearing-server"


class TokenError(Exception):
    """A token that cannot be accepted. ``code`` is stable and safe to show the client."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TokenType(StrEnum):
    JOIN = "join"
    STAFF = "staff"


@dataclass(frozen=True, slots=True)
class JoinClaims:
    """What a verified join token says."""

    hearing_id: str
    participant_id: str
    role: Role
    jti: str
    expires_at: datetime

    @property
    def actor(self) -> Actor:
        """The participant this token speaks for, as the authorization path sees them."""
        return Actor(id=self.participant_id, role=self.role, hearing_id=self.hearing_id)


@dataclass(frozen=True, slots=True)
class StaffClaims:
    """What a verified staff token says."""

    staff_name: str
    jti: str
    expires_at: datetime


IsRevoked = Callable[[str], Awaitable[bool]]


class TokenService:
    """Issues and verifies tokens; revocation is checked through ``is_revoked``."""

    def __init__(self, key: str, is_revoked: IsRevoked) -> None:
        self._key = key
        self._is_revoked = is_revoked

    def issue_join(
        self,
        hearing_id: str,
        participant_id: str,
        role: Role,
        ttl: timedelta,
        *,
        not_before: datetime | None = None,
        now: datetime | None = None,
    ) -> tuple[str, JoinClaims]:
        now = now or datetime.now(UTC)
        exp = now + ttl
        jti = uuid.uuid4().hex
        payload = {
            "iss": ISSUER,
            "typ": TokenType.JOIN.value,
            "hid": hearing_id,
            "sub": participant_id,
            "role": role.value,
            "iat": int(now.timestamp()),
            "nbf": int((not_before or now).timestamp()),
            "exp": int(exp.timestamp()),
            "jti": jti,
        }
        token = jwt.encode(payload, self._key, algorithm=ALGORITHM)
        return token, JoinClaims(hearing_id, participant_id, role, jti, exp)

    def issue_staff(
        self, staff_name: str, ttl: timedelta, *, now: datetime | None = None
    ) -> tuple[str, StaffClaims]:
        now = now or datetime.now(UTC)
        exp = now + ttl
        jti = uuid.uuid4().hex
        payload = {
            "iss": ISSUER,
            "typ": TokenType.STAFF.value,
            "sub": staff_name,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(exp.timestamp()),
            "jti": jti,
        }
        return jwt.encode(payload, self._key, algorithm=ALGORITHM), StaffClaims(
            staff_name, jti, exp
        )

    def _decode(self, token: str, typ: TokenType) -> dict[str, object]:
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise TokenError("invalid_token", "token missing or malformed")
        try:
            # algorithms is a closed list: 'none' and asymmetric-key confusion are refused.
            payload: dict[str, object] = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "nbf", "iat", "jti", "sub", "typ", "iss"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("token_expired", "the link has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise TokenError("token_not_yet_valid", "the link is not valid yet") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenError("invalid_token", "token is not valid") from exc
        if payload.get("typ") != typ.value:
            raise TokenError("invalid_token", f"not a {typ.value} token")
        return payload

    async def verify_join(self, token: str, *, hearing_id: str | None = None) -> JoinClaims:
        """Verify a join token; ``hearing_id`` if given must match the token's hearing."""
        p = self._decode(token, TokenType.JOIN)
        try:
            claims = JoinClaims(
                hearing_id=str(p["hid"]),
                participant_id=str(p["sub"]),
                role=Role(str(p["role"])),
                jti=str(p["jti"]),
                expires_at=datetime.fromtimestamp(int(str(p["exp"])), UTC),
            )
        except (KeyError, ValueError) as exc:
            raise TokenError("invalid_token", "token claims are malformed") from exc
        if hearing_id is not None and claims.hearing_id != hearing_id:
            raise TokenError("wrong_hearing", "this link is for another hearing")
        if await self._is_revoked(claims.jti):
            raise TokenError("token_revoked", "this link has been revoked")
        return claims

    def is_staff_token(self, token: str) -> bool:
        """Whether ``token`` says it is a staff token: only to choose the verifier, which then
        checks everything (signature, times, revocation)."""
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            return False
        return isinstance(claims, dict) and claims.get("typ") == TokenType.STAFF.value

    async def verify_staff(self, token: str) -> StaffClaims:
        p = self._decode(token, TokenType.STAFF)
        claims = StaffClaims(
            staff_name=str(p["sub"]),
            jti=str(p["jti"]),
            expires_at=datetime.fromtimestamp(int(str(p["exp"])), UTC),
        )
        if await self._is_revoked(claims.jti):
            raise TokenError("token_revoked", "this token has been revoked")
        return claims
