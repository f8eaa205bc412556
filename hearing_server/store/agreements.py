"""Mediation agreements: the current state of each hearing's agreement and its versions."""

from __future__ import annotations

from typing import Protocol

from hearing_server.core.agreement import Agreement, AgreementVersion
from hearing_server.core.errors import Conflict


def concurrent_change() -> Conflict:
    """What both stores raise when the stored agreement's revision moved on meanwhile."""
    return Conflict(
        "the agreement was changed by someone else meanwhile; try again",
        code="concurrent_change",
    )


class AgreementStore(Protocol):
    """One agreement per hearing, changed by compare-and-set on ``Agreement.revision``, and
    every saved draft version (append-only)."""

    async def get_agreement(self, hearing_id: str) -> Agreement | None:
        """The hearing's agreement, or None if none was drafted yet."""
        ...

    async def put_agreement(self, agreement: Agreement) -> Agreement:
        """Store ``agreement`` if the stored one still has ``agreement.revision`` (0: none
        stored yet); returns it with ``revision + 1``. Raises
        :class:`~hearing_server.core.errors.Conflict` (code ``concurrent_change``) if
        someone else changed it meanwhile."""
        ...

    async def add_agreement_version(self, agreement_id: str, version: AgreementVersion) -> None:
        """Keep a saved draft. Raises ``Conflict`` if that number exists already."""
        ...

    async def list_agreement_versions(self, agreement_id: str) -> list[AgreementVersion]:
        """Every saved draft, oldest first."""
        ...
