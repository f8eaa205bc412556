"""What every per-hearing media consumer (composite, captions) reacts to, in one place."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping

from hearing_server.core.hearing import Hearing, HearingState
from hearing_server.media.events import MediaEvent, TrackPublished, TrackUnpublished
from hearing_server.service.events import (
    HearingChanged,
    HearingMoved,
    ParticipantChanged,
    ServiceEvent,
)
from hearing_server.service.hearings import HearingService
from hearing_server.service.live import LiveHearings

# The states in which a hearing's composite and captions run.
RUNNING_STATES = frozenset({HearingState.IN_SESSION, HearingState.PAUSED, HearingState.SUSPENDED})


class PerHearingConsumer(ABC):
    """Runs something per hearing and keeps it in step with the hearing room.

    Hearing changes go to ``on_hearing``; participant changes and published or unpublished
    tracks of someone in a running hearing re-sync it (``sync``). Only the node serving a
    hearing runs anything for it (``serves``; a single node serves every hearing): a hearing
    that went into session while nobody served it, or before a restart, starts here with its
    first participant, and one that moved to another node stops here.
    """

    def __init__(
        self,
        hearings: HearingService,
        live: LiveHearings,
        serves: Callable[[str], bool] = lambda hearing_id: True,
    ) -> None:
        self._hearings = hearings
        self._live = live
        self._serves = serves
        self._closed = False
        # hearings looked at from a participant change: not again until they move or stop
        self._looked_at: set[str] = set()

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

    @abstractmethod
    async def _stop(self, hearing_id: str) -> None:
        """Stop what runs for the hearing (nothing if nothing does)."""

    def wants(self, event: TrackPublished | TrackUnpublished) -> bool:
        """Whether a track event matters to this consumer (default: every kind)."""
        return True

    async def on_service_event(self, event: ServiceEvent) -> None:
        if self._closed:
            return
        if isinstance(event, HearingChanged):
            hid = event.hearing_id
            if self._serves(hid) or hid in self.running:
                await self.on_hearing(await self._hearings.store.get_hearing(hid))
        elif isinstance(event, ParticipantChanged) and event.hearing_id in self.running:
            await self.sync(event.hearing_id)
        elif isinstance(event, ParticipantChanged):
            await self._take_up(event.hearing_id)
        elif isinstance(event, HearingMoved):
            self._looked_at.discard(event.hearing_id)
            await self._stop(event.hearing_id)

    async def _take_up(self, hearing_id: str) -> None:
        """A hearing served here that runs nothing yet although its state says it should."""
        if hearing_id in self._looked_at or not self._serves(hearing_id):
            return
        self._looked_at.add(hearing_id)  # before the await: one look however many events come
        hearing = await self._hearings.store.get_hearing(hearing_id)
        if hearing.state in RUNNING_STATES:
            await self.on_hearing(hearing)
        else:
            self._looked_at.discard(hearing_id)  # not yet: look again at the next change

    async def on_media_event(self, event: MediaEvent) -> None:
        if self._closed or not isinstance(event, TrackPublished | TrackUnpublished):
            return
        if not self.wants(event):
            return
        hearing_id = self._live.hearing_of(event.pid)
        if hearing_id is not None and hearing_id in self.running:
            await self.sync(hearing_id)
