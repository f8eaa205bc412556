"""The mediation agreement in the session: drafting, proposal, acceptance, signing, the seal.

The state machine is :mod:`hearing_server.core.agreement`; this service loads, checks, records
and tells. It never touches PDF bytes itself beyond storing them: rendering, each party's PAdES
signature and the organisation's seal are the :class:`AgreementDocuments` port's work (wired to
the ``esign`` package in ``wiring/agreements.py``), run off the event loop there.

A signature is applied as one whole step or not at all: the code is checked, the next PDF
revision is produced and written to its own file, and only then is the agreement stored with
the signature. A failed signing leaves the previous revision, and the code, as they were.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from hearing_server.core.actors import Actor
from hearing_server.core.agreement import (
    Agreement,
    AgreementContent,
    AgreementParty,
    AgreementState,
    AgreementVersion,
    check_sign_code,
    content_hash,
    require_sign_code_send,
)
from hearing_server.core.audit import AuditEvent
from hearing_server.core.errors import (
    Conflict,
    NotFound,
    Unavailable,
    ValidationError,
)
from hearing_server.core.hearing import Hearing, HearingKind
from hearing_server.core.identity import CodeChallenge, IdType
from hearing_server.core.participant import Role
from hearing_server.core.permissions import Action, authorize, is_authorized
from identitykit import new_code
from messaging import Message, SendError

from .events import AgreementChanged
from .hearings import HearingService
from .identity import IdentityService

log = logging.getLogger(__name__)

MAX_SIGNATURE_PNG = 1024 * 1024
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True, slots=True)
class SignerInfo:
    """Who signs, as the event certificate and the visible signature name them."""

    participant_id: str
    name: str
    masked_id: str | None
    identity_ref: str  # their verified identity, as the event certificate names it
    party_index: int  # their place among the agreement's parties (their signature box)


class AgreementDocuments(Protocol):
    """What the service needs done to the agreement's PDF (``wiring/agreements.py``)."""

    async def render(
        self, agreement: Agreement, version: AgreementVersion
    ) -> tuple[bytes, dict[str, str]]:
        """The document for signing, and each party's signature field name by id."""
        ...

    async def sign(self, pdf: bytes, signer: SignerInfo, drawn_png: bytes) -> bytes:
        """``pdf`` with ``signer``'s PAdES signature added as an incremental update."""
        ...

    async def seal(self, pdf: bytes) -> bytes:
        """``pdf`` sealed by the mediation organisation (no change allowed after)."""
        ...

    async def confirmation(self, agreement: Agreement, version: AgreementVersion) -> bytes:
        """The application for judicial confirmation (司法确认申请书) of the sealed agreement."""
        ...


