"""Keyed hashes: what the server keeps instead of ID numbers and one-time codes.

HMAC-SHA256 with a server secret (kept in the data dir, like the other keys): a stolen database
alone does not let anyone test guesses of an ID number offline, as a plain hash would (an
18-digit number with a known structure has few enough candidates to enumerate).
"""

from __future__ import annotations

import hashlib
import hmac


def normalise_id_number(number: str) -> str:
    """An ID number as compared: whitespace and dashes removed, upper case (``x`` -> ``X``)."""
    return "".join(ch for ch in number if not ch.isspace() and ch != "-").upper()


class KeyedHasher:
    """HMAC-SHA256 digests under one secret, and constant-time comparison against them."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the identity secret must be at least 16 bytes")
        self._secret = secret

    def _digest(self, purpose: str, *parts: str) -> str:
        # The purpose and the length-prefixed parts keep digests of different things (an ID
        # number, a code for one participant) from ever colliding with each other.
        msg = purpose.encode() + b"".join(
            len(p.encode()).to_bytes(4, "big") + p.encode() for p in parts
        )
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()

    def id_number(self, id_type: str, number: str) -> str:
        """The digest stored for an ID number of ``id_type``."""
        return self._digest("id-number", id_type, normalise_id_number(number))

    def code(self, owner: str, code: str) -> str:
        """The digest stored for a one-time code issued to ``owner``."""
        return self._digest("one-time-code", owner, code.strip())

    @staticmethod
    def same(digest: str, expected: str) -> bool:
        """Compare two digests in constant time."""
        return hmac.compare_digest(digest.encode(), expected.encode())
