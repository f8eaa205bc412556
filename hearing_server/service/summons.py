"""The summons or notice of hearing/mediation as a generated PDF, served through electronic
service like any document: the court, the case, when (in the court's zone, and the
recipient's when they are elsewhere), where, and the recipient's own join link."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from esign import HearingNotice, render_notice
from hearing_server.core.actors import Actor
from hearing_server.core.errors import NotFound, ValidationError
from hearing_server.core.hearing import HearingKind
from hearing_server.core.permissions import Action, authorize
from hearing_server.core.serving import Delivery, ServedDocument

from .hearings import HearingService
from .serving import Recipient, ServingService

LANGS = ("zh-CN", "en")


def span_text(start: datetime, end: datetime, zone: str) -> str:
    """``2026-12-08 19:00 - 20:00 (Asia/Shanghai)``; the end's date too when it differs."""
    a, b = start.astimezone(ZoneInfo(zone)), end.astimezone(ZoneInfo(zone))
    tail = f"{b:%H:%M}" if a.date() == b.date() else f"{b:%Y-%m-%d %H:%M}"
    return f"{a:%Y-%m-%d %H:%M} - {tail} ({zone})"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SummonsService:
    """Generate the notice and serve it."""

    def __init__(
        self,
        hearings: HearingService,
        serving: ServingService,
        *,
        link_ttl: timedelta,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._hearings = hearings
        self._store = hearings.store
        self._serving = serving
        self._link_ttl = link_ttl
        self._now = clock

    async def render(
        self, hearing_id: str, recipient: Recipient, *, join_link: str | None, lang: str
    ) -> tuple[str, bytes]:
        """The notice's title and PDF bytes for ``recipient``."""
        if lang not in LANGS:
            raise ValidationError("lang must be zh-CN or en", code="invalid_field")
        hearing = await self._store.get_hearing(hearing_id)
        try:
            room = (await self._store.get_booking(hearing.id)).courtroom
        except NotFound:
            room = None
        zone = self._serving.time_zone
        mediation = hearing.kind is HearingKind.MEDIATION
        own = recipient.time_zone
        start = hearing.scheduled_start
        elsewhere = own is not None and (
            start.astimezone(ZoneInfo(own)).utcoffset()
            != start.astimezone(ZoneInfo(zone)).utcoffset()
        )
        local = span_text(start, hearing.scheduled_end, own) if own and elsewhere else None
        notice = HearingNotice(
            court=hearing.court,
            case_number=hearing.case_number,
            title=hearing.title,
            mediation=mediation,
            recipient=recipient.name,
            when=span_text(hearing.scheduled_start, hearing.scheduled_end, zone),
            when_local=local,
            courtroom=room,
            join_link=join_link,
            issued_at=self._serving.local_time(self._now()),
            lang=lang,
        )
        if lang == "en":
            title = "Notice of mediation" if mediation else "Summons"
        else:
            title = "调解通知书" if mediation else "开庭传票"
        # reportlab is CPU-bound: off the event loop.
        return title, await asyncio.to_thread(render_notice, notice)

    async def serve(
        self,
        actor: Actor,
        hearing_id: str,
        recipient: Recipient,
        *,
        lang: str = "zh-CN",
    ) -> tuple[ServedDocument, list[Delivery]]:
        """Generate the recipient's notice (with their join link when they are a participant
        of the hearing) and serve it on them by SMS and/or e-mail."""
        hearing = await self._store.get_hearing(hearing_id)
        authorize(actor, Action.SERVE_DOCUMENTS, hearing)
        join_link = None
        if recipient.participant_id is not None:
            participant = await self._store.get_participant(recipient.participant_id)
            if participant.hearing_id != hearing.id:
                raise NotFound(f"no participant {recipient.participant_id} in this hearing")
            # Issued by the system for the staff member (or party) who asked: the link's
            # issue is audited like any other.
            join_link, _, _ = await self._hearings.issue_link(
                Actor.system(), participant.id, ttl=self._link_ttl
            )
        title, pdf = await self.render(hearing.id, recipient, join_link=join_link, lang=lang)
        doc = await self._serving.add_document(
            actor, hearing.id, kind="summons", title=title, data=pdf
        )
        deliveries = await self._serving.serve(actor, hearing.id, doc.id, [recipient])
        return doc, deliveries