class AgreementFiles:
    """Each PDF revision of each agreement in its own file, never overwritten."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def path(self, agreement: Agreement, revision: int) -> Path:
        return self._root / agreement.hearing_id / f"{agreement.id}-r{revision}.pdf"

    def confirmation_path(self, agreement: Agreement) -> Path:
        return self._root / agreement.hearing_id / f"{agreement.id}-confirmation.pdf"

    async def write(self, agreement: Agreement, revision: int, data: bytes) -> str:
        """Write revision ``revision`` (atomically, owner-only); returns its SHA-256."""
        return await self.write_to(self.path(agreement, revision), data)

    async def read(self, agreement: Agreement, revision: int) -> bytes:
        return await self.read_from(self.path(agreement, revision))

    @staticmethod
    async def write_to(path: Path, data: bytes) -> str:
        """Write a new file (atomically, owner-only, never over another); its SHA-256."""
        await asyncio.to_thread(_write_new, path, data)
        return hashlib.sha256(data).hexdigest()

    @staticmethod
    async def read_from(path: Path) -> bytes:
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise NotFound(f"{path.name} of the agreement is missing") from None


def _write_new(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            # A revision is written once; a second write of the same number would replace a
            # signed document.
            raise Conflict(f"{path.name} exists already", code="concurrent_change")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# Every party has signed: the document is final (sealing and the application for judicial
# confirmation add to it, never change what was signed).
_SIGNED_STATES = frozenset(
    {AgreementState.SIGNED, AgreementState.SEALED, AgreementState.CONFIRMATION_REQUESTED}
)


def _masked(reg_type: IdType, last4: str) -> str:
    width = 18 if reg_type is IdType.RESIDENT_ID else 9
    return "*" * max(0, width - len(last4)) + last4


class AgreementService:
    """Every move on a hearing's agreement, through the one authorization path."""

    def __init__(
        self,
        hearings: HearingService,
        identity: IdentityService,
        documents: AgreementDocuments,
        files: AgreementFiles,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._hearings = hearings
        self._store = hearings.store
        self._identity = identity
        self._documents = documents
        self._files = files
        self._now = clock
        # One change at a time per hearing on this node; the store's compare-and-set
        # catches another node.
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, hearing_id: str) -> asyncio.Lock:
        return self._locks.setdefault(hearing_id, asyncio.Lock())

    # -- reading ----------------------------------------------------------------------------

    async def view(self, actor: Actor, hearing_id: str) -> dict[str, Any]:
        """The agreement as ``actor`` may see it (a draft only to those who draft)."""
        drafts = await self._reader(actor, hearing_id)
        a = await self._store.get_agreement(hearing_id)
        if a is None:
            return {"state": None}
        return await self._to_json(a, full=drafts)

    async def pdf(self, actor: Actor, hearing_id: str) -> tuple[bytes, Agreement]:
        """The latest PDF revision: for the mediator, staff and the parties once signing
        opened."""
        await self._reader(actor, hearing_id)
        a = await self._store.get_agreement(hearing_id)
        if a is None or a.pdf_revision == 0:
            raise NotFound("no agreement document yet", code="no_document")
        return await self._files.read(a, a.pdf_revision), a

    async def signed_pdf(self, hearing_id: str) -> tuple[bytes, Agreement]:
        """The latest revision of the signed (or sealed) agreement, checked against the hash
        on record, for the server's own work (serving it): no actor, no permission check, so
        the caller authorizes. Raises ``Conflict`` (``agreement_not_signed``) while no party
        signature set is complete, ``Conflict`` when the file does not match its hash."""
        a = await self._store.get_agreement(hearing_id)
        if a is None or a.state not in _SIGNED_STATES or a.pdf_sha256 is None:
            state = "none drafted" if a is None else a.state.value
            raise Conflict(
                f"the hearing has no signed mediation agreement (agreement: {state})",
                code="agreement_not_signed",
            )
        pdf = await self._files.read(a, a.pdf_revision)
        if hashlib.sha256(pdf).hexdigest() != a.pdf_sha256:
            raise Conflict(f"revision {a.pdf_revision} of the agreement does not match its hash")
        return pdf, a

    # -- the mediator -----------------------------------------------------------------------

    async def save_draft(self, actor: Actor, hearing_id: str, body: Any) -> dict[str, Any]:
        """Save a new draft version from ``body`` (see ``AgreementContent.from_json``)."""
        hearing = await self._mediation(hearing_id)
        authorize(actor, Action.DRAFT_AGREEMENT, hearing)
        content = AgreementContent.from_json(body)
        async with self._lock(hearing_id):
            a = await self._store.get_agreement(hearing_id)
            if a is None:
                a = await self._new(hearing)
            elif a.state is AgreementState.DRAFT:
                # The parties named are those on the case now (added since the last draft).
                a = replace(a, parties=await self._parties(hearing), case=await self._case(hearing))
            number = a.version + 1
            digest = content_hash(content, a.parties, a.case)
            a = a.revise(number, digest)
            version = AgreementVersion(number, content, digest, self._now(), actor.id)
            stored = await self._store.put_agreement(a)
            await self._store.add_agreement_version(a.id, version)
            await self._audit(
                hearing_id, actor, AuditEvent.AGREEMENT_DRAFTED, version=number, hash=digest
            )
            return await self._changed(stored)

    async def propose(self, actor: Actor, hearing_id: str) -> dict[str, Any]:
        """Propose the draft to the parties. Each party must be registered (name, ID, phone):
        the document names them by their masked ID, and each signs with a code to their phone."""

        def move(a: Agreement) -> Agreement:
            unregistered = [p.name for p in a.parties if not p.masked_id]
            if unregistered:
                raise Conflict(
                    f"not registered (ID number and phone): {'、'.join(unregistered)}; the "
                    "clerk registers them, then save the draft again",
                    code="party_not_registered",
                )
            return a.propose()

        return await self._mediator_move(actor, hearing_id, move, AuditEvent.AGREEMENT_PROPOSED)

    async def back_to_draft(self, actor: Actor, hearing_id: str) -> dict[str, Any]:
        return await self._mediator_move(
            actor, hearing_id, lambda a: a.back_to_draft(), AuditEvent.AGREEMENT_DRAFTED
        )

    async def no_agreement(self, actor: Actor, hearing_id: str, reason: str) -> dict[str, Any]:
        return await self._mediator_move(
            actor,
            hearing_id,
            lambda a: a.fail(reason),
            AuditEvent.AGREEMENT_NOT_REACHED,
            reason=reason.strip()[:1000],
        )

    async def request_confirmation(self, actor: Actor, hearing_id: str) -> dict[str, Any]:
        """Judicial confirmation (司法确认) is requested: the application is written from the
        sealed agreement, for the parties to file with the court."""
        async with self._changing(actor, hearing_id, Action.DRAFT_AGREEMENT) as (_, a):
            a.request_confirmation(self._now())  # raises the state machine's own error
            pdf = await self._documents.confirmation(a, await self._version(a))
            path = self._files.confirmation_path(a)
            digest = await self._files.write_to(path, pdf)
            stored = await self._store.put_agreement(a.request_confirmation(self._now(), digest))
            await self._audit(
                hearing_id,
                actor,
                AuditEvent.AGREEMENT_CONFIRMATION_REQUESTED,
                agreement_sha256=a.pdf_sha256,
                application_sha256=digest,
            )
            return await self._changed(stored)

    async def confirmation_pdf(self, actor: Actor, hearing_id: str) -> tuple[bytes, Agreement]:
        """The application for judicial confirmation, once requested."""
        await self._reader(actor, hearing_id)
        a = await self._store.get_agreement(hearing_id)
        if a is None or a.confirmation_sha256 is None:
            raise NotFound("no application for judicial confirmation yet", code="no_document")
        return await self._files.read_from(self._files.confirmation_path(a)), a

    async def open_signing(self, actor: Actor, hearing_id: str) -> dict[str, Any]:
        """Every party accepted: render the document once, and signing opens."""
        async with self._changing(actor, hearing_id, Action.DRAFT_AGREEMENT) as (_, a):
            if a.state is not AgreementState.ACCEPTED:
                a.open_signing("")  # raises the state machine's own error
            version = await self._version(a)
            pdf, fields = await self._documents.render(a, version)
            missing = a.party_ids - set(fields)
            if missing:
                raise Unavailable("the document has no signature field for every party")
            digest = await self._files.write(a, 1, pdf)
            after = a.open_signing(digest)
            stored = await self._store.put_agreement(after)
            await self._audit(
                hearing_id,
                actor,
                AuditEvent.AGREEMENT_SIGNING_OPENED,
                version=a.version,
                hash=a.content_hash,
                pdf_sha256=digest,
            )
            return await self._changed(stored)

    async def seal(self, actor: Actor, hearing_id: str) -> dict[str, Any]:
        """The mediation organisation seals the signed agreement; nothing may change after."""
        async with self._changing(actor, hearing_id, Action.DRAFT_AGREEMENT) as (_, a):
            if a.state is not AgreementState.SIGNED:
                a.seal("", self._now())  # raises the state machine's own error
            pdf = await self._files.read(a, a.pdf_revision)
            sealed = await self._documents.seal(pdf)
            digest = await self._files.write(a, a.pdf_revision + 1, sealed)
            stored = await self._store.put_agreement(a.seal(digest, self._now()))
            await self._audit(
                hearing_id,
                actor,
                AuditEvent.AGREEMENT_SEALED,
                revision=stored.pdf_revision,
                pdf_sha256=digest,
            )
            return await self._changed(stored)

    # -- the parties ------------------------------------------------------------------------

    async def accept(self, actor: Actor, hearing_id: str, digest: str) -> dict[str, Any]:
        """A party accepts the proposal they read, named by its content hash."""
        async with self._changing(actor, hearing_id, Action.SIGN) as (_, a):
            after = a.accept(actor.id, digest, self._now())
            if after == a:
                return await self._to_json(a, full=False)
            stored = await self._store.put_agreement(after)
            await self._audit(
                hearing_id,
                actor,
                AuditEvent.AGREEMENT_ACCEPTED,
                version=a.version,
                hash=digest,
                all_accepted=stored.state is AgreementState.ACCEPTED,
            )
            return await self._changed(stored, full=False)

    async def request_changes(self, actor: Actor, hearing_id: str, comment: str) -> dict[str, Any]:
        """A party asks for changes: the proposal goes back to the mediator."""
        async with self._changing(actor, hearing_id, Action.SIGN) as (_, a):
            stored = await self._store.put_agreement(
                a.request_changes(actor.id, comment, self._now())
            )
            await self._audit(
                hearing_id, actor, AuditEvent.AGREEMENT_CHANGES_REQUESTED, version=a.version
            )
            return await self._changed(stored, full=False)

    async def send_sign_code(self, actor: Actor, hearing_id: str) -> dict[str, Any]:
        """Send the party a one-time code to confirm their signature with."""
        rules = self._identity.rules
        async with self._changing(actor, hearing_id, Action.SIGN) as (hearing, a):
            now = self._now()
            require_sign_code_send(a, actor.id, now, rules)
            _, recipient = await self._identity.contact(actor.id)
            code = new_code()
            minutes = int(rules.code_ttl.total_seconds() // 60)
            message = Message(
                recipient=recipient,
                subject="调解协议签署验证码 Agreement signing code",
                text=(
                    f"【{hearing.court}】您签署调解协议（{hearing.case_number}）的验证码为 {code}，"  # noqa: RUF001
                    f"{minutes}分钟内有效，请勿告诉他人。Your code to sign the mediation "  # noqa: RUF001
                    f"agreement is {code}; it is valid for {minutes} minutes. Do not share it."
                ),
            )
            try:
                receipt = await self._identity.sender.send(message)
            except SendError as exc:
                await self._audit(
                    hearing_id, actor, AuditEvent.AGREEMENT_SIGNING_FAILED,
                    reason="send_failed", error=exc.message[:300],
                )  # fmt: skip
                raise Unavailable(
                    f"the code could not be sent ({exc.message}); try again", code="send_failed"
                ) from exc
            challenge = CodeChallenge(
                digest=self._identity.hasher.code(_code_owner(a, actor.id), code),
                issued_at=now,
                expires_at=now + rules.code_ttl,
            )
            stored = await self._store.put_agreement(a.with_code(actor.id, challenge))
            await self._audit(
                hearing_id, actor, AuditEvent.AGREEMENT_SIGN_CODE_SENT, sender=receipt.sender
            )
            return {
                **await self._to_json(stored, full=False),
                "code_expires_at": challenge.expires_at.isoformat(),
            }

    async def sign(
        self, actor: Actor, hearing_id: str, code: str, drawn_png: bytes
    ) -> dict[str, Any]:
        """The party signs: their drawn signature and the code sent to them. The PAdES
        signature is applied for them with a certificate issued at this moment."""
        hasher = self._identity.hasher
        async with self._changing(actor, hearing_id, Action.SIGN) as (_, a):
            _check_png(drawn_png)
            if not code.strip().isdigit() or len(code.strip()) != 6:
                raise ValidationError("the code is 6 digits", code="invalid_code")
            owner = _code_owner(a, actor.id)
            checked, right = check_sign_code(
                a,
                actor.id,
                lambda digest: hasher.same(hasher.code(owner, code.strip()), digest),
                self._now(),
                self._identity.rules,
            )
            if not right:
                await self._store.put_agreement(checked)
                await self._audit(
                    hearing_id, actor, AuditEvent.AGREEMENT_SIGNING_FAILED, reason="wrong_code"
                )
                raise ValidationError("the code is not right", code="wrong_code")
            signer = await self._signer(a, actor.id)
            pdf = await self._files.read(a, a.pdf_revision)
            try:
                signed = await self._documents.sign(pdf, signer, drawn_png)
            except (ValidationError, Conflict):
                raise
            except Exception as exc:
                log.exception("signing the agreement of hearing %s failed", hearing_id)
                await self._audit(
                    hearing_id, actor, AuditEvent.AGREEMENT_SIGNING_FAILED,
                    reason="signature_failed", error=str(exc)[:300],
                )  # fmt: skip
                raise Unavailable("the signature could not be applied; try again") from exc
            digest = await self._files.write(a, a.pdf_revision + 1, signed)
            after = checked.add_signature(actor.id, digest, self._now())
            stored = await self._store.put_agreement(after)
            await self._audit(
                hearing_id,
                actor,
                AuditEvent.AGREEMENT_SIGNED,
                revision=after.pdf_revision,
                pdf_sha256=digest,
                all_signed=after.state is AgreementState.SIGNED,
            )
            return await self._changed(stored, full=False)

    # -- internals --------------------------------------------------------------------------

    async def _mediation(self, hearing_id: str) -> Hearing:
        hearing = await self._store.get_hearing(hearing_id)
        if hearing.kind is not HearingKind.MEDIATION:
            raise Conflict("only a mediation has an agreement", code="not_a_mediation")
        return hearing

    @contextlib.asynccontextmanager
    async def _changing(
        self, actor: Actor, hearing_id: str, action: Action
    ) -> AsyncIterator[tuple[Hearing, Agreement]]:
        """Every change's preamble: a mediation, ``actor`` may do ``action`` there, then the
        hearing's lock held while the existing agreement is read and changed."""
        hearing = await self._mediation(hearing_id)
        authorize(actor, action, hearing)
        async with self._lock(hearing_id):
            yield hearing, await self._existing(hearing_id)

    async def _reader(self, actor: Actor, hearing_id: str) -> bool:
        """Check that ``actor`` may read the mediation's agreement; True if they may see a
        draft (those who draft), False for the parties and their counsel."""
        hearing = await self._mediation(hearing_id)
        drafts = is_authorized(actor, Action.DRAFT_AGREEMENT, hearing)
        if not drafts:
            authorize(actor, Action.SIGN, hearing)
        return drafts

    async def _existing(self, hearing_id: str) -> Agreement:
        a = await self._store.get_agreement(hearing_id)
        if a is None:
            raise NotFound("no agreement has been drafted yet", code="no_agreement_yet")
        return a

    async def _version(self, a: Agreement) -> AgreementVersion:
        for v in await self._store.list_agreement_versions(a.id):
            if v.number == a.version:
                return v
        raise NotFound(f"version {a.version} of the agreement is missing")

    async def _case(self, hearing: Hearing) -> dict[str, str]:
        participants = await self._store.list_participants(hearing.id)
        mediators = [p.display_name for p in participants if p.role is Role.MEDIATOR]
        return {
            "case_number": hearing.case_number,
            "court": hearing.court,
            "title": hearing.title,
            "mediator": "、".join(mediators),
        }

    async def _parties(self, hearing: Hearing) -> tuple[AgreementParty, ...]:
        out = []
        for p in await self._store.list_participants(hearing.id):
            if p.role is not Role.PARTY or p.removed:
                continue
            reg = await self._store.get_registration(p.id)
            out.append(
                AgreementParty(
                    participant_id=p.id,
                    name=reg.legal_name if reg else p.display_name,
                    masked_id=_masked(reg.id_type, reg.id_last4) if reg else None,
                    side=p.side.value if p.side else "",
                )
            )
        return tuple(out)

    async def _new(self, hearing: Hearing) -> Agreement:
        return Agreement(
            id=f"ag-{secrets.token_hex(8)}",
            hearing_id=hearing.id,
            case=await self._case(hearing),
            parties=await self._parties(hearing),
        )

    async def _signer(self, a: Agreement, pid: str) -> SignerInfo:
        party = a.party(pid)
        participant = await self._store.get_participant(pid)
        status = await self._identity.view(participant.id)
        index = [p.participant_id for p in a.parties].index(pid)
        return SignerInfo(
            participant_id=pid,
            name=party.name,
            masked_id=party.masked_id,
            identity_ref=f"{pid}:{status.get('outcome', 'unknown')}",
            party_index=index,
        )

    async def _mediator_move(
        self,
        actor: Actor,
        hearing_id: str,
        move: Callable[[Agreement], Agreement],
        event: AuditEvent,
        **data: Any,
    ) -> dict[str, Any]:
        async with self._changing(actor, hearing_id, Action.DRAFT_AGREEMENT) as (_, a):
            after = move(a)
            stored = await self._store.put_agreement(after)
            await self._audit(
                hearing_id,
                actor,
                event,
                state=stored.state.value,
                version=stored.version,
                hash=stored.content_hash,
                **data,
            )
            return await self._changed(stored)

    async def _audit(self, hearing_id: str, actor: Actor, event: AuditEvent, **data: Any) -> None:
        await self._hearings.audit(hearing_id, actor, event, data)

    async def _to_json(self, a: Agreement, *, full: bool) -> dict[str, Any]:
        names = {p.participant_id: p.name for p in a.parties}
        out: dict[str, Any] = {
            "id": a.id,
            # the store's change counter: a client shows the highest it has seen, so a
            # late answer never overwrites a newer push
            "revision": a.revision,
            "state": a.state.value,
            "case": dict(a.case),
            "parties": [p.to_json() for p in a.parties],
            "accepted_by": sorted(a.accepted_by()),
            "change_requests": [
                {
                    "participant_id": c.participant_id,
                    "name": names.get(c.participant_id, ""),
                    "version": c.version,
                    "comment": c.comment,
                    "at": c.at.isoformat(),
                }
                for c in a.change_requests
            ],
            "signatures": [
                {
                    "participant_id": s.participant_id,
                    "name": names.get(s.participant_id, ""),
                    "at": s.at.isoformat(),
                    "revision": s.revision,
                    "pdf_sha256": s.pdf_sha256,
                }
                for s in a.signatures
            ],
            "pdf_revision": a.pdf_revision,
            "pdf_sha256": a.pdf_sha256,
            "sealed_at": a.sealed_at.isoformat() if a.sealed_at else None,
            "confirmation_requested_at": (
                a.confirmation_requested_at.isoformat() if a.confirmation_requested_at else None
            ),
            "no_agreement_reason": a.no_agreement_reason,
            "confirmation_sha256": a.confirmation_sha256,
        }
        if full or a.visible_to_parties:
            version = await self._version(a) if a.version else None
            out["version"] = a.version
            out["content_hash"] = a.content_hash
            out["content"] = version.content.to_json() if version else None
        if full:
            out["versions"] = [
                {
                    "number": v.number,
                    "content_hash": v.content_hash,
                    "created_at": v.created_at.isoformat(),
                }
                for v in await self._store.list_agreement_versions(a.id)
            ]
        return out

    async def _changed(self, a: Agreement, *, full: bool = True) -> dict[str, Any]:
        """Tell the mediator and staff (everything) and the parties and their counsel (what
        they may see); returns the caller's view."""
        staff = await self._to_json(a, full=True)
        parties = await self._to_json(a, full=False)
        participants = await self._store.list_participants(a.hearing_id)
        recipients = tuple(
            p.id for p in participants if p.role in (Role.PARTY, Role.COUNSEL) and not p.removed
        )
        await self._hearings.events.publish(
            AgreementChanged(a.hearing_id, staff, parties, recipients)
        )
        return staff if full else parties


def _code_owner(a: Agreement, pid: str) -> str:
    # A signing code is for one agreement and one signer: it can never pass as another's, nor
    # as an identity code.
    return f"agreement:{a.id}:{pid}"


def _check_png(data: bytes) -> None:
    if len(data) > MAX_SIGNATURE_PNG:
        raise ValidationError(
            f"the drawn signature is larger than {MAX_SIGNATURE_PNG // 1024} KB",
            code="signature_too_large",
        )
    if not data.startswith(_PNG_MAGIC):
        raise ValidationError("the drawn signature must be a PNG image", code="signature_invalid")


__all__ = ["AgreementDocuments", "AgreementFiles", "AgreementService", "SignerInfo"]
