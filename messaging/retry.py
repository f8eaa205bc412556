"""Retries around any sender: a failed send is tried again, and the last failure is raised."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .base import Message, MessageSender, Receipt, SendError

log = logging.getLogger(__name__)


class RetryingSender:
    """Tries ``inner`` up to ``attempts`` times, waiting ``backoff_s``, then twice that, ...

    A :class:`SendError` that is not retryable, or the last one, is raised with ``attempts``
    set; every failed attempt is logged.
    """

    def __init__(
        self,
        inner: MessageSender,
        *,
        attempts: int = 3,
        backoff_s: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self._inner = inner
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._sleep = sleep

    @property
    def name(self) -> str:
        return self._inner.name

    async def send(self, message: Message) -> Receipt:
        delay = self._backoff_s
        for attempt in range(1, self._attempts + 1):
            try:
                receipt = await self._inner.send(message)
            except SendError as exc:
                log.warning(
                    "%s: sending failed (attempt %d of %d): %s",
                    self.name,
                    attempt,
                    self._attempts,
                    exc.message,
                )
                if not exc.retryable or attempt == self._attempts:
                    exc.attempts = attempt
                    raise
                await self._sleep(delay)
                delay *= 2
                continue
            return Receipt(receipt.sender, receipt.reference, attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    async def close(self) -> None:
        await self._inner.close()
