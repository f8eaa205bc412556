"""Electronic service: documents served and their deliveries
(:mod:`hearing_server.core.serving`)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from hearing_server.core.serving import Delivery, DeliveryStatus, ServedDocument


class ServingStore(Protocol):
    """Served documents are written once; a delivery only moves forward (``advance``)."""

    async def add_served(self, document: ServedDocument, deliveries: list[Delivery]) -> None:
        """Store the document and its deliveries together. Raises ``Conflict`` for a
        duplicate id or token, ``NotFound``-free: the hearing must exist (``Conflict``)."""
        ...

    async def add_delivery(self, delivery: Delivery) -> None:
        """Store one more delivery of a stored document (a manual entry, a re-send)."""
        ...

    async def get_served_document(self, document_id: str) -> ServedDocument:
        """Raises ``NotFound``."""
        ...

    async def list_served_documents(self, hearing_id: str) -> list[ServedDocument]:
        """The hearing's served documents, oldest first."""
        ...

    async def get_delivery(self, delivery_id: str) -> Delivery:
        """Raises ``NotFound``."""
        ...

    async def delivery_by_token(self, token_hash: str) -> Delivery:
        """The delivery whose tracking token hashes to ``token_hash``. Raises ``NotFound``."""
        ...

    async def list_deliveries(
        self,
        *,
        hearing_id: str | None = None,
        document_id: str | None = None,
        open_only: bool = False,
        limit: int = 1000,
    ) -> list[Delivery]:
        """Deliveries, oldest first, of a hearing and/or a document; ``open_only``: neither
        opened nor confirmed yet."""
        ...

    async def advance_delivery(
        self,
        delivery_id: str,
        status: DeliveryStatus,
        at: datetime,
        *,
        reason: str | None = None,
        gateway_ref: str | None = None,
    ) -> tuple[Delivery, bool]:
        """Apply :func:`hearing_server.core.serving.advance` atomically; returns the delivery
        and whether it changed. Raises ``NotFound``."""
        ...
