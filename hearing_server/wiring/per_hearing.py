"""What every per-hearing media consumer (composite, captions) reacts to, in one place."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

from hearing_server.core.hearing import Hearing
from hearing_server.media.events import MediaEvent, TrackPublished, TrackUnpublished
from hearing_server.service.events import HearingChanged, ParticipantChanged, ServiceEvent
from hearing_server.service.hearings import HearingService
from hearing_server.service.live import LiveHearings


class PerHearingConsumer(ABC):
    """Runs something per hearing and keeps it in step with the hearing room.

    Hearing changes go to ``on_hearing``; participant changes and published or unpublished
    tracks of someone in a running hearing re-sync it (``sync``).
    """

    def __init__(self, hearings: HearingService, live: LiveHearings) -> None:
        self._hearings = hearings
        self._live = live
        self._closed = False

    @property
    @abstractmethod
    def running(self) -> Mapping[str, object]:
        """Hearing id -> what runs for it."""

    @abstractmethod
    async def on_hearing(self, hearing: Hearing) -> None:
        """Start, update or stop what runs for ``hearing``."""

    @abstractmethod
    async def sync(self, hearing_id: str) -> None:
        """Match the hearing room as it is now."""

    def wants(self, event: TrackPublished | TrackUnpublished) -> bool:
        """Whether a track event matters to this consumer (default: every kind)."""
        return True

    async def on_service_event(self, event: ServiceEvent) -> None:
        if self._closed:
            return
        if isinstance(event, HearingChanged):
            await self.on_hearing(await self._hearings.store.get_hearing(event.hearing_id))
        elif isinstance(event, ParticipantChanged) and event.hearing_id in self.running:
            await self.sync(event.hearing_id)

    async def on_media_event(self, event: MediaEvent) -> None:
        if self._closed or not isinstance(event, TrackPublished | TrackUnpublished):
            return
        if not self.wants(event):
            return
        hearing_id = self._live.hearing_of(event.pid)
        if hearing_id is not None and hearing_id in self.running:
            await self.sync(hearing_id)
