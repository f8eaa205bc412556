"""The hearing aggregate's storage: hearings and their participants."""

from __future__ import annotations

from typing import Protocol

from hearing_server.core.hearing import Hearing, HearingState
from hearing_server.core.participant import Participant


class HearingStore(Protocol):
    """Persistence of hearings and their participants.

    Implementations raise :class:`hearing_server.core.errors.NotFound` for missing rows and
    :class:`hearing_server.core.errors.Conflict` for duplicate ids.
    """

    async def create_hearing(self, hearing: Hearing) -> None: ...

    async def get_hearing(self, hearing_id: str) -> Hearing: ...

    async def list_hearings(
        self, *, state: HearingState | None = None, limit: int = 100, offset: int = 0
    ) -> list[Hearing]: ...

    async def update_hearing(self, hearing: Hearing) -> None: ...

    async def add_participant(self, participant: Participant) -> None: ...

    async def get_participant(self, participant_id: str) -> Participant: ...

    async def list_participants(self, hearing_id: str) -> list[Participant]: ...

    async def update_participant(self, participant: Participant) -> None: ...
