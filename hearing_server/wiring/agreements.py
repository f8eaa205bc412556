"""Mediation agreements: the signing authority, the timestamp authority and the service.

The ``esign`` package renders, certifies, signs and seals; this module adapts it to the
service's :class:`~hearing_server.service.agreements.AgreementDocuments` port. pyHanko's work is
CPU-bound, so each step runs in ``esign``'s signing worker, a child process that dies with the
server: the event loop (media, signaling) keeps turning while a party's signature is applied.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from aiohttp import web

from esign import (
    AgreementDocument,
    AuthorityConfig,
    ConfirmationApplication,
    EsignError,
    Party,
    Payment,
    Signer,
    SigningStateError,
    SigningWorker,
    TimeStampResponder,
    TokenKey,
    party_field,
    render_confirmation,
)
from hearing_server import keys
from hearing_server.config import Settings
from hearing_server.core.agreement import Agreement, AgreementVersion
from hearing_server.core.errors import Conflict, ValidationError
from hearing_server.service.agreements import AgreementFiles, AgreementService, SignerInfo

_SIDES_ZH = {
    "plaintiff": "原告",
    "defendant": "被告",
    "applicant": "申请人",
    "respondent": "被申请人",
    "third_party": "第三人",
}
_SIDES_EN = {
    "plaintiff": "Plaintiff",
    "defendant": "Defendant",
    "applicant": "Applicant",
    "respondent": "Respondent",
    "third_party": "Third party",
}


def _domain_error(exc: EsignError) -> Exception:
    if isinstance(exc, SigningStateError):
        return Conflict(str(exc.args[0]), code=exc.code)
    return ValidationError(str(exc.args[0]), code=exc.code)


class EsignDocuments:
    """:class:`AgreementDocuments` on the ``esign`` package's signing worker (a child process)."""

    def __init__(
        self,
        worker: SigningWorker,
        *,
        organisation: str,
        timezone: tzinfo | None = None,
    ) -> None:
        self._worker = worker
        self._organisation = organisation
        # The visible signature shows the court's wall time (Beijing time for a Chinese
        # court), not UTC.
        self._tz = timezone

    def document(self, agreement: Agreement, version: AgreementVersion) -> AgreementDocument:
        """The ``esign`` document of ``version`` of ``agreement``."""
        content = version.content
        sides = _SIDES_ZH if content.language == "zh-CN" else _SIDES_EN
        payment = content.payment
        return AgreementDocument(
            case_number=agreement.case.get("case_number", ""),
            organisation=self._organisation,
            # The document is the agreement; the case is named by its number on every page.
            title="调解协议书" if content.language == "zh-CN" else "Mediation Agreement",
            language=content.language,  # type: ignore[arg-type]
            parties=tuple(
                Party(
                    name=p.name,
                    # Every party is registered before a proposal (the service checks).
                    masked_id=p.masked_id or "****",
                    role=sides.get(p.side, p.side),
                )
                for p in agreement.parties
            ),
            mediator=agreement.case.get("mediator", ""),
            recitals=content.recitals,
            terms=content.terms,
            costs=content.costs,
            date=content.agreed_on,
            payment=None
            if payment is None
            else Payment(
                amount=f"{payment.amount:.2f}",
                currency=payment.currency,
                schedule=payment.schedule,
                method=payment.method,
            ),
        )

    async def render(
        self, agreement: Agreement, version: AgreementVersion
    ) -> tuple[bytes, dict[str, str]]:
        try:
            pdf = await self._worker.certify(self.document(agreement, version))
        except EsignError as exc:
            raise _domain_error(exc) from exc
        fields = {p.participant_id: party_field(i) for i, p in enumerate(agreement.parties)}
        return pdf, fields

    async def sign(self, pdf: bytes, signer: SignerInfo, drawn_png: bytes) -> bytes:
        # The certificate's serialNumber is a PrintableString: no "_" nor anything non-ASCII.
        ref = re.sub(r"[^A-Za-z0-9:.-]", "-", signer.identity_ref)[:64]
        try:
            return await self._worker.sign(
                pdf,
                party_field(signer.party_index),
                Signer(signer.name, signer.masked_id or "****", ref),
                drawn_png,
                datetime.now(UTC).astimezone(self._tz),
            )
        except EsignError as exc:
            raise _domain_error(exc) from exc

    async def confirmation(self, agreement: Agreement, version: AgreementVersion) -> bytes:
        content = version.content
        sides = _SIDES_ZH if content.language == "zh-CN" else _SIDES_EN
        application = ConfirmationApplication(
            language=content.language,  # type: ignore[arg-type]
            court=agreement.case.get("court", ""),
            case_number=agreement.case.get("case_number", ""),
            organisation=self._organisation,
            mediator=agreement.case.get("mediator", ""),
            dispute=agreement.case.get("title", ""),
            agreed_on=content.agreed_on,
            sealed_at=(agreement.sealed_at or datetime.now(UTC)).astimezone(self._tz),
            agreement_sha256=agreement.pdf_sha256 or "",
            applicants=tuple(
                Party(name=p.name, masked_id=p.masked_id or "****", role=sides.get(p.side, p.side))
                for p in agreement.parties
            ),
        )
        try:
            # A page of text: quick enough for a thread (tens of ms), unlike the signatures.
            return await asyncio.to_thread(render_confirmation, application)
        except EsignError as exc:
            raise _domain_error(exc) from exc

    async def seal(self, pdf: bytes) -> bytes:
        try:
            return await self._worker.seal(pdf, self._organisation)
        except EsignError as exc:
            raise _domain_error(exc) from exc


def _token(settings: Settings) -> TokenKey | None:
    """The PKCS#11 token holding the seal key, if the settings name one (all or none: the
    settings loader checks)."""
    if (
        settings.signing_pkcs11_module is None
        or settings.signing_pkcs11_token is None
        or settings.signing_pkcs11_key is None
    ):
        return None
    return TokenKey(
        module=settings.signing_pkcs11_module,
        token_label=settings.signing_pkcs11_token,
        key_label=settings.signing_pkcs11_key,
        pin=settings.signing_pkcs11_pin,
        pin_file=settings.signing_pkcs11_pin_file,
    )


def install_agreements(app: web.Application) -> None:
    """The signing authority (created on first run), the timestamp responder the server
    answers RFC 3161 requests with, and the agreement service."""
    settings = app[keys.SETTINGS]
    config = AuthorityConfig(
        settings.effective_signing_dir,
        organisation=settings.agreement_organisation,
        ca_cert_file=settings.signing_ca_cert_path,
        ca_key_file=settings.signing_ca_key_path,
        timestamp_url=settings.timestamp_url or None,
        org_token=_token(settings),
    )
    # Loaded here too, for the TSA this server answers with; the worker loads its own copy.
    authority = config.load()
    worker = SigningWorker(config)
    documents = EsignDocuments(
        worker,
        organisation=settings.agreement_organisation,
        timezone=ZoneInfo(settings.court_timezone) if settings.court_timezone else None,
    )
    app[keys.TIMESTAMPS] = TimeStampResponder.from_authority(authority)
    app[keys.SIGNING_WORKER] = worker  # electronic service seals its receipts with it too
    app[keys.AGREEMENTS] = AgreementService(
        app[keys.HEARINGS],
        app[keys.IDENTITY],
        documents,
        AgreementFiles(settings.data_dir / "agreements"),
    )

    async def signing_worker(_: web.Application) -> AsyncIterator[None]:
        yield
        await worker.close()

    app.cleanup_ctx.append(signing_worker)
