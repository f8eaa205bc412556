"""Electronic service: the serving service on the job queue, with one sender per channel.

SMS go to the SMS gateway when ``message_http_url`` is set, e-mail to the SMTP server when
``message_smtp_host`` is set; a channel without its server writes to the outbox, so a court
can read the messages out (and tests and the demo see them).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web

from esign import ServiceReceipt, SigningWorker
from hearing_server import keys
from hearing_server.auth.keys import load_or_create_secret
from hearing_server.config import Settings
from hearing_server.core.serving import Channel
from hearing_server.service.served_files import ServedFiles
from hearing_server.service.serving import ServingService
from hearing_server.service.serving_links import TrackingLinks
from hearing_server.service.serving_notices import ServedNotices
from hearing_server.service.serving_records import ServedRecords
from messaging import HttpSender, MessageSender, OutboxSender, SmtpSecurity, SmtpSender


def build_channel_senders(settings: Settings) -> dict[Channel, MessageSender]:
    """The SMS and e-mail senders, each trying a message once (the job queue retries)."""
    sms: MessageSender = OutboxSender(settings.effective_outbox_dir)
    email: MessageSender = sms
    if settings.message_http_url:
        sms = HttpSender(
            url=settings.message_http_url,
            body_template=settings.message_http_body_template,
            auth_header=settings.message_http_auth_header,
            timeout_s=settings.message_timeout_seconds,
        )
    if settings.message_smtp_host and settings.message_smtp_from:
        email = SmtpSender(
            host=settings.message_smtp_host,
            port=settings.message_smtp_port,
            sender=settings.message_smtp_from,
            username=settings.message_smtp_username,
            password=settings.message_smtp_password,
            security=SmtpSecurity(settings.message_smtp_security),
            timeout_s=settings.message_timeout_seconds,
        )
    return {Channel.SMS: sms, Channel.EMAIL: email}


class EsignReceipts:
    """The service receipt, rendered and sealed in the signing worker's child process."""

    def __init__(self, worker: SigningWorker, organisation: str | None) -> None:
        self._worker = worker
        self._organisation = organisation

    async def print_receipt(
        self,
        *,
        court: str,
        case_number: str,
        document_title: str,
        document_sha256: str,
        recipient: str,
        rows: tuple[tuple[str, str], ...],
        issued_at: str,
    ) -> bytes:
        receipt = ServiceReceipt(
            court, case_number, document_title, document_sha256, recipient, rows, issued_at
        )
        return await self._worker.seal_receipt(receipt, self._organisation)


def install_serving(app: web.Application) -> None:
    """``keys.SERVING`` and ``keys.SERVED_RECORDS``; registers its job kinds on the runner.
    Installed after the jobs and the agreements (whose signing worker seals the receipts and
    whose signed PDFs may be served)."""
    settings = app[keys.SETTINGS]
    senders = build_channel_senders(settings)
    secret = load_or_create_secret(settings.effective_serving_key_path)
    links = TrackingLinks(secret.encode("ascii"), settings.effective_public_url)
    notices = ServedNotices(
        app[keys.HEARINGS],
        app[keys.JOBS],
        senders,
        links,
        court_time_zone=settings.effective_court_timezone,
    )
    service = ServingService(
        app[keys.HEARINGS],
        app[keys.JOBS],
        ServedFiles(settings.data_dir / "served"),
        senders,
        links,
        notices,
        court_time_zone=settings.effective_court_timezone,
        link_ttl=timedelta(days=settings.serving_link_days),
        follow_up_after=timedelta(days=settings.serving_follow_up_days),
        max_document_bytes=settings.serving_max_document_bytes,
        callback_secret=settings.serving_callback_secret,
        receipts=EsignReceipts(app[keys.SIGNING_WORKER], None),
    )
    app[keys.SERVING] = service
    app[keys.SERVED_RECORDS] = ServedRecords(
        app[keys.HEARINGS], service, app[keys.AGREEMENTS], app[keys.TRANSCRIPTS]
    )
    app[keys.EVENTS].subscribe(notices.on_service_event)

    async def close_senders(_: web.Application) -> AsyncIterator[None]:
        yield
        # The runner stops first (idempotent; the jobs feature would stop it after this):
        # a serving job still in flight must not meet a closed sender.
        await app[keys.JOBS].close(grace=settings.shutdown_grace_seconds / 2)
        for sender in {id(s): s for s in senders.values()}.values():
            await sender.close()

    app.cleanup_ctx.append(close_senders)
