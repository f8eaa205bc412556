"""In-process fan-out of events to async listeners (service changes, media events)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class ServiceEvent:
    """Something changed in a hearing. ``kind`` is e.g. 'hearing', 'participant'."""

    hearing_id: str
    kind: str
    data: dict[str, Any]


Listener = Callable[[E], Awaitable[None]]


class EventBus(Generic[E]):
    """Fan-out to async listeners. A failing listener is logged and never breaks the caller."""

    def __init__(self) -> None:
        self._listeners: list[Listener[E]] = []

    def subscribe(self, listener: Listener[E]) -> None:
        self._listeners.append(listener)

    async def publish(self, event: E) -> None:
        results = await asyncio.gather(
            *(listener(event) for listener in self._listeners), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                log.error("listener failed on %s", type(event).__name__, exc_info=result)

    async def __call__(self, event: E) -> None:
        """So a bus can itself be handed over as a callback."""
        await self.publish(event)
