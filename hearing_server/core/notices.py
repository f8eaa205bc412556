"""Notices in a hearing: the judge or clerk tells one person, a side, the waiting room or
everyone something at once ("庭审将于10分钟后开始"), and sees who has read it.

A notice names its audience; the service resolves it to the participants it reaches when it is
sent (those are its recipients: someone who joins later does not receive an older notice meant
for "everyone"). Each recipient has a receipt: delivered when their client showed it, read when
they acknowledged it. Times only ever move from empty to set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .errors import ValidationError

MAX_TEXT = 500


class Audience(StrEnum):
    """Whom a notice is for."""

    PARTICIPANT = "participant"  # target: a participant id
    SIDE = "side"  # target: a party side; its parties, their counsel and interpreters
    WAITING_ROOM = "waiting_room"  # everyone waiting when it is sent
    EVERYONE = "everyone"  # everyone on the hearing but the sender and the courtroom display


#: The notices a court sends often, each in Chinese and English (the recipient's client shows
#: their language; the record keeps the Chinese).
TEMPLATES: dict[str, dict[str, str]] = {
    "starting_soon": {
        "zh-CN": "庭审将于10分钟后开始，请做好准备。",
        "en": "The hearing starts in 10 minutes. Please be ready.",
    },
    "show_id": {
        "zh-CN": "请向摄像头出示您的身份证件。",
        "en": "Please show your identity document to the camera.",
    },
    "stay_in_view": {
        "zh-CN": "请保持在摄像头画面内，不要离开。",
        "en": "Please stay in view of the camera; do not leave.",
    },
    "quiet_place": {
        "zh-CN": "请移至安静的地方，避免其他人进入画面。",
        "en": "Please move to a quiet place where nobody else comes into view.",
    },
    "recess": {
        "zh-CN": "现在休庭，请在等候室稍候。",
        "en": "The court is in recess; please wait in the waiting room.",
    },
}


@dataclass(frozen=True, slots=True)
class Notice:
    """One notice as sent. ``text`` is what the record keeps: the template's Chinese, or the
    sender's own words."""

    id: str
    hearing_id: str
    sender_id: str
    audience: Audience
    target: str | None
    template: str | None
    text: str
    created_at: datetime

    def to_json(self) -> dict[str, object]:
        texts = TEMPLATES.get(self.template or "")
        return {
            "id": self.id,
            "hearing_id": self.hearing_id,
            "sender_id": self.sender_id,
            "audience": self.audience.value,
            "target": self.target,
            "template": self.template,
            "text": self.text,
            # the template in every language, for the recipient's client to choose
            "texts": dict(texts) if texts else {},
            "created_at": _iso(self.created_at),
        }


@dataclass(frozen=True, slots=True)
class Receipt:
    """One recipient's receipt of a notice."""

    participant_id: str
    delivered_at: datetime | None = None
    read_at: datetime | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "participant_id": self.participant_id,
            "delivered_at": _iso(self.delivered_at),
            "read_at": _iso(self.read_at),
        }


@dataclass(frozen=True, slots=True)
class NoticeRecord:
    """A notice with the receipts of all its recipients."""

    notice: Notice
    receipts: tuple[Receipt, ...]

    def receipt_of(self, participant_id: str) -> Receipt | None:
        return next((r for r in self.receipts if r.participant_id == participant_id), None)

    def to_json(self) -> dict[str, object]:
        return {**self.notice.to_json(), "receipts": [r.to_json() for r in self.receipts]}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def notice_text(template: str | None, text: str | None) -> str:
    """The text a notice records: the template's Chinese, or the sender's own (1 to 500
    characters, trimmed). Exactly one of the two. Raises :class:`ValidationError`."""
    if (template is None) == (text is None or not text.strip()):
        raise ValidationError("give either a template or a text")
    if template is not None:
        if template not in TEMPLATES:
            raise ValidationError(f"no notice template {template!r}")
        return TEMPLATES[template]["zh-CN"]
    assert text is not None
    cleaned = text.strip()
    if len(cleaned) > MAX_TEXT:
        raise ValidationError(f"a notice is at most {MAX_TEXT} characters")
    return cleaned
