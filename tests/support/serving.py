"""What electronic service tests share: a real SMTP server (aiosmtpd), an SMS gateway that
fails on demand and signs its delivery reports, a PDF to serve, and an app wired to them."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email import message_from_bytes
from email.message import Message as EmailMessage
from email.policy import default
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from hearing_server.config import Settings

CALLBACK_SECRET = "gateway-callback-secret-0123456789"
LINK = re.compile(r"https?://[^\s]+/s/[A-Za-z0-9_-]+")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    """aiosmtpd handler: keeps what it accepts; refuses recipients at refused.example."""

    def __init__(self) -> None:
        self.mails: list[tuple[Envelope, EmailMessage]] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.endswith("@refused.example"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.mails.append((envelope, message_from_bytes(envelope.content, policy=default)))
        return "250 Message accepted"

    def body_to(self, address: str) -> str:
        for envelope, mail in self.mails:
            if address in envelope.rcpt_tos:
                part = mail.get_body(("plain",))
                assert part is not None
                return str(part.get_content())
        raise AssertionError(f"no mail to {address}")


def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@dataclass
class SmsGateway:
    """An SMS gateway: fails the next ``fail_next`` requests with 503, records each message
    once by its key (a repeat with a known key is answered, not delivered again), and can
    report delivery to the server's callback URL, signed."""

    posts: list[str] = field(default_factory=list)
    delivered: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_next: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        key = request.headers.get("Idempotency-Key", "")
        body = await request.json()
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.json_response({"error": "busy"}, status=503)
        self.posts.append(key)
        self.delivered.setdefault(key, body)
        return web.json_response({"id": f"sms-{len(self.posts)}"})

    def text_to(self, phone: str) -> str:
        for body in self.delivered.values():
            if body["to"] == phone:
                return str(body["text"])
        raise AssertionError(f"no SMS to {phone}")


def signed_report(
    key: str, status: str, *, secret: str = CALLBACK_SECRET
) -> tuple[bytes, dict[str, str]]:
    """A gateway's delivery report for the message ``key``: body and headers, signed."""
    raw = json.dumps({"key": key, "status": status, "reason": "handset off"}).encode()
    mac = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"X-Signature": f"sha256={mac}", "Content-Type": "application/json"}


async def start_gateway(gw: SmsGateway) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/sms", gw.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/sms"


def serving_settings(settings: Settings, *, gateway_url: str, smtp_port: int) -> Settings:
    """``settings`` sending SMS to the gateway and e-mail to the SMTP server, retrying fast."""
    return replace(
        settings,
        message_http_url=gateway_url,
        message_http_body_template='{"to": "{recipient}", "text": "{text}", "ref": "{key}"}',
        message_smtp_host="127.0.0.1",
        message_smtp_port=smtp_port,
        message_smtp_from="court@hearings.example",
        message_smtp_security="none",
        serving_callback_secret=CALLBACK_SECRET,
        jobs_retry_seconds=0.1,
        jobs_poll_seconds=0.2,
    )


def summons_pdf(text: str = "Summons (2026) 12345") -> bytes:
    """A small real PDF."""
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    pdf.drawString(72, 760, text)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def link_in(text: str) -> str:
    match = LINK.search(text)
    assert match is not None, text
    return match.group(0)

