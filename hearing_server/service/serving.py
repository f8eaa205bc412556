"""Electronic service (电子送达) use cases: store a document, serve it on recipients by SMS and
e-mail through the job queue, follow each delivery (gateway callbacks, the tracking link opened,
receipt confirmed), list what needs a phone call, record service by phone or post, print
the service receipt. The tracking links are :mod:`.serving_links`'; what recipients are told
later about the hearing's time is :mod:`.serving_notices`'. Every step is in the hearing's
audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from hearing_server.core.actors import Actor
from hearing_server.core.audit import AuditEvent
from hearing_server.core.errors import Conflict, NotFound, ValidationError
from hearing_server.core.hearing import Hearing
from hearing_server.core.jobs import Job
from hearing_server.core.permissions import Action, authorize, require_staff
from hearing_server.core.schedule import check_zone
from hearing_server.core.serving import (
    ELECTRONIC_CHANNELS,
    MANUAL_CHANNELS,
    MAX_NOTE,
    Channel,
    Delivery,
    DeliveryStatus,
    DocumentKind,
    ServedDocument,
    check_text,
    check_title,
    expired,
    needs_follow_up,
    normalise_address,
    token_hash,
)
from hearing_server.core.serving_texts import service_message
from messaging import Message, MessageSender, SendError

from .hearings import HearingService
from .jobs import JobError, JobRunner
from .served_files import ServedFiles
from .serving_links import TrackingLinks
from .serving_notices import ServedNotices

SERVING_JOB = "serving.send"
"""The kind of the jobs that send one delivery's message."""

MAX_RECIPIENTS = 50

_AUDIT = {
    DeliveryStatus.SENT: AuditEvent.SERVICE_SENT,
    DeliveryStatus.DELIVERED: AuditEvent.SERVICE_DELIVERED,
    DeliveryStatus.OPENED: AuditEvent.SERVICE_OPENED,
    DeliveryStatus.CONFIRMED: AuditEvent.SERVICE_CONFIRMED,
    DeliveryStatus.FAILED: AuditEvent.SERVICE_FAILED,
}


class ReceiptPrinter(Protocol):
    """Renders and seals the service receipt (送达回证) with the court's certificate."""

    async def print_receipt(
        self,
        *,
        court: str,
        case_number: str,
        document_title: str,
        document_sha256: str,
        recipient: str,
        rows: tuple[tuple[str, str], ...],
        issued_at: str,
    ) -> bytes:
        """The sealed PDF."""
        ...


_CHANNEL_LABEL = {
    Channel.SMS: "短信 SMS",
    Channel.EMAIL: "电子邮件 E-mail",
    Channel.PHONE: "电话 Telephone",
    Channel.POST: "邮寄 Post",
}


@dataclass(frozen=True, slots=True)
class Recipient:
    """Whom to serve and where: a name and a phone number and/or an e-mail address."""

    name: str
    phone: str | None = None
    email: str | None = None
    participant_id: str | None = None
    time_zone: str | None = None  # theirs, when not the court's: times are stated in both


@dataclass(frozen=True, slots=True)
class TrackingView:
    """What the tracking page shows its recipient."""

    delivery: Delivery
    document: ServedDocument
    hearing: Hearing
    time_zone: str


def _utcnow() -> datetime:
    return datetime.now(UTC)


def parse_recipients(raw: Any) -> list[Recipient]:
    """Recipients from request JSON (``[{name, phone?, email?, participant_id?}]``), checked.
    Raises ``ValidationError``."""
    if not isinstance(raw, list) or not 0 < len(raw) <= MAX_RECIPIENTS:
        raise ValidationError(f"recipients must be a list of 1 to {MAX_RECIPIENTS} people")
    out = []
    for n, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise ValidationError(f"recipient {n + 1} must be an object")
        name = item.get("name")
        if not isinstance(name, str):
            raise ValidationError(f"recipient {n + 1} needs a name")
        name = check_text(name, f"recipient {n + 1}'s name", 100)
        values: dict[str, str | None] = {}
        for key in ("phone", "email", "participant_id", "time_zone"):
            value = item.get(key)
            if value is not None and not isinstance(value, str):
                raise ValidationError(f"recipient {n + 1}: {key} must be text")
            values[key] = check_text(value, f"recipient {n + 1}'s {key}", 320) if value else None
        if values["phone"] is None and values["email"] is None:
            raise ValidationError(f"recipient {n + 1} ({name}) needs a phone or an e-mail")
        phone = normalise_address(Channel.SMS, values["phone"]) if values["phone"] else None
        email = normalise_address(Channel.EMAIL, values["email"]) if values["email"] else None
        zone = check_zone(values["time_zone"]) if values["time_zone"] else None
        out.append(Recipient(name, phone, email, values["participant_id"], zone))
    return out


