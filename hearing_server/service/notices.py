"""Notices in a hearing (core/notices.py): sending one to its audience, the receipts, reading
them back. Signaling delivers them (``NoticeChanged``); everything is stored and audited."""

from __future__ import annotations

import uuid
from typing import Any

from hearing_server.core.actors import Actor
from hearing_server.core.audit import AuditEvent
from hearing_server.core.errors import Conflict, NotFound, ValidationError
from hearing_server.core.notices import Audience, Notice, NoticeRecord, notice_text
from hearing_server.core.participant import (
    Participant,
    ParticipantState,
    PartySide,
    Role,
    party_side_of,
)
from hearing_server.core.permissions import Action, authorize, can

from .events import NoticeChanged
from .hearings import HearingService

# Who is not an addressee of "everyone" or a side: the screen in the courtroom.
_NOT_ADDRESSED = frozenset({Role.COURTROOM_DISPLAY})


def _of_side(people: list[Participant], side: PartySide) -> list[Participant]:
    """A side's parties, the counsel who represent them and the interpreters for them."""
    by_id = {p.id: p for p in people}
    return [p for p in people if party_side_of(p, by_id) is side]


class NoticeService:
    """Send notices, record receipts, list them for the console or for one recipient."""

    def __init__(self, hearings: HearingService) -> None:
        self._hearings = hearings

    async def send(
        self,
        actor: Actor,
        hearing_id: str,
        *,
        audience: str,
        target: str | None = None,
        template: str | None = None,
        text: str | None = None,
    ) -> NoticeRecord:
        """Send a notice (``send_notice``: judge, clerk, mediator) to its audience as it is
        now. Raises ``ValidationError`` for a bad audience, template or text, ``NotFound`` for
        a target not on this hearing, ``Conflict`` (``no_recipients``) if it reaches nobody."""
        hearing = await self._hearings.store.get_hearing(hearing_id)
        authorize(actor, Action.SEND_NOTICE, hearing)
        try:
            kind = Audience(audience)
        except ValueError:
            raise ValidationError(f"no audience {audience!r}") from None
        body = notice_text(template, text)
        people = [
            p
            for p in await self._hearings.store.list_participants(hearing_id)
            if p.id != actor.id and not p.removed
        ]
        recipients: list[Participant]
        if kind is Audience.PARTICIPANT:
            if not target:
                raise ValidationError("name the participant (target)")
            recipients = [p for p in people if p.id == target]
            if not recipients:
                raise NotFound(f"no participant {target} on this hearing to notify")
        elif kind is Audience.SIDE:
            try:
                side = PartySide(target or "")
            except ValueError:
                raise ValidationError(f"no party side {target!r}") from None
            recipients = _of_side(people, side)
        elif kind is Audience.WAITING_ROOM:
            if target is not None:
                raise ValidationError("the waiting room takes no target")
            recipients = [p for p in people if p.state is ParticipantState.WAITING]
        else:
            if target is not None:
                raise ValidationError("everyone takes no target")
            recipients = [p for p in people if p.role not in _NOT_ADDRESSED]
        if not recipients:
            raise Conflict("nobody is there to receive this notice", code="no_recipients")
        notice = Notice(
            id=uuid.uuid4().hex,
            hearing_id=hearing_id,
            sender_id=actor.id,
            audience=kind,
            target=target,
            template=template,
            text=body,
            created_at=self._hearings.now(),
        )
        ids = [p.id for p in recipients]
        await self._hearings.store.add_notice(notice, ids)
        await self._hearings.audit(
            hearing_id,
            actor,
            AuditEvent.NOTICE_SENT,
            {
                "notice_id": notice.id,
                "audience": kind.value,
                "target": target,
                "template": template,
                "text": body,
                "recipients": ids,
            },
        )
        record = await self._hearings.store.get_notice(notice.id)
        await self._publish(record, sent=True)
        return record

    async def receipt(self, actor: Actor, notice_id: str, *, read: bool) -> NoticeRecord:
        """The recipient's client showed the notice (``read`` false) or they acknowledged it
        (``read`` true). Only a recipient has a receipt; repeating one changes nothing."""
        record = await self._hearings.store.get_notice(notice_id)
        notice = record.notice
        if actor.hearing_id != notice.hearing_id or record.receipt_of(actor.id) is None:
            raise NotFound(f"no notice {notice_id} for you")
        now = self._hearings.now()
        _, delivered, was_read = await self._hearings.store.mark_receipt(
            notice_id, actor.id, delivered=now, read=now if read else None
        )
        events = ((delivered, AuditEvent.NOTICE_DELIVERED), (was_read, AuditEvent.NOTICE_READ))
        for newly, event in events:
            if newly:
                await self._hearings.audit(
                    notice.hearing_id, actor, event, {"notice_id": notice_id}
                )
        updated = await self._hearings.store.get_notice(notice_id)
        if delivered or was_read:
            await self._publish(updated, sent=False)
        return updated

    async def for_console(self, actor: Actor, hearing_id: str) -> list[dict[str, Any]]:
        """Every notice of the hearing with every receipt (those who may send notices)."""
        hearing = await self._hearings.store.get_hearing(hearing_id)
        authorize(actor, Action.SEND_NOTICE, hearing)
        return [r.to_json() for r in await self._hearings.store.list_notices(hearing_id)]

    async def for_recipient(self, participant_id: str) -> list[dict[str, Any]]:
        """The notices one participant received, each with their own receipt only."""
        return [r.to_json() for r in await self._hearings.store.notices_for(participant_id)]

    async def visible_to(self, actor: Actor, hearing_id: str) -> list[dict[str, Any]]:
        """What ``actor`` sees on joining: every notice if they may send them, else their own."""
        hearing = await self._hearings.store.get_hearing(hearing_id)
        if actor.role is not None and can(actor.role, Action.SEND_NOTICE, hearing.kind):
            return await self.for_console(actor, hearing_id)
        return await self.for_recipient(actor.id)

    async def _publish(self, record: NoticeRecord, *, sent: bool) -> None:
        recipients = tuple(r.participant_id for r in record.receipts)
        await self._hearings.events.publish(
            NoticeChanged(record.notice.hearing_id, record.to_json(), recipients, sent)
        )
