"""The evidence layout of the courtroom composite: the presented exhibit's page in the large
tile, following the presenter (so the courtroom display, the recording and the livestream
show what everyone in the hearing room sees)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import cast

from aiohttp import web
from av import VideoFrame
from PIL import Image

from exhibits import MediaType
from hearing_server import keys
from hearing_server.media.compositor.still import page_frame
from hearing_server.service.events import PresentationChanged, ServiceEvent
from hearing_server.service.evidence import EvidenceService
from hearing_server.service.presenting import PresentingService, Showing

from .composite import CompositeCoordinator

log = logging.getLogger(__name__)

# The page is rendered to fit this box; the composite scales it into the large tile.
_BOX_W, _BOX_H = 1280, 676


class ExhibitView:
    """Puts what is presented into each hearing's composite; one render task per hearing,
    which always renders the newest state (page turns and pointer moves coalesce)."""

    def __init__(
        self,
        composites: CompositeCoordinator,
        presenting: PresentingService,
        evidence: EvidenceService,
    ) -> None:
        self._composites = composites
        self._presenting = presenting
        self._evidence = evidence
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._pages: dict[str, tuple[tuple[str, int], Image.Image]] = {}
        self._dirty: set[str] = set()

    async def on_service_event(self, event: ServiceEvent) -> None:
        if not isinstance(event, PresentationChanged):
            return
        hid = event.hearing_id
        if self._composites.compositor(hid) is None:
            return
        self._dirty.add(hid)
        task = self._tasks.get(hid)
        if task is None or task.done():
            self._tasks[hid] = asyncio.get_running_loop().create_task(self._follow(hid))

    async def _follow(self, hid: str) -> None:
        while hid in self._dirty:
            self._dirty.discard(hid)
            try:
                await self._show(hid, self._presenting.showing(hid))
            except asyncio.CancelledError:
                raise
            except Exception:
                # The hearing goes on without the exhibit on the composite; the judge still
                # sees it on the console, and the next change tries again.
                log.exception("showing the exhibit on the composite of %s failed", hid)

    async def _show(self, hid: str, showing: Showing | None) -> None:
        if showing is None:
            self._pages.pop(hid, None)
            compositor = self._composites.compositor(hid)
            if compositor is not None:
                compositor.clear_exhibit()
            return
        exhibit = showing.exhibit
        if exhibit is None:
            # A shared screen: its decoded frames go in the large tile as they come.
            compositor = self._composites.compositor(hid)
            tap = (
                self._composites.open_screen(showing.presenter_id, showing.screen_track)
                if compositor is not None and showing.screen_track
                else None
            )
            if compositor is not None and tap is not None:
                self._pages.pop(hid, None)
                screen = cast("AsyncIterator[VideoFrame]", tap)
                compositor.show_exhibit_video(screen, "屏幕共享", f"{showing.presenter_name}的屏幕")
            return
        pages = exhibit.pages or 1
        caption = exhibit.label if pages == 1 else f"{exhibit.label} 第{showing.page}/{pages}页"
        title = f"{exhibit.title} · {showing.presenter_name}出示"
        if MediaType(exhibit.media_type).is_av:
            frame = None
        else:
            key = (exhibit.id, showing.page)
            cached = self._pages.get(hid)
            if cached is None or cached[0] != key:
                image = await self._evidence.picture(exhibit, showing.page, _BOX_W, _BOX_H)
                cached = self._pages[hid] = (key, image)
            frame = await asyncio.to_thread(
                page_frame,
                cached[1],
                zoom=showing.zoom,
                center=showing.center,
                pointer=showing.pointer,
            )
        compositor = self._composites.compositor(hid)
        if compositor is not None:
            compositor.show_exhibit(frame, caption, title)

    async def close(self) -> None:
        """Stop the render tasks. Idempotent."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def install_exhibit_view(app: web.Application) -> None:
    """The evidence layout on every composite (nothing when the composite is off)."""
    composites = app[keys.COMPOSITES]
    if not isinstance(composites, CompositeCoordinator):
        return
    view = ExhibitView(composites, app[keys.PRESENTING], app[keys.EVIDENCE])
    app[keys.EVENTS].subscribe(view.on_service_event)

    async def exhibit_view(_: web.Application) -> AsyncIterator[None]:
        yield
        await view.close()

    app.cleanup_ctx.append(exhibit_view)
