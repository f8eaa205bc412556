"""Who is live on this node right now: hearings by state, connected participants by role.

Read from presence (who is connected) and the store (the hearing's state, the participant's
role), for the metrics endpoint; nothing is kept between two calls.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from hearing_server.core.errors import NotFound

from .live import LiveHearings


@dataclass(frozen=True, slots=True)
class LiveCensus:
    """Counts keyed by the enum values (``HearingState``, ``Role``)."""

    hearings: Counter[str] = field(default_factory=Counter)
    participants: Counter[str] = field(default_factory=Counter)


async def live_census(live: LiveHearings) -> LiveCensus:
    """The hearings someone is connected to on this node, by state, and who is connected,
    by role. A hearing deleted meanwhile is left out."""
    census = LiveCensus()
    store = live.service.store
    for hearing_id in sorted(live.live_hearing_ids()):
        try:
            hearing = await store.get_hearing(hearing_id)
        except NotFound:
            continue
        census.hearings[hearing.state.value] += 1
        for p in await store.list_participants(hearing_id):
            if live.is_connected(hearing_id, p.id):
                census.participants[p.role.value] += 1
    return census