class ServingService:
    """Serve documents and follow their deliveries."""

    def __init__(
        self,
        hearings: HearingService,
        jobs: JobRunner,
        files: ServedFiles,
        senders: Mapping[Channel, MessageSender],
        links: TrackingLinks,
        notices: ServedNotices,
        *,
        court_time_zone: str = "Asia/Shanghai",
        link_ttl: timedelta = timedelta(days=7),
        follow_up_after: timedelta = timedelta(days=3),
        max_document_bytes: int = 20 * 1024 * 1024,
        callback_secret: str | None = None,
        receipts: ReceiptPrinter | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._hearings = hearings
        self._store = hearings.store
        self._jobs = jobs
        self._files = files
        self._senders = dict(senders)
        self._links = links
        self.notices = notices
        self.zone = ZoneInfo(court_time_zone)
        self.time_zone = court_time_zone
        self._link_ttl = link_ttl
        self._follow_up_after = follow_up_after
        self.max_document_bytes = max_document_bytes
        self._callback_secret = callback_secret
        self._receipts = receipts
        self._now = clock
        jobs.register(SERVING_JOB, self._send_job)

    # -- documents ---------------------------------------------------------------------------

    async def add_document(
        self, actor: Actor, hearing_id: str, *, kind: str, title: str, data: bytes
    ) -> ServedDocument:
        """Store a PDF to serve. Raises ``ValidationError`` for a bad kind, title, or a file
        that is not a PDF or is too large; ``NotFound`` for an unknown hearing."""
        hearing = await self._store.get_hearing(hearing_id)
        authorize(actor, Action.SERVE_DOCUMENTS, hearing)
        try:
            doc_kind = DocumentKind(kind)
        except ValueError:
            kinds = ", ".join(k.value for k in DocumentKind)
            raise ValidationError(f"kind must be one of {kinds}") from None
        if len(data) > self.max_document_bytes:
            raise ValidationError(
                f"the document is over the limit of {self.max_document_bytes} bytes"
            )
        if not data.startswith(b"%PDF-"):
            raise ValidationError("the document must be a PDF")
        doc = ServedDocument(
            id=f"doc-{secrets.token_hex(8)}",
            hearing_id=hearing.id,
            kind=doc_kind,
            title=check_title(title),
            media_type="application/pdf",
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            created_by=actor.id,
            created_at=self._now(),
        )
        # The file first: a stored document whose bytes are missing would be worse than a
        # stray file.
        await self._files.write(doc.id, data)
        await self._store.add_served(doc, [])
        await self._hearings.audit(
            hearing.id,
            actor,
            AuditEvent.SERVICE_DOCUMENT_ADDED,
            {"document_id": doc.id, "kind": doc.kind.value, "title": doc.title,
             "sha256": doc.sha256, "size": doc.size},
        )  # fmt: skip
        return doc

    async def read_document(self, document: ServedDocument) -> bytes:
        """The document's bytes, checked against its hash."""
        data = await self._files.read(document.id)
        if hashlib.sha256(data).hexdigest() != document.sha256:
            raise Conflict(f"the stored file of {document.id} does not match its hash")
        return data

    # -- serving -----------------------------------------------------------------------------

    async def serve(
        self, actor: Actor, hearing_id: str, document_id: str, recipients: list[Recipient]
    ) -> list[Delivery]:
        """Serve the document on each recipient by SMS and/or e-mail (whatever they have):
        one delivery per recipient and channel, queued and sent by the job queue."""
        hearing = await self._store.get_hearing(hearing_id)
        authorize(actor, Action.SERVE_DOCUMENTS, hearing)
        doc = await self._store.get_served_document(document_id)
        if doc.hearing_id != hearing.id:
            raise NotFound(f"no document {document_id} in this hearing")
        now = self._now()
        deliveries = []
        for r in recipients:
            for channel, address in ((Channel.SMS, r.phone), (Channel.EMAIL, r.email)):
                if address is None:
                    continue
                delivery_id = f"dl-{secrets.token_hex(10)}"
                deliveries.append(
                    Delivery(
                        id=delivery_id,
                        document_id=doc.id,
                        hearing_id=hearing.id,
                        recipient=r.name,
                        participant_id=r.participant_id,
                        channel=channel,
                        address=address,
                        token_hash=token_hash(self._links.token_for(delivery_id)),
                        expires_at=now + self._link_ttl,
                        status=DeliveryStatus.QUEUED,
                        queued_at=now,
                        time_zone=r.time_zone,
                    )
                )
        for d in deliveries:
            await self._store.add_delivery(d)
            await self._hearings.audit(
                hearing.id,
                actor,
                AuditEvent.SERVICE_QUEUED,
                {"delivery_id": d.id, "document_id": doc.id, "recipient": d.recipient,
                 "channel": d.channel.value, "address": d.address},
            )  # fmt: skip
            await self._jobs.enqueue(SERVING_JOB, {"delivery_id": d.id}, key=f"serve:{d.id}")
            await self.notices.served(d, hearing, now)
        await self.notices.served_at(hearing)
        return deliveries

    def local_time(self, value: datetime) -> str:
        """A time as every message states it: in the court's zone, named."""
        return f"{value.astimezone(self.zone):%Y-%m-%d %H:%M} ({self.time_zone})"

    def _message(self, d: Delivery, doc: ServedDocument, hearing: Hearing) -> Message:
        until = (d.expires_at or self._now()).astimezone(self.zone)
        stamp = f"{until:%Y-%m-%d %H:%M} ({self.time_zone})"
        subject, text = service_message(
            court=hearing.court,
            case_number=hearing.case_number,
            recipient=d.recipient,
            title=doc.title,
            link=self._links.link_for(d.id),
            until=stamp,
        )
        return Message(d.address, subject, text, key=d.id)

    async def _send_job(self, job: Job) -> None:
        delivery_id = str(job.payload.get("delivery_id", ""))
        try:
            d = await self._store.get_delivery(delivery_id)
        except NotFound:
            raise JobError(f"no delivery {delivery_id}", retryable=False) from None
        if d.status is not DeliveryStatus.QUEUED:
            return  # sent already (a repeat after a crash): nothing to do
        sender = self._senders.get(d.channel)
        if sender is None:
            await self._advance(d, DeliveryStatus.FAILED, reason=f"no {d.channel} sender")
            raise JobError(f"no sender for {d.channel}", retryable=False)
        doc = await self._store.get_served_document(d.document_id)
        hearing = await self._store.get_hearing(d.hearing_id)
        try:
            receipt = await sender.send(self._message(d, doc, hearing))
        except SendError as exc:
            if not exc.retryable or job.attempts >= job.max_attempts:
                await self._advance(d, DeliveryStatus.FAILED, reason=exc.message)
            raise JobError(exc.message, retryable=exc.retryable) from exc
        await self._advance(d, DeliveryStatus.SENT, gateway_ref=receipt.reference[:200])

    async def _advance(
        self,
        d: Delivery,
        status: DeliveryStatus,
        *,
        actor: Actor | None = None,
        reason: str | None = None,
        gateway_ref: str | None = None,
    ) -> Delivery:
        after, changed = await self._store.advance_delivery(
            d.id, status, self._now(), reason=reason, gateway_ref=gateway_ref
        )
        if changed:
            data: dict[str, Any] = {
                "delivery_id": d.id,
                "channel": d.channel.value,
                "recipient": d.recipient,
                "status": after.status.value,
            }
            if reason:
                data["reason"] = reason
            await self._hearings.audit(d.hearing_id, actor or Actor.system(), _AUDIT[status], data)
        return after

    # -- the recipient's side ----------------------------------------------------------------

    async def _by_token(self, token: str) -> Delivery:
        if not 20 <= len(token) <= 100:
            raise NotFound("no such tracking link")
        d = await self._store.delivery_by_token(token_hash(token))
        # The hash matched; the HMAC check also refuses a token made without the key.
        if not hmac.compare_digest(self._links.token_for(d.id), token):
            raise NotFound("no such tracking link")
        if expired(d, self._now()):
            raise LinkExpired("this link has expired; please contact the court")
        return d

    async def open(self, token: str) -> TrackingView:
        """The recipient opened their link: recorded once. Raises ``NotFound`` for an
        unknown or forged token, :class:`LinkExpired` after its expiry."""
        d = await self._by_token(token)
        d = await self._advance(d, DeliveryStatus.OPENED, actor=_recipient(d))
        doc = await self._store.get_served_document(d.document_id)
        hearing = await self._store.get_hearing(d.hearing_id)
        return TrackingView(d, doc, hearing, self.time_zone)

    async def confirm(self, token: str) -> Delivery:
        """The recipient pressed "I confirm receipt"."""
        d = await self._by_token(token)
        return await self._advance(d, DeliveryStatus.CONFIRMED, actor=_recipient(d))

    async def calendar_for(self, token: str) -> tuple[str, str]:
        """The hearing's calendar file for the recipient's link: (file name, text)."""
        return await self.notices.calendar(await self._by_token(token))

    async def document_for(self, token: str) -> tuple[ServedDocument, bytes]:
        """The served file, for the recipient's link (opening it counts as opened)."""
        view = await self.open(token)
        return view.document, await self.read_document(view.document)

    # -- the gateway's side ------------------------------------------------------------------

    def check_callback(self, body: bytes, signature: str | None) -> None:
        """Raise :class:`CallbackRefused` unless ``signature`` is ``sha256=<hex>`` of the
        HMAC-SHA256 of ``body`` under the configured callback secret."""
        if not self._callback_secret:
            raise CallbackRefused("delivery callbacks are not configured")
        expected = hmac.new(self._callback_secret.encode(), body, hashlib.sha256).hexdigest()
        given = (signature or "").removeprefix("sha256=")
        if not hmac.compare_digest(expected, given):
            raise CallbackRefused("the callback's signature is wrong")

    async def on_callback(self, key: str, status: str, reason: str | None) -> Delivery:
        """The gateway reports a message's fate: ``delivered`` or ``failed``; ``key`` is the
        message's key (the delivery id)."""
        if status not in ("delivered", "failed"):
            raise ValidationError("status must be delivered or failed")
        d = await self._store.get_delivery(key)
        return await self._advance(
            d,
            DeliveryStatus(status),
            actor=Actor(id="gateway"),
            reason=(reason or "the gateway reported a failed delivery")[:500]
            if status == "failed"
            else None,
        )

    # -- the clerk's side --------------------------------------------------------------------

    async def status(self, actor: Actor, hearing_id: str) -> list[dict[str, Any]]:
        """The hearing's served documents, each with its deliveries."""
        hearing = await self._store.get_hearing(hearing_id)
        authorize(actor, Action.SERVE_DOCUMENTS, hearing)
        docs = await self._store.list_served_documents(hearing.id)
        deliveries = await self._store.list_deliveries(hearing_id=hearing.id)
        now = self._now()
        return [
            {
                "document": document_json(doc),
                "deliveries": [
                    delivery_json(d, needs_follow_up(d, now, self._follow_up_after))
                    for d in deliveries
                    if d.document_id == doc.id
                ],
            }
            for doc in docs
        ]

    async def follow_up(self, actor: Actor) -> list[Delivery]:
        """Deliveries not opened within the follow-up time, or failed, whose recipient has no
        delivery of the same document that was opened, confirmed or served by hand."""
        require_staff(actor)
        now = self._now()
        candidates = await self._store.list_deliveries(open_only=True, limit=10_000)
        out = []
        served: dict[tuple[str, str], bool] = {}
        for d in candidates:
            if not needs_follow_up(d, now, self._follow_up_after):
                continue
            pair = (d.document_id, d.recipient)
            if pair not in served:
                others = await self._store.list_deliveries(document_id=d.document_id)
                served[pair] = any(o.recipient == d.recipient and not o.open for o in others)
            if not served[pair]:
                out.append(d)
        return out

    async def record_manual(
        self,
        actor: Actor,
        hearing_id: str,
        document_id: str,
        *,
        recipient: str,
        channel: str,
        note: str,
    ) -> Delivery:
        """The clerk served the document by phone or post: a confirmed delivery with a note."""
        hearing = await self._store.get_hearing(hearing_id)
        authorize(actor, Action.SERVE_DOCUMENTS, hearing)
        doc = await self._store.get_served_document(document_id)
        if doc.hearing_id != hearing.id:
            raise NotFound(f"no document {document_id} in this hearing")
        try:
            how = Channel(channel)
        except ValueError:
            how = None
        if how not in MANUAL_CHANNELS:
            raise ValidationError("channel must be phone or post")
        assert how is not None
        recipient = check_text(recipient, "the recipient's name", 100)
        note = check_text(note, "the note", MAX_NOTE, lines=True)
        now = self._now()
        d = Delivery(
            id=f"dl-{secrets.token_hex(10)}",
            document_id=doc.id,
            hearing_id=hearing.id,
            recipient=recipient,
            channel=how,
            address="",
            token_hash=None,
            expires_at=None,
            status=DeliveryStatus.CONFIRMED,
            queued_at=now,
            confirmed_at=now,
            note=note,
            recorded_by=actor.id,
        )
        await self._store.add_delivery(d)
        await self._hearings.audit(
            hearing.id,
            actor,
            AuditEvent.SERVICE_RECORDED,
            {"delivery_id": d.id, "document_id": doc.id, "recipient": d.recipient,
             "channel": how.value, "note": d.note},
        )  # fmt: skip
        return d

    async def receipt(self, actor: Actor, hearing_id: str, delivery_id: str) -> bytes:
        """The service receipt (送达回证) of one delivery: the document, its SHA-256, the
        recipient, the channel and every time, sealed with the court's certificate."""
        hearing = await self._store.get_hearing(hearing_id)
        authorize(actor, Action.SERVE_DOCUMENTS, hearing)
        if self._receipts is None:
            raise Conflict("service receipts need the signing authority, which is not set up")
        d = await self._store.get_delivery(delivery_id)
        if d.hearing_id != hearing.id:
            raise NotFound(f"no delivery {delivery_id} in this hearing")
        doc = await self._store.get_served_document(d.document_id)

        def when(value: datetime | None) -> str:
            local = value.astimezone(self.zone) if value else None
            return f"{local:%Y-%m-%d %H:%M:%S} ({self.time_zone})" if local else ""

        rows: list[tuple[str, str]] = [
            ("送达方式 Channel", _CHANNEL_LABEL[d.channel]),
            ("送达地址 Address", d.address),
            ("状态 Status", d.status.value),
            ("交付发送 Queued", when(d.queued_at)),
            ("已发送 Sent", when(d.sent_at)),
            ("已送达 Delivered", when(d.delivered_at)),
            ("已打开 Opened", when(d.opened_at)),
            ("已确认收到 Confirmed", when(d.confirmed_at)),
            ("失败 Failed", f"{when(d.failed_at)} {d.failure or ''}".strip()),
            ("备注 Note", d.note or ""),
            ("记录人 Recorded by", d.recorded_by or ""),
        ]
        pdf = await self._receipts.print_receipt(
            court=hearing.court,
            case_number=hearing.case_number,
            document_title=doc.title,
            document_sha256=doc.sha256,
            recipient=d.recipient,
            rows=tuple((k, v) for k, v in rows if v),
            issued_at=when(self._now()),
        )
        await self._hearings.audit(
            hearing.id,
            actor,
            AuditEvent.SERVICE_RECEIPT_ISSUED,
            {"delivery_id": d.id, "status": d.status.value,
             "receipt_sha256": hashlib.sha256(pdf).hexdigest()},
        )  # fmt: skip
        return pdf


class LinkExpired(NotFound):
    """A tracking link past its expiry (HTTP 410)."""

    code = "link_expired"


class CallbackRefused(Exception):
    """A delivery callback without a valid signature (HTTP 401)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _recipient(d: Delivery) -> Actor:
    return Actor(id=f"recipient:{d.id}")


def _at(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def document_json(doc: ServedDocument) -> dict[str, Any]:
    return {
        "id": doc.id,
        "hearing_id": doc.hearing_id,
        "kind": doc.kind.value,
        "title": doc.title,
        "size": doc.size,
        "sha256": doc.sha256,
        "created_by": doc.created_by,
        "created_at": _at(doc.created_at),
    }


def delivery_json(d: Delivery, follow_up: bool = False) -> dict[str, Any]:
    return {
        "id": d.id,
        "document_id": d.document_id,
        "recipient": d.recipient,
        "participant_id": d.participant_id,
        "channel": d.channel.value,
        "address": d.address,
        "status": d.status.value,
        "queued_at": _at(d.queued_at),
        "sent_at": _at(d.sent_at),
        "delivered_at": _at(d.delivered_at),
        "opened_at": _at(d.opened_at),
        "confirmed_at": _at(d.confirmed_at),
        "failed_at": _at(d.failed_at),
        "failure": d.failure,
        "expires_at": _at(d.expires_at),
        "note": d.note,
        "recorded_by": d.recorded_by,
        "time_zone": d.time_zone,
        "follow_up": follow_up,
        "electronic": d.channel in ELECTRONIC_CHANNELS,
    }
