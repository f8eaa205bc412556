"""The exhibit bundle of a hearing: upload, seal, number, release, read, and the opinions on
each exhibit (docs/evidence.md).

Every file is checked from its content (``exhibits.content``) before it is sealed; the sealed
file's SHA-256 goes into the hearing's hash-chained audit log, so a file swapped on disk later
no longer matches the chain (:meth:`EvidenceService.verify`). Who sees an exhibit is the
domain's rule (:func:`hearing_server.core.evidence.visible_to`); someone who may not see one is
told it does not exist.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import uuid
from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from exhibits import ContentRejected, ExhibitFiles, MediaType, PageRenderer, inspect_file
from exhibits.files import UploadError, UploadState, sha256_of
from hearing_server.core.actors import Actor
from hearing_server.core.audit import AuditEvent, verify_chain
from hearing_server.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    TooLarge,
    ValidationError,
)
from hearing_server.core.evidence import (
    COURT_ROLES,
    Exhibit,
    ExhibitSide,
    Opinion,
    Verdict,
    check_text,
    clean_filename,
    side_of,
    visible_to,
)
from hearing_server.core.hearing import Hearing
from hearing_server.core.participant import Participant
from hearing_server.core.permissions import Action, authorize

from .events import EvidenceChanged
from .hearings import HearingService

#: Default upload limit: 200 MB (the ``evidence_max_bytes`` setting).
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
#: The widest page picture a viewer may ask for.
MAX_PAGE_WIDTH = 2400
#: Unfinished uploads one person may have at a time.
MAX_OPEN_UPLOADS = 4
#: How long a streaming ticket for an audio or video exhibit lasts.
TICKET_TTL_S = 600
_UPLOAD_ERRORS = {"upload_not_found": NotFound, "offset_mismatch": Conflict}


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking at the bundle: their role (``None``: staff outside the hearing) and
    the side they stand for."""

    role: Any
    side: ExhibitSide | None


@dataclass(slots=True)
class VerifyReport:
    """What :meth:`EvidenceService.verify` found: one line per problem."""

    hearing_id: str
    exhibits: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "hearing_id": self.hearing_id,
            "exhibits": self.exhibits,
            "ok": self.ok,
            "problems": self.problems,
        }


def _upload_error(exc: UploadError) -> Exception:
    cls = _UPLOAD_ERRORS.get(exc.code)
    if cls is not None:
        return cls(exc.message, code=exc.code)
    if exc.code == "too_large":
        return TooLarge(exc.message, code=exc.code)
    return ValidationError(exc.message, code=exc.code)


