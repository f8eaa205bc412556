"""E-mail through an SMTP server (stdlib smtplib, run in a thread)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from enum import StrEnum

from .base import Message, Receipt, SendError


class SmtpSecurity(StrEnum):
    """How the connection is protected: STARTTLS upgrade, TLS from the start, or none (only
    for a relay on the same host)."""

    STARTTLS = "starttls"
    TLS = "tls"
    NONE = "none"


class SmtpSender:
    """Sends each message as a plain-text e-mail from ``sender``."""

    name = "smtp"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        security: SmtpSecurity = SmtpSecurity.STARTTLS,
        timeout_s: float = 10.0,
    ) -> None:
        if not host or not sender:
            raise ValueError("the SMTP sender needs a host and a From address")
        self._host = host
        self._port = port
        self._from = sender
        self._username = username
        self._password = password
        self._security = security
        self._timeout_s = timeout_s

    async def send(self, message: Message) -> Receipt:
        if "@" not in message.recipient:
            raise SendError(f"{message.recipient!r} is not an e-mail address", retryable=False)
        mail = EmailMessage()
        mail["From"] = self._from
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        domain = self._from.rpartition("@")[2] or None
        # A repeat of a keyed message carries the same Message-ID, which mail readers use to
        # show it once.
        mail["Message-ID"] = (
            f"<{message.key}@{domain or 'localhost'}>" if message.key else make_msgid(domain=domain)
        )
        mail.set_content(message.text)
        try:
            await asyncio.to_thread(self._deliver, mail)
        except smtplib.SMTPRecipientsRefused as exc:
            raise SendError(
                f"the SMTP server refused the recipient: {exc}", retryable=False
            ) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(f"SMTP authentication failed: {exc}", retryable=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(f"SMTP {self._host}:{self._port}: {exc}") from exc
        return Receipt(self.name, str(mail["Message-ID"]))

    def _deliver(self, mail: EmailMessage) -> None:
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if self._security is SmtpSecurity.TLS:
            client = smtplib.SMTP_SSL(
                self._host, self._port, timeout=self._timeout_s, context=context
            )
        else:
            client = smtplib.SMTP(self._host, self._port, timeout=self._timeout_s)
        with client:
            if self._security is SmtpSecurity.STARTTLS:
                client.starttls(context=context)
            if self._username:
                client.login(self._username, self._password or "")
            client.send_message(mail)

    async def close(self) -> None:
        return None
