"""Serving the court's own records straight from where they are kept: the signed mediation
agreement (its latest signed or sealed PDF revision, from the agreement files) and the
finalised transcript (笔录, rendered from its chain). Each goes through the one serving
pipeline: stored as a served document with the SHA-256 of the exact bytes, then served like
any other, so the tracking link, the receipt and the audit log name those bytes.
"""

from __future__ import annotations

import hashlib

from hearing_server.core.actors import Actor
from hearing_server.core.errors import ValidationError
from hearing_server.core.hearing import Hearing
from hearing_server.core.permissions import Action, authorize
from hearing_server.core.serving import Delivery, DocumentKind, ServedDocument

from .agreements import AgreementService
from .hearings import HearingService
from .serving import Recipient, ServingService
from .transcripts import TranscriptService

RECORD_KINDS = (DocumentKind.AGREEMENT, DocumentKind.TRANSCRIPT)
"""The kinds of document the server takes from its own stores."""


class ServedRecords:
    """Serve a hearing's agreement or transcript by naming its kind."""

    def __init__(
        self,
        hearings: HearingService,
        serving: ServingService,
        agreements: AgreementService,
        transcripts: TranscriptService,
    ) -> None:
        self._serving = serving
        self._store = hearings.store
        self._agreements = agreements
        self._transcripts = transcripts

    async def serve(
        self,
        actor: Actor,
        hearing_id: str,
        kind: str,
        recipients: list[Recipient],
        *,
        title: str | None = None,
    ) -> tuple[ServedDocument, list[Delivery]]:
        """Serve the hearing's ``agreement`` or ``transcript`` on ``recipients``. Raises
        ``ValidationError`` for another kind, ``Conflict`` when there is no signed agreement
        or the transcript is not final (nothing is stored then)."""
        hearing = await self._store.get_hearing(hearing_id)
        authorize(actor, Action.SERVE_DOCUMENTS, hearing)
        record = _record_kind(kind)
        data = await self._bytes(actor, hearing, record)
        doc = await self._served_copy(actor, hearing, record, data, title)
        deliveries = await self._serving.serve(actor, hearing.id, doc.id, recipients)
        return doc, deliveries

    async def _bytes(self, actor: Actor, hearing: Hearing, kind: DocumentKind) -> bytes:
        if kind is DocumentKind.AGREEMENT:
            pdf, _ = await self._agreements.signed_pdf(hearing.id)
            return pdf
        return (await self._transcripts.final_pdf(actor, hearing.id)).content

    async def _served_copy(
        self,
        actor: Actor,
        hearing: Hearing,
        kind: DocumentKind,
        data: bytes,
        title: str | None,
    ) -> ServedDocument:
        """The served document holding these bytes: the one stored before when the same
        record was served already (one document however many are served), else a new one."""
        digest = hashlib.sha256(data).hexdigest()
        for doc in await self._store.list_served_documents(hearing.id):
            if doc.kind is kind and doc.sha256 == digest and (title is None or doc.title == title):
                return doc
        return await self._serving.add_document(
            actor,
            hearing.id,
            kind=kind.value,
            title=title if title is not None else _default_title(kind, hearing),
            data=data,
        )


def _record_kind(kind: str) -> DocumentKind:
    for k in RECORD_KINDS:
        if kind == k.value:
            return k
    names = " or ".join(k.value for k in RECORD_KINDS)
    raise ValidationError(f"the record to serve must be {names}, not {kind[:40]!r}")


def _default_title(kind: DocumentKind, hearing: Hearing) -> str:
    if kind is DocumentKind.AGREEMENT:
        return f"调解协议书 Mediation agreement {hearing.case_number}"
    return f"笔录 Transcript {hearing.case_number}"