class EvidenceService:
    """Upload, seal, list, release and read exhibits; record opinions; verify a bundle."""

    def __init__(
        self,
        hearings: HearingService,
        files: ExhibitFiles,
        renderer: PageRenderer,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self._hearings = hearings
        self._files = files
        self._renderer = renderer
        self._max_bytes = max_bytes
        # hearing id -> the lock under which exhibit numbers are given (one node)
        self._numbering: dict[str, asyncio.Lock] = {}
        # signs the streaming tickets; a restart ends the tickets given out (they last minutes)
        self._ticket_key = secrets.token_bytes(32)

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    # -- who is asking ------------------------------------------------------------------------

    async def _people(self, hearing_id: str) -> dict[str, Participant]:
        return {p.id: p for p in await self._hearings.store.list_participants(hearing_id)}

    async def viewer(self, actor: Actor, hearing: Hearing) -> Viewer:
        """The role and side ``actor`` sees the bundle as (after VIEW_EVIDENCE)."""
        authorize(actor, Action.VIEW_EVIDENCE, hearing)
        if actor.role is None:
            return Viewer(None, None)
        people = await self._people(hearing.id)
        me = people.get(actor.id)
        if me is None:
            raise Forbidden("not a participant of this hearing")
        return Viewer(actor.role, side_of(me, people))

    async def _uploader_side(
        self, actor: Actor, hearing: Hearing, requested: ExhibitSide | None
    ) -> ExhibitSide:
        """The side an upload is filed under: a party's or counsel's own; the court files
        under any side it names (a party's paper handed in at the counter), else its own."""
        authorize(actor, Action.UPLOAD_EVIDENCE, hearing)
        if actor.role is None or actor.role in COURT_ROLES:
            return requested or ExhibitSide.COURT
        people = await self._people(hearing.id)
        me = people.get(actor.id)
        side = side_of(me, people) if me is not None else None
        if side is None:
            raise Forbidden("you stand for no side of this case", code="no_side")
        if requested is not None and requested is not side:
            raise Forbidden("a side files only its own exhibits", code="other_side")
        return side

    # -- uploads ------------------------------------------------------------------------------

    async def begin_upload(
        self, actor: Actor, hearing_id: str, *, size: int, filename: str
    ) -> UploadState:
        """Announce an upload of ``size`` bytes for ``hearing_id``."""
        hearing = await self._hearings.store.get_hearing(hearing_id)
        authorize(actor, Action.UPLOAD_EVIDENCE, hearing)
        if hearing.is_terminal:
            raise Conflict("the hearing is over: its bundle is closed", code="hearing_closed")
        if size > self._max_bytes:
            raise TooLarge(f"exhibits are limited to {self._max_bytes} bytes")
        # Unfinished uploads hold disk space: a few at a time per person.
        if self._files.open_uploads("owner", actor.id) >= MAX_OPEN_UPLOADS:
            raise Conflict(
                f"finish or cancel your {MAX_OPEN_UPLOADS} unfinished uploads first",
                code="too_many_uploads",
            )
        try:
            return self._files.begin(
                size,
                {
                    "hearing_id": hearing_id,
                    "owner": actor.id,
                    "filename": clean_filename(filename),
                },
            )
        except UploadError as exc:
            raise _upload_error(exc) from None

    def _own_upload(self, actor: Actor, upload_id: str) -> UploadState:
        try:
            state = self._files.state(upload_id)
        except UploadError as exc:
            raise _upload_error(exc) from None
        if state.meta.get("owner") != actor.id:
            raise NotFound(f"no upload {upload_id}", code="upload_not_found")
        return state

    async def upload_state(self, actor: Actor, upload_id: str) -> UploadState:
        """How much of one's own upload has arrived."""
        return self._own_upload(actor, upload_id)

    async def append(
        self, actor: Actor, upload_id: str, offset: int, chunks: AsyncIterable[bytes]
    ) -> UploadState:
        """Store the next bytes of one's own upload, from ``offset``."""
        self._own_upload(actor, upload_id)
        try:
            return await self._files.append(upload_id, offset, chunks)
        except UploadError as exc:
            raise _upload_error(exc) from None

    async def cancel_upload(self, actor: Actor, upload_id: str) -> None:
        """Abandon one's own upload: its bytes are deleted."""
        self._own_upload(actor, upload_id)
        self._files.discard(upload_id)

    async def complete(
        self,
        actor: Actor,
        upload_id: str,
        *,
        title: str,
        purpose: str = "",
        side: ExhibitSide | None = None,
        supersedes: str | None = None,
    ) -> Exhibit:
        """Seal a complete upload as an exhibit: its content checked, its hash on the chain,
        its number the side's next (or, correcting ``supersedes``, that exhibit's number in
        its next version). A refused file is deleted and nothing is recorded."""
        state = self._own_upload(actor, upload_id)
        hearing = await self._hearings.store.get_hearing(str(state.meta["hearing_id"]))
        check_text("title", title, 200, required=True)
        check_text("purpose", purpose, 2000)
        if not state.complete:
            raise Conflict(
                f"the upload has {state.offset} of {state.size} bytes", code="incomplete"
            )
        previous: Exhibit | None = None
        if supersedes is not None:
            previous = await self._exhibit_of(hearing.id, supersedes)
            if not previous.current:
                raise Conflict("that version was already corrected", code="superseded")
            side = side or previous.side
            if side is not previous.side:
                raise ValidationError("a correction keeps the exhibit's side")
        filed_under = await self._uploader_side(actor, hearing, side)
        if previous is not None and filed_under is not previous.side:
            raise Forbidden("a side corrects only its own exhibits", code="other_side")
        try:
            info = await asyncio.to_thread(inspect_file, self._part_path(upload_id))
        except ContentRejected as exc:
            self._files.discard(upload_id)
            raise ValidationError(exc.message, code=exc.code) from None
        try:
            file_id, _, digest = await asyncio.to_thread(self._files.seal, upload_id, hearing.id)
        except UploadError as exc:
            raise _upload_error(exc) from None
        lock = self._numbering.setdefault(hearing.id, asyncio.Lock())
        async with lock:
            if previous is not None:
                number, version = previous.number, previous.version + 1
            else:
                number = await self._hearings.store.last_exhibit_number(hearing.id, filed_under)
                number, version = number + 1, 1
            exhibit = Exhibit(
                id=uuid.uuid4().hex,
                hearing_id=hearing.id,
                side=filed_under,
                number=number,
                version=version,
                title=title.strip(),
                purpose=purpose.strip(),
                media_type=info.media_type.value,
                size=state.size,
                sha256=digest,
                file_id=file_id,
                filename=str(state.meta.get("filename") or "exhibit"),
                uploaded_by=actor.id,
                uploaded_at=self._hearings.now(),
                supersedes=previous.id if previous is not None else None,
                pages=info.pages if info.media_type is MediaType.PDF else None,
            )
            await self._hearings.store.add_exhibit(exhibit)
        await self._hearings.audit(
            hearing.id,
            actor,
            AuditEvent.EVIDENCE_SUBMITTED,
            {
                "exhibit_id": exhibit.id,
                "label": exhibit.label,
                "side": exhibit.side.value,
                "number": exhibit.number,
                "version": exhibit.version,
                "title": exhibit.title,
                "media_type": exhibit.media_type,
                "size": exhibit.size,
                "sha256": exhibit.sha256,
                "supersedes": exhibit.supersedes,
            },
        )
        await self._changed(hearing.id, "submitted", exhibit.id)
        return exhibit

    def _part_path(self, upload_id: str) -> Path:
        # The staged bytes, checked in place before they are sealed.
        return self._files.staged_path(upload_id)

    # -- reading ------------------------------------------------------------------------------

    async def _load(self, actor: Actor, exhibit_id: str) -> tuple[Exhibit, Hearing]:
        """An exhibit and its hearing; a participant of another hearing is told it does not
        exist (not that it is forbidden)."""
        exhibit = await self._hearings.store.get_exhibit(exhibit_id)
        if actor.role is not None and actor.hearing_id != exhibit.hearing_id:
            raise NotFound(f"no exhibit {exhibit_id}")
        return exhibit, await self._hearings.store.get_hearing(exhibit.hearing_id)

    async def _exhibit_of(self, hearing_id: str, exhibit_id: str) -> Exhibit:
        exhibit = await self._hearings.store.get_exhibit(exhibit_id)
        if exhibit.hearing_id != hearing_id:
            raise NotFound(f"no exhibit {exhibit_id} in this hearing")
        return exhibit

    async def bundle(self, actor: Actor, hearing_id: str) -> dict[str, Any]:
        """The exhibits ``actor`` may see, every version, with the opinions on them."""
        hearing = await self._hearings.store.get_hearing(hearing_id)
        viewer = await self.viewer(actor, hearing)
        shown = [
            e
            for e in await self._hearings.store.list_exhibits(hearing_id)
            if visible_to(e, viewer.role, viewer.side)
        ]
        ids = {e.id for e in shown}
        opinions = [
            o.to_json()
            for o in await self._hearings.store.list_opinions(hearing_id)
            if o.exhibit_id in ids
        ]
        return {
            "hearing_id": hearing_id,
            "side": viewer.side.value if viewer.side else None,
            "exhibits": [e.to_json() for e in shown],
            "opinions": opinions,
        }

    async def exhibit(self, actor: Actor, exhibit_id: str) -> Exhibit:
        """One exhibit ``actor`` may see (``NotFound`` otherwise, so nobody learns of an
        exhibit they may not see)."""
        exhibit, hearing = await self._load(actor, exhibit_id)
        viewer = await self.viewer(actor, hearing)
        if not visible_to(exhibit, viewer.role, viewer.side):
            raise NotFound(f"no exhibit {exhibit_id}")
        return exhibit

    async def file_of(self, actor: Actor, exhibit_id: str) -> tuple[Exhibit, Path]:
        """The sealed file of an exhibit ``actor`` may see."""
        exhibit = await self.exhibit(actor, exhibit_id)
        path = self._files.path_of(exhibit.hearing_id, exhibit.file_id)
        if not path.is_file():
            raise NotFound(f"the file of {exhibit.label} is missing", code="file_missing")
        return exhibit, path

    async def page(self, actor: Actor, exhibit_id: str, page: int, width: int) -> bytes:
        """Page ``page`` (1-based) of a PDF or image exhibit as a JPEG ``width`` px wide."""
        if not 1 <= width <= MAX_PAGE_WIDTH:
            raise ValidationError(f"width is 1..{MAX_PAGE_WIDTH}")
        exhibit, path = await self.file_of(actor, exhibit_id)
        return await self.render_page(exhibit, path, page, width)

    async def render_page(self, exhibit: Exhibit, path: Path, page: int, width: int) -> bytes:
        """Render without an authorization check (the caller has made it)."""
        media = MediaType(exhibit.media_type)
        if media.is_av:
            raise ValidationError(f"{exhibit.label} is played, not paged", code="no_pages")
        count = exhibit.pages or 1
        if not 1 <= page <= count:
            raise NotFound(f"{exhibit.label} has {count} page(s)", code="no_such_page")
        return await asyncio.to_thread(
            self._renderer.encoded, exhibit.sha256, path, media, page - 1, width
        )

    async def picture(self, exhibit: Exhibit, page: int, box_w: int, box_h: int) -> Image.Image:
        """Page ``page`` (1-based) of a PDF or image exhibit fitted into a box, for the
        composite (no authorization: it shows what is presented to the hearing room)."""
        media = MediaType(exhibit.media_type)
        path = self.sealed_path(exhibit)
        return await asyncio.to_thread(self._renderer.render, path, media, page - 1, box_w, box_h)

    async def ticket(self, actor: Actor, exhibit_id: str, now: float) -> str:
        """A short-lived ticket to stream an exhibit's file (audio and video players fetch by
        URL, with ranges, and cannot send the join token). Bound to the exhibit and expiring
        after :data:`TICKET_TTL_S`; it names no person, so it is only handed to someone who
        may see the exhibit."""
        exhibit = await self.exhibit(actor, exhibit_id)
        expires = int(now + TICKET_TTL_S)
        body = f"{exhibit.id}.{expires}"
        mac = hmac.new(self._ticket_key, body.encode(), hashlib.sha256).hexdigest()
        return f"{body}.{mac}"

    async def file_by_ticket(self, ticket: str, now: float) -> tuple[Exhibit, Path]:
        """The exhibit and file a valid, unexpired ticket names (``NotFound`` otherwise)."""
        parts = ticket.split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            raise NotFound("no such file", code="bad_ticket")
        exhibit_id, expires, mac = parts
        body = f"{exhibit_id}.{expires}"
        good = hmac.new(self._ticket_key, body.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(good, mac) or int(expires) < now:
            raise NotFound("the link expired or is not valid", code="bad_ticket")
        exhibit = await self._hearings.store.get_exhibit(exhibit_id)
        path = self._files.path_of(exhibit.hearing_id, exhibit.file_id)
        if not path.is_file():
            raise NotFound(f"the file of {exhibit.label} is missing", code="file_missing")
        return exhibit, path

    def sealed_path(self, exhibit: Exhibit) -> Path:
        """Where the sealed file of ``exhibit`` lies (for the composite)."""
        return self._files.path_of(exhibit.hearing_id, exhibit.file_id)

    # -- the court's acts ---------------------------------------------------------------------

    async def release(self, actor: Actor, exhibit_id: str) -> Exhibit:
        """Show a side's exhibit to the other side (证据交换)."""
        _, hearing = await self._load(actor, exhibit_id)
        authorize(actor, Action.RELEASE_EVIDENCE, hearing)
        updated, changed = await self._hearings.store.mark_exhibit(
            exhibit_id, released_at=self._hearings.now()
        )
        if changed:
            await self._hearings.audit(
                hearing.id,
                actor,
                AuditEvent.EVIDENCE_RELEASED,
                {"exhibit_id": exhibit_id, "label": updated.label, "sha256": updated.sha256},
            )
            await self._changed(hearing.id, "released", exhibit_id)
        return updated

    async def mark_presented(self, actor: Actor, exhibit: Exhibit) -> Exhibit:
        """The exhibit was shown in the hearing room: everyone may see it from now on."""
        updated, changed = await self._hearings.store.mark_exhibit(
            exhibit.id, presented_at=self._hearings.now()
        )
        if changed:
            await self._changed(exhibit.hearing_id, "presented", exhibit.id)
        return updated

    async def record_opinion(
        self,
        actor: Actor,
        exhibit_id: str,
        *,
        by_side: ExhibitSide,
        authenticity: Verdict | None,
        legality: Verdict | None,
        relevance: Verdict | None,
        text: str,
    ) -> Opinion:
        """Record a side's opinion on an exhibit (质证意见): the clerk writes what was said."""
        exhibit, hearing = await self._load(actor, exhibit_id)
        authorize(actor, Action.RECORD_OPINION, hearing)
        if by_side is exhibit.side:
            raise ValidationError("the opinion on an exhibit is the other side's")
        opinion = Opinion(
            id=uuid.uuid4().hex,
            exhibit_id=exhibit_id,
            hearing_id=hearing.id,
            by_side=by_side,
            authenticity=authenticity,
            legality=legality,
            relevance=relevance,
            text=text.strip(),
            recorded_by=actor.id,
            recorded_at=self._hearings.now(),
        )
        await self._hearings.store.add_opinion(opinion)
        await self._hearings.audit(
            hearing.id,
            actor,
            AuditEvent.EVIDENCE_OPINION_RECORDED,
            {"label": exhibit.label, **opinion.to_json()},
        )
        await self._changed(hearing.id, "opinion", exhibit_id)
        return opinion

    async def _changed(self, hearing_id: str, reason: str, exhibit_id: str) -> None:
        await self._hearings.events.publish(EvidenceChanged(hearing_id, reason, exhibit_id))

    # -- verification -------------------------------------------------------------------------

    async def verify(self, hearing_id: str) -> VerifyReport:
        """Check a hearing's bundle: the audit chain is intact, every exhibit's file is there
        with the hash the store and the chain recorded for it."""
        store = self._hearings.store
        await store.get_hearing(hearing_id)  # NotFound for a hearing that does not exist
        report = VerifyReport(hearing_id)
        entries = await store.list_audit(hearing_id)
        report.problems.extend(
            f"audit chain: {p}" for p in verify_chain(entries, hearing_id=hearing_id)
        )
        on_chain: dict[str, str] = {
            str(e.data.get("exhibit_id")): str(e.data.get("sha256"))
            for e in entries
            if e.event == AuditEvent.EVIDENCE_SUBMITTED.value
        }
        for exhibit in await store.list_exhibits(hearing_id):
            report.exhibits += 1
            label = f"{exhibit.label} ({exhibit.id})"
            chained = on_chain.get(exhibit.id)
            if chained is None:
                report.problems.append(f"{label}: not on the audit chain")
            elif chained != exhibit.sha256:
                report.problems.append(f"{label}: the store's hash differs from the chain's")
            path = self._files.path_of(hearing_id, exhibit.file_id)
            if not path.is_file():
                report.problems.append(f"{label}: the file is missing")
                continue
            actual = await asyncio.to_thread(sha256_of, path)
            if actual != (chained or exhibit.sha256):
                report.problems.append(
                    f"{label}: the file's SHA-256 is {actual}, the record says "
                    f"{chained or exhibit.sha256}"
                )
        return report
