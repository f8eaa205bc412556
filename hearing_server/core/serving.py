"""Electronic service (电子送达): a document served on its recipients, each by a channel, with
proof of how far it got.

A :class:`ServedDocument` is the file as served (its SHA-256 fixed when it is stored). Each
recipient and channel has a :class:`Delivery` with its own tracking link: an unguessable token
(only its hash is stored) that expires. A delivery moves forward only:

    queued → sent → delivered → opened → confirmed

``delivered`` only where the gateway reports it; ``opened`` when the tracking link is opened;
``confirmed`` when the recipient presses "I confirm receipt" (opening is implied). ``failed``
(with the reason) when sending failed for good or the gateway reports a failed delivery,
unless the recipient already opened the link. Each time is set once and never moved. A court
that serves by phone or post records it as a delivery of that channel, confirmed by the clerk
with a note.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from .errors import ValidationError

MAX_TITLE = 200
MAX_NOTE = 1000
MAX_REASON = 500
TOKEN_BYTES = 32


class DocumentKind(StrEnum):
    """What is served."""

    SUMMONS = "summons"  # the summons or notice of hearing
    AGREEMENT = "agreement"  # the signed mediation agreement
    TRANSCRIPT = "transcript"  # the finalised transcript
    UPLOAD = "upload"  # any PDF the clerk uploads


class Channel(StrEnum):
    """How a delivery reaches its recipient."""

    SMS = "sms"
    EMAIL = "email"
    PHONE = "phone"  # served by telephone, recorded by the clerk
    POST = "post"  # served by post, recorded by the clerk


MANUAL_CHANNELS = frozenset({Channel.PHONE, Channel.POST})
ELECTRONIC_CHANNELS = frozenset({Channel.SMS, Channel.EMAIL})


class DeliveryStatus(StrEnum):
    """How far a delivery got (see the module docstring)."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    OPENED = "opened"
    CONFIRMED = "confirmed"
    FAILED = "failed"


_RANK = {
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.SENT: 1,
    DeliveryStatus.DELIVERED: 2,
    DeliveryStatus.FAILED: 2,  # a failure overrides queued and sent, not what came after
    DeliveryStatus.OPENED: 3,
    DeliveryStatus.CONFIRMED: 4,
}


@dataclass(frozen=True, slots=True)
class ServedDocument:
    """A document as served: its bytes are kept apart, under ``id``; ``sha256`` fixes them."""

    id: str
    hearing_id: str
    kind: DocumentKind
    title: str
    media_type: str
    size: int
    sha256: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """One recipient's copy of a served document, by one channel."""

    id: str
    document_id: str
    hearing_id: str
    recipient: str  # the person's name as served
    channel: Channel
    address: str  # phone number or e-mail address ("" for post and phone entries)
    token_hash: str | None  # None for manual entries (they have no link)
    expires_at: datetime | None
    status: DeliveryStatus
    queued_at: datetime
    participant_id: str | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    opened_at: datetime | None = None
    confirmed_at: datetime | None = None
    failed_at: datetime | None = None
    failure: str | None = None
    gateway_ref: str | None = None
    note: str | None = None
    recorded_by: str | None = None  # who recorded a manual service
    # The recipient's own zone, when not the court's: messages state the time in both.
    time_zone: str | None = None

    @property
    def open(self) -> bool:
        """Not yet proven served: neither opened nor confirmed."""
        return self.status not in (DeliveryStatus.OPENED, DeliveryStatus.CONFIRMED)


def new_token() -> tuple[str, str]:
    """A fresh tracking token and the hash stored in its place."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    """The stored form of a tracking token (a link's token is never stored itself)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


_PHONE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")
_EMAIL = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")


def normalise_address(channel: Channel, address: str) -> str:
    """The address in its stored form: a mainland mobile number (11 digits, ``+86`` dropped)
    or an e-mail address. Raises ``ValidationError`` for anything else."""
    if channel is Channel.SMS:
        match = _PHONE.match(address.strip().replace(" ", "").replace("-", ""))
        if match is None:
            raise ValidationError(f"{address!r} is not a mainland mobile number (1xxxxxxxxxx)")
        return match.group(1)
    if channel is Channel.EMAIL:
        email = address.strip()
        if not _EMAIL.match(email):
            raise ValidationError(f"{address!r} is not an e-mail address")
        return email
    return address.strip()[:MAX_NOTE]


def check_text(value: str, what: str, limit: int, *, lines: bool = False) -> str:
    """``value`` stripped; ``ValidationError`` when empty, too long, or holding what no store
    or message should carry (control characters, lone surrogates; newlines only if
    ``lines``)."""
    text = value.strip()
    if not text or len(text) > limit:
        raise ValidationError(f"{what} must be 1 to {limit} characters")
    for ch in text:
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF or (
            (code < 0x20 or code == 0x7F) and not (lines and ch in "\n\t")
        ):
            raise ValidationError(f"{what} holds a character that is not text: {code:#x}")
    return text


def check_title(title: str) -> str:
    return check_text(title, "a document's title", MAX_TITLE)


def advance(
    delivery: Delivery,
    status: DeliveryStatus,
    at: datetime,
    *,
    reason: str | None = None,
    gateway_ref: str | None = None,
) -> tuple[Delivery, bool]:
    """``delivery`` after reaching ``status`` at ``at``; returns it and whether anything
    changed. Times are set once; the status only moves forward (a failure after the link was
    opened changes nothing; confirming sets the opening time too if it was missing)."""
    d = delivery
    if status is DeliveryStatus.QUEUED:
        return d, False
    if status is DeliveryStatus.SENT:
        d = replace(d, sent_at=d.sent_at or at, gateway_ref=d.gateway_ref or gateway_ref)
    elif status is DeliveryStatus.DELIVERED:
        d = replace(d, delivered_at=d.delivered_at or at, sent_at=d.sent_at or at)
    elif status is DeliveryStatus.OPENED:
        d = replace(d, opened_at=d.opened_at or at)
    elif status is DeliveryStatus.CONFIRMED:
        d = replace(d, opened_at=d.opened_at or at, confirmed_at=d.confirmed_at or at)
    elif status is DeliveryStatus.FAILED:
        if _RANK[d.status] >= _RANK[DeliveryStatus.OPENED] or d.failed_at is not None:
            return d, False
        d = replace(d, failed_at=at, failure=(reason or "failed")[:MAX_REASON])
    if _RANK[status] >= _RANK[d.status] and not (
        status is DeliveryStatus.DELIVERED and d.status is DeliveryStatus.FAILED
    ):
        d = replace(d, status=status)
    return d, d != delivery


def expired(delivery: Delivery, now: datetime) -> bool:
    """Whether the delivery's tracking link no longer opens."""
    return delivery.expires_at is None or now >= delivery.expires_at


def needs_follow_up(delivery: Delivery, now: datetime, after: timedelta) -> bool:
    """An electronic delivery that failed, or was not opened within ``after``: the clerk
    should call the recipient (DOMAIN.md: confirmation calls)."""
    if delivery.channel in MANUAL_CHANNELS or not delivery.open:
        return False
    return delivery.status is DeliveryStatus.FAILED or now - delivery.queued_at >= after
