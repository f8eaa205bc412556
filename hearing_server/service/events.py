"""In-process notifications from the service layer to whoever pushes state to clients."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServiceEvent:
    """Something changed in a hearing. ``kind`` is e.g. 'hearing', 'participant'."""

    hearing_id: str
    kind: str
    data: dict[str, Any]


Listener = Callable[[ServiceEvent], Awaitable[None]]


class EventBus:
    """Fan-out to async listeners. A failing listener is logged and never breaks the caller."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def publish(self, event: ServiceEvent) -> None:
        results = await asyncio.gather(
            *(listener(event) for listener in self._listeners), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                log.error("event listener failed for %s", event.kind, exc_info=result)
