"""The recipients' tracking links of electronic service: each delivery's token is an HMAC of
its id under the server's serving key, so the job that sends the link (and a re-send, and a
later notice) can rebuild it; the store keeps only its SHA-256."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlsplit


class TrackingLinks:
    """Tokens and links of deliveries, under the serving key."""

    def __init__(self, secret: bytes, public_url: str) -> None:
        self._secret = secret
        self._public_url = public_url.rstrip("/")

    def token_for(self, delivery_id: str) -> str:
        """The delivery's tracking token (rebuilt from the serving key, never stored)."""
        mac = hmac.new(self._secret, f"serving:{delivery_id}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")

    def link_for(self, delivery_id: str) -> str:
        """The delivery's tracking page."""
        return f"{self._public_url}/s/{self.token_for(delivery_id)}"

    @property
    def host(self) -> str:
        """The server's host name, for calendar UIDs."""
        return urlsplit(self._public_url).hostname or "hearing-server"
