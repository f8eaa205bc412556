"""Exhibits of a hearing and the opinions recorded on them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from hearing_server.core.evidence import Exhibit, ExhibitSide, Opinion, Verdict


class EvidenceStore(Protocol):
    """An exhibit's sealed facts are written once; its release, presentation and supersession
    times only move from empty to set. Opinions are appended, never changed."""

    async def add_exhibit(self, exhibit: Exhibit) -> None:
        """Store ``exhibit``; if it supersedes another, mark that one superseded in the same
        transaction. Raises ``Conflict`` for a duplicate id or number and version, or when
        the superseded exhibit is already superseded."""
        ...

    async def get_exhibit(self, exhibit_id: str) -> Exhibit:
        """Raises ``NotFound``."""
        ...

    async def list_exhibits(self, hearing_id: str) -> list[Exhibit]:
        """The hearing's exhibits by side, number and version."""
        ...

    async def last_exhibit_number(self, hearing_id: str, side: ExhibitSide) -> int:
        """The highest number a side's exhibits have in the hearing (0 for none)."""
        ...

    async def mark_exhibit(
        self,
        exhibit_id: str,
        *,
        released_at: datetime | None = None,
        presented_at: datetime | None = None,
    ) -> tuple[Exhibit, bool]:
        """Set the release or first presentation time where still empty. Returns the exhibit
        and whether anything changed. Raises ``NotFound``."""
        ...

    async def add_opinion(self, opinion: Opinion) -> None:
        """Append an opinion. Raises ``Conflict`` for a duplicate id, ``NotFound`` for an
        exhibit that is not in the opinion's hearing."""
        ...

    async def list_opinions(self, hearing_id: str) -> list[Opinion]:
        """The hearing's opinions, oldest first."""
        ...


# The columns both SQL stores read and write, in this order (shared by the two dialects).
EXHIBIT_COLUMNS = (
    "id, hearing_id, side, number, version, title, purpose, media_type, size, sha256, "
    "file_id, filename, uploaded_by, uploaded_at, supersedes, superseded_by, released_at, "
    "presented_at, pages"
)
OPINION_COLUMNS = (
    "id, exhibit_id, hearing_id, by_side, authenticity, legality, relevance, text, "
    "recorded_by, recorded_at"
)


def exhibit_from_row(row: Sequence[Any], when: Callable[[Any], datetime | None]) -> Exhibit:
    """An exhibit from a row of :data:`EXHIBIT_COLUMNS`; ``when`` reads a stored time."""
    uploaded = when(row[13])
    assert uploaded is not None
    return Exhibit(
        id=row[0],
        hearing_id=row[1],
        side=ExhibitSide(row[2]),
        number=int(row[3]),
        version=int(row[4]),
        title=row[5],
        purpose=row[6],
        media_type=row[7],
        size=int(row[8]),
        sha256=row[9],
        file_id=row[10],
        filename=row[11],
        uploaded_by=row[12],
        uploaded_at=uploaded,
        supersedes=row[14],
        superseded_by=row[15],
        released_at=when(row[16]),
        presented_at=when(row[17]),
        pages=row[18],
    )


def exhibit_values(e: Exhibit, when: Callable[[datetime | None], Any]) -> tuple[Any, ...]:
    """The values of :data:`EXHIBIT_COLUMNS` for ``e``; ``when`` writes a time."""
    return (
        e.id, e.hearing_id, e.side.value, e.number, e.version, e.title, e.purpose,
        e.media_type, e.size, e.sha256, e.file_id, e.filename, e.uploaded_by,
        when(e.uploaded_at), e.supersedes, e.superseded_by, when(e.released_at),
        when(e.presented_at), e.pages,
    )  # fmt: skip


def _verdict(value: str | None) -> Verdict | None:
    return Verdict(value) if value is not None else None


def opinion_from_row(row: Sequence[Any], when: Callable[[Any], datetime | None]) -> Opinion:
    """An opinion from a row of :data:`OPINION_COLUMNS`."""
    at = when(row[9])
    assert at is not None
    return Opinion(
        row[0], row[1], row[2], ExhibitSide(row[3]), _verdict(row[4]), _verdict(row[5]),
        _verdict(row[6]), row[7], row[8], at,
    )  # fmt: skip


def opinion_values(o: Opinion, when: Callable[[datetime | None], Any]) -> tuple[Any, ...]:
    """The values of :data:`OPINION_COLUMNS` for ``o``."""
    return (
        o.id, o.exhibit_id, o.hearing_id, o.by_side.value,
        o.authenticity.value if o.authenticity else None,
        o.legality.value if o.legality else None,
        o.relevance.value if o.relevance else None,
        o.text, o.recorded_by, when(o.recorded_at),
    )  # fmt: skip
