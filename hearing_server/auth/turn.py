"""Short-lived TURN credentials in the TURN REST API scheme (coturn's ``use-auth-secret``).

The server and coturn share one secret. For a participant the server issues

    username   = "<expiry as unix time>:<participant id>"
    credential = base64(HMAC-SHA1(secret, username))

and coturn, knowing the secret, recomputes the credential and refuses a username whose expiry
has passed. Nothing is stored and nothing is sent to coturn. coturn checks the expiry once,
when a TURN session authenticates (its first Allocate); the allocation's refreshes go on
after that, so the lifetime only has to cover the time between issuing and gathering.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: the secret coturn's ``static-auth-secret`` must equal; shorter ones are refused
MIN_SECRET_CHARS = 32


def turn_credential(secret: str, user: str, expires_at: int) -> tuple[str, str]:
    """The (username, credential) pair coturn accepts for ``user`` until ``expires_at``."""
    if ":" in user:
        # coturn splits the username at its first colon; the expiry must come first alone
        raise ValueError("a TURN user id cannot contain ':'")
    username = f"{int(expires_at)}:{user}"
    digest = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


class TurnCredentials:
    """Issues one ``RTCIceServer``-shaped dict with fresh credentials per request.

    The secret stays inside this object: it is never part of what is returned, and the
    object's ``repr`` leaves it out.
    """

    def __init__(
        self,
        urls: list[str],
        secret: str,
        ttl_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not urls:
            raise ValueError("TURN credentials need at least one TURN URL")
        if len(secret) < MIN_SECRET_CHARS:
            raise ValueError(f"the TURN secret must be at least {MIN_SECRET_CHARS} characters")
        if ttl_seconds <= 0:
            raise ValueError("the TURN credential lifetime must be positive")
        self._urls = list(urls)
        self._secret = secret
        self._ttl = ttl_seconds
        self._clock = clock

    def __repr__(self) -> str:
        return f"TurnCredentials(urls={self._urls!r}, ttl_seconds={self._ttl!r})"

    def ice_server(self, user: str) -> dict[str, Any]:
        """``{urls, username, credential}`` for ``user`` (a participant id), valid for the
        configured lifetime from now."""
        expires_at = int(self._clock() + self._ttl)
        username, credential = turn_credential(self._secret, user, expires_at)
        return {"urls": list(self._urls), "username": username, "credential": credential}


def load_turn_secret(path: Path) -> str:
    """The shared secret in ``path``, created (owner-only, mode 0600) when missing.

    An existing file that its group or others may read is refused: whoever reads the secret
    can mint credentials for the relay.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(32)
        # O_EXCL: two processes starting at once must not both write different secrets.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return load_turn_secret(path)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(value + "\n")
        return value
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise ValueError(
            f"the TURN secret file {path} may be read by others "
            f"(mode {stat.S_IMODE(info.st_mode):o}); chmod 600 it"
        )
    value = path.read_text(encoding="utf-8").strip()
    if len(value) < MIN_SECRET_CHARS:
        raise ValueError(f"the TURN secret in {path} is shorter than {MIN_SECRET_CHARS} characters")
    return value
