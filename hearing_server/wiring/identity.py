"""Identity checks: the message sender the settings name, the keyed hasher, the service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

from aiohttp import web

from hearing_server import keys
from hearing_server.auth.keys import load_or_create_secret
from hearing_server.config import Settings
from hearing_server.service.identity import CodeRecipient, IdentityService
from identitykit import KeyedHasher
from messaging import (
    HttpSender,
    MessageSender,
    OutboxSender,
    RetryingSender,
    SmtpSecurity,
    SmtpSender,
)


def build_channel_sender(settings: Settings) -> MessageSender:
    """The sender ``message_sender`` names, trying each message once."""
    if settings.message_sender == "smtp":
        return SmtpSender(
            host=settings.message_smtp_host,
            port=settings.message_smtp_port,
            sender=settings.message_smtp_from,
            username=settings.message_smtp_username,
            password=settings.message_smtp_password,
            security=SmtpSecurity(settings.message_smtp_security),
            timeout_s=settings.message_timeout_seconds,
        )
    if settings.message_sender == "http":
        return HttpSender(
            url=settings.message_http_url,
            body_template=settings.message_http_body_template,
            auth_header=settings.message_http_auth_header,
            timeout_s=settings.message_timeout_seconds,
        )
    return OutboxSender(settings.effective_outbox_dir)


def build_sender(settings: Settings) -> MessageSender:
    """The sender ``message_sender`` names, retried ``message_send_attempts`` times (for
    messages someone is waiting for, such as one-time codes)."""
    return RetryingSender(
        build_channel_sender(settings),
        attempts=settings.message_send_attempts,
        backoff_s=settings.message_retry_seconds,
    )


def install_identity(app: web.Application) -> None:
    """The identity service on the foundation's gate, store and bus; closes its sender."""
    settings = app[keys.SETTINGS]
    secret = load_or_create_secret(settings.effective_identity_key_path)
    sender = build_sender(settings)
    service = IdentityService(
        app[keys.HEARINGS],
        app[keys.LIVE],
        app[keys.IDENTITY_GATE],
        sender,
        KeyedHasher(secret.encode("ascii")),
        code_recipient=cast(CodeRecipient, settings.effective_code_recipient),
    )
    app[keys.IDENTITY] = service

    async def sender_open(_: web.Application) -> AsyncIterator[None]:
        yield
        await sender.close()

    app.cleanup_ctx.append(sender_open)
