"""Notices sent in a hearing and each recipient's receipt."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from hearing_server.core.notices import Notice, NoticeRecord, Receipt


class NoticeStore(Protocol):
    """Notices are written once; a receipt's times move only from empty to set."""

    async def add_notice(self, notice: Notice, recipients: list[str]) -> None:
        """Store ``notice`` and an empty receipt for each recipient. Raises ``Conflict`` for
        a duplicate id."""
        ...

    async def get_notice(self, notice_id: str) -> NoticeRecord:
        """The notice and its receipts. Raises ``NotFound``."""
        ...

    async def list_notices(self, hearing_id: str) -> list[NoticeRecord]:
        """The hearing's notices with their receipts, oldest first."""
        ...

    async def notices_for(self, participant_id: str) -> list[NoticeRecord]:
        """The notices ``participant_id`` received, oldest first, each with only their own
        receipt."""
        ...

    async def mark_receipt(
        self, notice_id: str, participant_id: str, *, delivered: datetime, read: datetime | None
    ) -> tuple[Receipt, bool, bool]:
        """Set the receipt's delivery time (and read time, if ``read``) where still empty.

        Returns the receipt and whether delivery and reading were newly recorded. Raises
        ``NotFound`` if ``participant_id`` is not a recipient of that notice.
        """
        ...
