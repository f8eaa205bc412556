"""Evidence (举证、质证): the exhibits of a hearing, who may see them, and the opinions on them.

An exhibit is one sealed file with a number by side (原告证据1, 被告证据2 ...), a title and
what it is meant to prove (证明目的). The file is never changed: a correction is a new version
of the same number with its own file and hash, which supersedes the old one (both stay on the
record). The court sees every exhibit at once; a side sees its own; the other side sees an
exhibit once the judge or clerk releases it (证据交换) or it is presented in the hearing;
everyone else in the hearing room sees what has been presented.

The other side's opinion (质证意见) on an exhibit covers authenticity, legality and relevance,
each accepted or disputed, with the reasons in words; the clerk records it, and the latest
opinion of a side is the one that counts (earlier ones stay on the record).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .errors import ValidationError
from .participant import Participant, PartySide, Role, party_side_of

MAX_TITLE = 200
MAX_PURPOSE = 2000
MAX_OPINION_TEXT = 4000
MAX_FILENAME = 255

# Who sees every exhibit as soon as it is uploaded: the court.
COURT_ROLES = frozenset({Role.JUDGE, Role.CLERK, Role.MEDIATOR})


class ExhibitSide(StrEnum):
    """Whose exhibit it is: a party side, or the court's own (法院调取)."""

    PLAINTIFF = "plaintiff"
    DEFENDANT = "defendant"
    APPLICANT = "applicant"
    RESPONDENT = "respondent"
    THIRD_PARTY = "third_party"
    COURT = "court"

    @classmethod
    def of(cls, side: PartySide) -> ExhibitSide:
        return cls(side.value)


#: Each side's exhibit label, in Chinese and English ("原告证据" + number).
LABELS: dict[ExhibitSide, tuple[str, str]] = {
    ExhibitSide.PLAINTIFF: ("原告证据", "Plaintiff's exhibit "),
    ExhibitSide.DEFENDANT: ("被告证据", "Defendant's exhibit "),
    ExhibitSide.APPLICANT: ("申请人证据", "Applicant's exhibit "),
    ExhibitSide.RESPONDENT: ("被申请人证据", "Respondent's exhibit "),
    ExhibitSide.THIRD_PARTY: ("第三人证据", "Third party's exhibit "),
    ExhibitSide.COURT: ("法院调取证据", "Court exhibit "),
}


class Verdict(StrEnum):
    """A side's view of one quality of an exhibit."""

    ACCEPTED = "accepted"  # 无异议
    DISPUTED = "disputed"  # 有异议


@dataclass(frozen=True, slots=True)
class Exhibit:
    """One version of one numbered exhibit, sealed: ``sha256`` is its file's hash."""

    id: str
    hearing_id: str
    side: ExhibitSide
    number: int
    version: int
    title: str
    purpose: str
    media_type: str
    size: int
    sha256: str
    file_id: str
    filename: str
    uploaded_by: str
    uploaded_at: datetime
    supersedes: str | None = None
    superseded_by: str | None = None
    released_at: datetime | None = None
    presented_at: datetime | None = None
    pages: int | None = None

    def __post_init__(self) -> None:
        check_text("title", self.title, MAX_TITLE, required=True)
        check_text("purpose", self.purpose, MAX_PURPOSE)
        if self.number < 1 or self.version < 1:
            raise ValidationError("an exhibit's number and version start at 1")

    @property
    def label(self) -> str:
        """原告证据1 (and 第2版 for a later version)."""
        base = f"{LABELS[self.side][0]}{self.number}"
        return base if self.version == 1 else f"{base}（第{self.version}版）"

    @property
    def label_en(self) -> str:
        base = f"{LABELS[self.side][1]}{self.number}"
        return base if self.version == 1 else f"{base} (version {self.version})"

    @property
    def current(self) -> bool:
        """Not superseded by a later version."""
        return self.superseded_by is None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "hearing_id": self.hearing_id,
            "side": self.side.value,
            "number": self.number,
            "version": self.version,
            "label": self.label,
            "label_en": self.label_en,
            "title": self.title,
            "purpose": self.purpose,
            "media_type": self.media_type,
            "size": self.size,
            "sha256": self.sha256,
            "filename": self.filename,
            "uploaded_by": self.uploaded_by,
            "uploaded_at": self.uploaded_at.isoformat(),
            "supersedes": self.supersedes,
            "superseded_by": self.superseded_by,
            "released_at": self.released_at.isoformat() if self.released_at else None,
            "presented_at": self.presented_at.isoformat() if self.presented_at else None,
            "pages": self.pages,
        }


