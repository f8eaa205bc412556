"""Evidence: the exhibit bundle (sealed files, resumable uploads, page pictures)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from exhibits import ExhibitFiles, PageRenderer
from hearing_server import keys
from hearing_server.service.evidence import EvidenceService
from hearing_server.service.presenting import PresentingService

# An upload nobody finished within a day is abandoned: its bytes are deleted at start.
_ABANDONED_AFTER_S = 24 * 3600


def install_evidence(app: web.Application) -> None:
    """The exhibit bundle of every hearing and what is presented on every screen
    (docs/evidence.md)."""
    settings = app[keys.SETTINGS]
    files = ExhibitFiles(settings.effective_evidence_dir)
    evidence = EvidenceService(
        app[keys.HEARINGS], files, PageRenderer(), max_bytes=settings.evidence_max_bytes
    )
    presenting = PresentingService(app[keys.LIVE], evidence, screens=app[keys.MEDIA])
    app[keys.EVENTS].subscribe(presenting.on_service_event)
    app[keys.EVIDENCE] = evidence
    app[keys.PRESENTING] = presenting

    async def sweep(_: web.Application) -> AsyncIterator[None]:
        files.discard_older_than(_ABANDONED_AFTER_S)
        yield

    app.cleanup_ctx.append(sweep)
