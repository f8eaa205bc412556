"""What served recipients are told about their hearing's time after service: the new time
when it is rescheduled, the cancellation, reminders 24 h and 1 h before, and the calendar
file of their link. Every notice is a durable job, keyed so that a repeat sends nothing and a
notice of a time that has since changed is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hearing_server.core.actors import Actor
from hearing_server.core.audit import AuditEvent
from hearing_server.core.errors import NotFound
from hearing_server.core.hearing import Hearing, HearingState
from hearing_server.core.ics import hearing_event
from hearing_server.core.jobs import Job
from hearing_server.core.schedule import Booking
from hearing_server.core.serving import (
    ELECTRONIC_CHANNELS,
    Channel,
    Delivery,
    DeliveryStatus,
)
from hearing_server.core.serving_texts import (
    cancelled_message,
    reminder_message,
    rescheduled_message,
)
from messaging import Message, MessageSender, SendError

from .events import HearingChanged
from .hearings import HearingService
from .jobs import JobError, JobRunner
from .serving_links import TrackingLinks

REMINDER_JOB = "serving.remind"
"""The kind of the jobs that remind a recipient of the hearing, 24 h and 1 h before."""

REMINDER_HOURS = (24, 1)

RESCHEDULE_JOB = "serving.rescheduled"
"""The kind of the jobs that tell the served recipients of a hearing its new time (one job per
hearing, start time and schedule revision: the time it was served at holds one that does
nothing)."""

CANCEL_JOB = "serving.cancelled"
"""The kind of the jobs that tell the served recipients of a hearing that it is cancelled."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ServedNotices:
    """Tell the served recipients of a hearing about its time, durably."""

    def __init__(
        self,
        hearings: HearingService,
        jobs: JobRunner,
        senders: Mapping[Channel, MessageSender],
        links: TrackingLinks,
        *,
        court_time_zone: str = "Asia/Shanghai",
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._hearings = hearings
        self._store = hearings.store
        self._jobs = jobs
        self._senders = dict(senders)
        self._links = links
        self.time_zone = court_time_zone
        self._now = clock
        jobs.register(REMINDER_JOB, self._remind_job)
        jobs.register(RESCHEDULE_JOB, self._rescheduled_job)
        jobs.register(CANCEL_JOB, self._cancelled_job)

    async def served(self, d: Delivery, hearing: Hearing, now: datetime) -> None:
        """A delivery was queued: its reminders are planned."""
        await self._plan_reminders(d, hearing, now)

    async def served_at(self, hearing: Hearing) -> None:
        """The hearing was served at its present time: a later change to another time is
        news, this one is not."""
        revision = await self._revision(hearing.id)
        await self._jobs.enqueue(
            RESCHEDULE_JOB,
            {"hearing_id": hearing.id, "start": _utc_text(hearing.scheduled_start),
             "revision": revision, "served": True},
            key=_resched_key(hearing.id, hearing.scheduled_start, revision),
        )  # fmt: skip

    async def _booking(self, hearing_id: str) -> Booking | None:
        try:
            return await self._store.get_booking(hearing_id)
        except NotFound:
            return None

    async def _revision(self, hearing_id: str) -> int:
        booking = await self._booking(hearing_id)
        return booking.revision if booking is not None else 0

    async def tell_new_time(self, hearing_id: str, *, news: bool = True) -> None:
        """The hearing was rescheduled (time or courtroom): its served recipients are told,
        durably, once per schedule revision. Nothing is sent if nothing was served.
        ``news=False``: the schedule's revision changed but not the time the recipients
        know (a first booking at the served time), so they are told nothing."""
        if not await self._store.list_deliveries(hearing_id=hearing_id, limit=1):
            return
        hearing = await self._store.get_hearing(hearing_id)
        revision = await self._revision(hearing_id)
        payload: dict[str, Any] = {"hearing_id": hearing_id, "revision": revision,
                                   "start": _utc_text(hearing.scheduled_start)}  # fmt: skip
        if not news:
            payload["served"] = True
        await self._jobs.enqueue(
            RESCHEDULE_JOB,
            payload,
            key=_resched_key(hearing_id, hearing.scheduled_start, revision),
        )

    async def tell_cancelled(self, hearing_id: str) -> None:
        """The hearing was cancelled: its served recipients are told, durably, once."""
        if not await self._store.list_deliveries(hearing_id=hearing_id, limit=1):
            return
        await self._jobs.enqueue(CANCEL_JOB, {"hearing_id": hearing_id}, key=f"cancel:{hearing_id}")

    async def on_service_event(self, event: object) -> None:
        """A hearing's time changed: its served recipients are told, durably (one job per
        new time; the listener only enqueues)."""
        if not isinstance(event, HearingChanged):
            return
        try:
            start = _utc_text(datetime.fromisoformat(str(event.data.get("scheduled_start"))))
        except ValueError:
            return
        if not await self._store.list_deliveries(hearing_id=event.hearing_id, limit=1):
            return
        # The same key as the scheduling service's own notice of this revision: one job.
        revision = await self._revision(event.hearing_id)
        await self._jobs.enqueue(
            RESCHEDULE_JOB,
            {"hearing_id": event.hearing_id, "start": start, "revision": revision},
            key=_resched_key(event.hearing_id, datetime.fromisoformat(start), revision),
        )

    async def _rescheduled_job(self, job: Job) -> None:
        if job.payload.get("served"):
            return
        hearing = await self._store.get_hearing(str(job.payload.get("hearing_id", "")))
        if _utc_text(hearing.scheduled_start) != job.payload.get("start"):
            return  # changed again since: the newer time has its own job
        booking = await self._booking(hearing.id)
        if booking is not None and booking.revision != job.payload.get("revision", 0):
            return  # the schedule changed again since: its newer revision has its own job
        if hearing.state is HearingState.CLOSED:
            return  # cancelled or over: nobody is sent to a hearing that will not sit
        now = self._now()
        told: set[tuple[Channel, str]] = set()
        for d in await self._store.list_deliveries(hearing_id=hearing.id, limit=10_000):
            if d.channel not in ELECTRONIC_CHANNELS or d.status is DeliveryStatus.FAILED:
                continue
            if (d.channel, d.address) in told:
                continue  # one notice per address, whatever was served to it
            told.add((d.channel, d.address))
            await self._plan_reminders(d, hearing, now)
            sender = self._senders.get(d.channel)
            if sender is None:
                continue
            subject, text = rescheduled_message(
                court=hearing.court,
                case_number=hearing.case_number,
                recipient=d.recipient,
                when=self.time_for(d, hearing.scheduled_start),
                link=self._links.link_for(d.id),
                calendar=f"{self._links.link_for(d.id)}/calendar.ics",
                courtroom=booking.courtroom if booking is not None else None,
                reason=booking.reason if booking is not None else None,
            )
            key = f"{d.id}:t{_utc_text(hearing.scheduled_start)}"
            if booking is not None:
                key += f":r{booking.revision}"
            try:
                await sender.send(Message(d.address, subject, text, key=key))
            except SendError as exc:
                raise JobError(exc.message, retryable=exc.retryable) from exc
            await self._hearings.audit(
                hearing.id,
                Actor.system(),
                AuditEvent.SERVICE_RESCHEDULE_SENT,
                {"delivery_id": d.id, "channel": d.channel.value,
                 "start": hearing.scheduled_start.isoformat()},
            )  # fmt: skip

    async def _plan_reminders(self, d: Delivery, hearing: Hearing, now: datetime) -> None:
        """Reminder jobs 24 h and 1 h before the hearing (those still ahead). Keyed by the
        start time: a reminder of a time that has since changed is skipped when due."""
        start = _utc_text(hearing.scheduled_start)
        for hours in REMINDER_HOURS:
            due = hearing.scheduled_start - timedelta(hours=hours)
            if due <= now:
                continue
            await self._jobs.enqueue(
                REMINDER_JOB,
                {"delivery_id": d.id, "hours": hours, "start": start},
                due_at=due,
                key=f"remind:{d.id}:{hours}:{start}",
            )

    def time_for(self, d: Delivery, value: datetime) -> str:
        """A time as a recipient's message states it: in the court's zone, named, and in the
        recipient's own zone too when they are elsewhere."""
        return both_times(value, self.time_zone, d.time_zone)

    async def _cancelled_job(self, job: Job) -> None:
        hearing = await self._store.get_hearing(str(job.payload.get("hearing_id", "")))
        booking = await self._booking(hearing.id)
        reason = booking.reason if booking is not None and not booking.active else None
        told: set[tuple[Channel, str]] = set()
        for d in await self._store.list_deliveries(hearing_id=hearing.id, limit=10_000):
            if d.channel not in ELECTRONIC_CHANNELS or d.status is DeliveryStatus.FAILED:
                continue
            if (d.channel, d.address) in told:
                continue
            told.add((d.channel, d.address))
            sender = self._senders.get(d.channel)
            if sender is None:
                continue
            subject, text = cancelled_message(
                court=hearing.court,
                case_number=hearing.case_number,
                recipient=d.recipient,
                when=self.time_for(d, hearing.scheduled_start),
                reason=reason or "",
                link=self._links.link_for(d.id),
            )
            try:
                await sender.send(Message(d.address, subject, text, key=f"{d.id}:cancel"))
            except SendError as exc:
                raise JobError(exc.message, retryable=exc.retryable) from exc
            await self._hearings.audit(
                hearing.id,
                Actor.system(),
                AuditEvent.SERVICE_CANCELLATION_SENT,
                {"delivery_id": d.id, "channel": d.channel.value},
            )

    async def _remind_job(self, job: Job) -> None:
        try:
            d = await self._store.get_delivery(str(job.payload.get("delivery_id", "")))
        except NotFound:
            raise JobError("the reminder's delivery is gone", retryable=False) from None
        hearing = await self._store.get_hearing(d.hearing_id)
        if _utc_text(hearing.scheduled_start) != job.payload.get("start"):
            return  # rescheduled since: this reminder is of a time that no longer holds
        if hearing.state is HearingState.CLOSED:
            return  # cancelled or over
        sender = self._senders.get(d.channel)
        if sender is None:
            raise JobError(f"no sender for {d.channel}", retryable=False)
        doc = await self._store.get_served_document(d.document_id)
        hours = int(job.payload.get("hours", 0))
        subject, text = reminder_message(
            court=hearing.court,
            case_number=hearing.case_number,
            recipient=d.recipient,
            title=doc.title,
            when=self.time_for(d, hearing.scheduled_start),
            hours=hours,
            link=self._links.link_for(d.id),
            calendar=f"{self._links.link_for(d.id)}/calendar.ics",
        )
        try:
            await sender.send(Message(d.address, subject, text, key=f"{d.id}:r{hours}"))
        except SendError as exc:
            raise JobError(exc.message, retryable=exc.retryable) from exc
        await self._hearings.audit(
            hearing.id,
            Actor.system(),
            AuditEvent.SERVICE_REMINDER_SENT,
            {"delivery_id": d.id, "channel": d.channel.value, "hours": hours},
        )

    async def calendar(self, d: Delivery) -> tuple[str, str]:
        """The hearing's calendar file for a delivery's recipient: (file name, text)."""
        hearing = await self._store.get_hearing(d.hearing_id)
        doc = await self._store.get_served_document(d.document_id)
        booking = await self._booking(hearing.id)
        room = booking.courtroom if booking is not None else None
        # A calendar updates the event it has by UID when the sequence grows: a reschedule
        # moves it, a cancellation strikes it out.
        text = hearing_event(
            uid=f"{hearing.id}@{self._links.host}",
            start=hearing.scheduled_start,
            end=hearing.scheduled_end,
            summary=f"{hearing.court} {hearing.case_number} 开庭 / hearing",
            description=(
                f"{hearing.title}\n{doc.title}\n"
                f"{self.time_for(d, hearing.scheduled_start)} - "
                f"{self.time_for(d, hearing.scheduled_end)}\n{self._links.link_for(d.id)}"
            ),
            location=f"{hearing.court} {room}" if room else hearing.court,
            stamp=self._now(),
            sequence=booking.revision if booking is not None else 0,
            cancelled=booking is not None and not booking.active,
        )
        return f"hearing-{hearing.id}.ics", text


def _utc_text(value: datetime) -> str:
    """A start time as job keys hold it: one spelling per instant, whatever its zone."""
    return value.astimezone(UTC).isoformat()


def _resched_key(hearing_id: str, start: datetime, revision: int) -> str:
    """One reschedule notice per hearing, start and schedule revision (0: never booked)."""
    key = f"resched:{hearing_id}:{_utc_text(start)}"
    return key if revision == 0 else f"{key}:r{revision}"


def both_times(value: datetime, court_zone: str, own_zone: str | None) -> str:
    """``value`` in the court's zone, named; followed by the same instant in ``own_zone``
    when that is another zone (``2026-12-08 09:30 (Asia/Shanghai) = 2026-12-08 02:30
    (Europe/Berlin)``)."""
    court = f"{value.astimezone(ZoneInfo(court_zone)):%Y-%m-%d %H:%M} ({court_zone})"
    if not own_zone or own_zone == court_zone:
        return court
    own = value.astimezone(ZoneInfo(own_zone))
    if own.utcoffset() == value.astimezone(ZoneInfo(court_zone)).utcoffset():
        return court
    return f"{court} = {own:%Y-%m-%d %H:%M} ({own_zone})"
