"""One-time codes: six random digits."""

from __future__ import annotations

import secrets

CODE_DIGITS = 6


def new_code() -> str:
    """A fresh code from the system's CSPRNG, zero-padded to :data:`CODE_DIGITS` digits."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
