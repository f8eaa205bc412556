"""The typed events features publish, and the in-process bus that fans them out."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class HearingChanged:
    """The hearing's state, layout or times changed; ``data`` is the hearing as JSON."""

    hearing_id: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ParticipantChanged:
    """A participant's state, room, mute or hand changed; ``data`` is their full JSON."""

    hearing_id: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RecordingStateChanged:
    """The hearing's recording started, paused, resumed or stopped (everyone is told)."""

    hearing_id: str
    status: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LivestreamStateChanged:
    """The hearing's public livestream started, was cut, resumed or stopped (everyone in the
    hearing is told: they are being broadcast, or no longer)."""

    hearing_id: str
    status: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RecordingAlertRaised:
    """A recording failed or recovered (the judge, clerk and mediator are told at once)."""

    hearing_id: str
    alert: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CaptionPublished:
    """An interim or final caption for the people in the hearing room (``recipients``)."""

    hearing_id: str
    recipients: tuple[str, ...]
    caption: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TrackChanged:
    """A participant published (``published``) or withdrew a track."""

    hearing_id: str
    published: bool
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SubscriberOfferMade:
    """The media server has a new subscriber offer for ``participant_id`` to answer."""

    participant_id: str
    offer: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ServerLoadChanged:
    """The server sheds load (or stops shedding); the staff of ``hearing_ids`` are told."""

    hearing_ids: tuple[str, ...]
    status: dict[str, Any]


@dataclass(frozen=True, slots=True)
class HearingMoved:
    """This node no longer serves the hearing (its lease went to another node): its
    clients here are disconnected, reconnect, and are sent to the new owner."""

    hearing_id: str


@dataclass(frozen=True, slots=True)
class IdentityChanged:
    """A participant's identity check progressed (``data``: its status as JSON); the staff who
    see everyone and the participant themselves are told."""

    hearing_id: str
    participant_id: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class IdentityProgress:
    """A camera check moved on (a challenge done, time left); the participant and the staff
    are told. Never holds a frame, a photo or an encoding."""

    hearing_id: str
    participant_id: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class IdentityAlertRaised:
    """Someone needs the clerk: locked out after failed checks, asked for help, or their code
    could not be sent. Delivered to the judge, clerk and mediator at once."""

    hearing_id: str
    alert: dict[str, Any]


@dataclass(frozen=True, slots=True)
class HelpRequested:
    """A participant asks the clerk for help (a refused camera, a lost link, anything): the
    staff's consoles are told at once. ``alert`` is the board's alert as JSON plus ``reason``."""

    hearing_id: str
    alert: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RoomsChanged:
    """A private room of the hearing opened, closed, changed members or ran out of time.

    ``rooms`` lists the open private rooms as JSON; ``reason`` says what happened
    (``opened``, ``closed``, ``moved``, ``timer``, ``timer_expired``). Everyone in the hearing
    is told: the side left in the joint session sees that the mediator is meeting the other.
    """

    hearing_id: str
    reason: str
    rooms: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class AgreementChanged:
    """The mediation agreement changed: the mediator and staff get ``full``; the parties and
    their counsel (``recipients``) get ``for_parties``, which hides a draft."""

    hearing_id: str
    full: dict[str, Any]
    for_parties: dict[str, Any]
    recipients: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ConsultationChanged:
    """A consultation was requested, accepted or declined: the people of the request
    (``recipients``) and the staff are told (``data``: status and the request)."""

    hearing_id: str
    recipients: tuple[str, ...]
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NoticeChanged:
    """A notice was sent (``recipients`` get it with their own receipt) or a receipt moved
    on; the staff who see everyone get ``full``, the notice with every receipt."""

    hearing_id: str
    full: dict[str, Any]
    recipients: tuple[str, ...]
    sent: bool


@dataclass(frozen=True, slots=True)
class EvidenceChanged:
    """An exhibit was submitted, released or presented, or an opinion recorded: everyone in
    the hearing is told that the bundle changed (``reason``), and fetches what they may see;
    the staff also learn which exhibit."""

    hearing_id: str
    reason: str
    exhibit_id: str


@dataclass(frozen=True, slots=True)
class PresentationChanged:
    """What is presented on every screen changed (``data``; ``None`` once it ends): the people
    in the hearing room (``recipients``) follow it, and so does the courtroom composite."""

    hearing_id: str
    recipients: tuple[str, ...]
    data: dict[str, Any] | None


ServiceEvent = (
    HearingChanged
    | ParticipantChanged
    | RecordingStateChanged
    | LivestreamStateChanged
    | RecordingAlertRaised
    | CaptionPublished
    | TrackChanged
    | SubscriberOfferMade
    | ServerLoadChanged
    | HearingMoved
    | IdentityChanged
    | IdentityProgress
    | IdentityAlertRaised
    | HelpRequested
    | RoomsChanged
    | AgreementChanged
    | ConsultationChanged
    | NoticeChanged
    | EvidenceChanged
    | PresentationChanged
)
"""What the application's features tell each other and the people in a hearing.

Features publish these on the one service bus; signaling subscribes and delivers them, so no
feature holds a reference to the socket.io namespace.
"""


Listener = Callable[[E], Awaitable[None]]


SLOW_LISTENER_S = 0.2
"""A listener taking longer than this is logged: it holds up the action that published."""


class EventBus(Generic[E]):
    """Fan-out to async listeners. A failing listener is logged and never breaks the caller.

    ``publish`` awaits every listener, so that what a listener must do before the action
    answers (deliver the change to clients, update the media plan) is done when it answers.
    The rule (docs/architecture.md): a listener returns quickly and hands anything long
    (draining recognition, finishing a recording, stopping a compositor) to its owner's
    :class:`~hearing_server.service.background.BackgroundWork`. A slow listener is logged.
    """

    def __init__(self, *, slow_after_s: float = SLOW_LISTENER_S) -> None:
        self._listeners: list[Listener[E]] = []
        self._slow_after_s = slow_after_s

    def subscribe(self, listener: Listener[E]) -> None:
        self._listeners.append(listener)

    async def publish(self, event: E) -> None:
        results = await asyncio.gather(
            *(self._deliver(listener, event) for listener in self._listeners),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                log.error("listener failed on %s", type(event).__name__, exc_info=result)

    async def _deliver(self, listener: Listener[E], event: E) -> None:
        started = time.monotonic()
        try:
            await listener(event)
        finally:
            took = time.monotonic() - started
            if took > self._slow_after_s:
                log.warning(
                    "%s took %.2f s on %s: a listener must hand long work to the background",
                    getattr(listener, "__qualname__", repr(listener)),
                    took,
                    type(event).__name__,
                )

    async def __call__(self, event: E) -> None:
        """So a bus can itself be handed over as a callback."""
        await self.publish(event)
