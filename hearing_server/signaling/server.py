"""The socket.io server, minus the tracebacks a malformed packet caused.

python-socketio decodes each engine.io message in ``_handle_eio_message`` (private); a packet
that is not valid socket.io (bad JSON, nesting past the recursion limit, an event without a
name, a CONNECT_ERROR or binary packet a client may not send) raises there, and engine.io
logs the exception with its traceback as a server error. Such a client is broken or hostile:
it gets one warning line and its connection is closed; everyone else is unaffected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import socketio

log = logging.getLogger(__name__)

# What decoding a malformed packet raises (JSONDecodeError is a ValueError).
MALFORMED = (ValueError, TypeError, IndexError, RecursionError)
CLOSE_S = 5.0


class SignalingServer(socketio.AsyncServer):  # type: ignore[misc]
    """``socketio.AsyncServer`` that closes a client sending packets it cannot decode."""

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            await super()._handle_eio_message(eio_sid, data)
        except MALFORMED as exc:
            log.warning(
                "closing a socket.io client that sent a malformed packet (%s: %.100s)",
                type(exc).__name__,
                exc,
            )
            self._binary_packet.pop(eio_sid, None)
            # (bounded: engine.io waits for the socket's send queue, which a client gone
            # mid-send never drains)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_S):
                    await self.eio.disconnect(eio_sid)
