"""The HTTP client a node relays requests with to the node serving a hearing."""

from __future__ import annotations

import aiohttp


class Relay:
    """The HTTP client that relays requests to other nodes; made at first use (inside the
    running loop), closed by its owner."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            # Relayed answers may be long downloads: no total timeout, but a node that
            # stops answering mid-way is given up on.
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, connect=5, sock_read=60),
                auto_decompress=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