@dataclass(frozen=True, slots=True)
class Opinion:
    """One side's opinion (质证意见) on one exhibit, as the clerk recorded it."""

    id: str
    exhibit_id: str
    hearing_id: str
    by_side: ExhibitSide
    authenticity: Verdict | None
    legality: Verdict | None
    relevance: Verdict | None
    text: str
    recorded_by: str
    recorded_at: datetime

    def __post_init__(self) -> None:
        check_text("text", self.text, MAX_OPINION_TEXT)
        verdicts = (self.authenticity, self.legality, self.relevance)
        if all(v is None for v in verdicts) and not self.text.strip():
            raise ValidationError("an opinion says something: a verdict or words")

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "exhibit_id": self.exhibit_id,
            "by_side": self.by_side.value,
            "authenticity": self.authenticity.value if self.authenticity else None,
            "legality": self.legality.value if self.legality else None,
            "relevance": self.relevance.value if self.relevance else None,
            "text": self.text,
            "recorded_by": self.recorded_by,
            "recorded_at": self.recorded_at.isoformat(),
        }


def check_text(name: str, value: str, max_len: int, *, required: bool = False) -> None:
    """A title, purpose or opinion: within its length, no control characters but newlines."""
    if required and not value.strip():
        raise ValidationError(f"{name} is required")
    if len(value) > max_len:
        raise ValidationError(f"{name} is limited to {max_len} characters")
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in value):
        raise ValidationError(f"{name} must not contain control characters")


def clean_filename(name: str) -> str:
    """The uploader's file name as shown, never as a path: its last part only, control
    characters dropped, within 255 characters."""
    last = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(ch for ch in last if ord(ch) >= 32 and ch != "\x7f").strip()
    return (kept or "exhibit")[:MAX_FILENAME]


def side_of(p: Participant, people: Mapping[str, Participant]) -> ExhibitSide | None:
    """The side ``p`` stands for: a party's own, counsel's client's, an interpreter's
    principal's; ``None`` for everyone else (the court, witnesses, observers)."""
    side = party_side_of(p, people)
    return ExhibitSide.of(side) if side is not None else None


def visible_to(exhibit: Exhibit, role: Role | None, side: ExhibitSide | None) -> bool:
    """May someone of ``role`` standing for ``side`` see ``exhibit``? ``role`` None means
    court staff outside the hearing (they see everything)."""
    if role is None or role in COURT_ROLES:
        return True
    if exhibit.presented_at is not None:
        return True
    if side is None:
        return False
    return side is exhibit.side or exhibit.released_at is not None


def latest_opinions(opinions: list[Opinion]) -> dict[tuple[str, ExhibitSide], Opinion]:
    """The opinion that counts per exhibit and side: the latest recorded."""
    out: dict[tuple[str, ExhibitSide], Opinion] = {}
    for op in sorted(opinions, key=lambda o: (o.recorded_at, o.id)):
        out[(op.exhibit_id, op.by_side)] = op
    return out


#: A side as the record names it (原告 ...).
SIDE_NAMES: dict[ExhibitSide, str] = {
    ExhibitSide.PLAINTIFF: "原告",
    ExhibitSide.DEFENDANT: "被告",
    ExhibitSide.APPLICANT: "申请人",
    ExhibitSide.RESPONDENT: "被申请人",
    ExhibitSide.THIRD_PARTY: "第三人",
    ExhibitSide.COURT: "法院",
}
_VERDICT_ZH = {Verdict.ACCEPTED: "无异议", Verdict.DISPUTED: "有异议"}


def opinion_text(op: Opinion) -> str:
    """An opinion as the 笔录 writes it: 被告：真实性无异议，关联性有异议。与本案无关。"""
    parts = [
        f"{aspect}{_VERDICT_ZH[verdict]}"
        for aspect, verdict in (
            ("真实性", op.authenticity),
            ("合法性", op.legality),
            ("关联性", op.relevance),
        )
        if verdict is not None
    ]
    text = "，".join(parts)
    if op.text:
        text = f"{text}。{op.text}" if text else op.text
    return f"{SIDE_NAMES[op.by_side]}：{text}"
