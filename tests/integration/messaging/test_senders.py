"""The message senders against real servers the test starts on 127.0.0.1: an SMTP server
(aiosmtpd) and a small SMS gateway (aiohttp). Then both behind the hearing server: the
one-time code goes out by e-mail and by the gateway, and a failing gateway is shown to the
participant and the clerk, retried, and recorded, never swallowed."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from email import message_from_bytes
from email.message import Message as EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from hearing_server.app import create_app
from hearing_server.config import ConfigError, Settings, load_settings
from hearing_server.core.identity import IdType
from hearing_server.core.participant import Role
from hearing_server.keys import IDENTITY, STORE
from messaging import (
    HttpSender,
    Message,
    OutboxSender,
    RetryingSender,
    SendError,
    SmtpSecurity,
    SmtpSender,
    read_outbox,
)
from signaling.client import HearingClient
from support.hearing import STAFF
from support.identity import ZHANG_ID, ZHANG_PHONE, Me, code_in, identity_hearing

MESSAGE = Message("13800138000", "身份核验码", 'code 123456 "quoted"\nsecond line')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- an SMTP server ---------------------------------------------------------------------------


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

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        assert isinstance(envelope.content, bytes)
        self.mails.append((envelope, message_from_bytes(envelope.content, policy=default)))
        return "250 Message accepted"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def smtp_sender(port: int, **kw: Any) -> SmtpSender:
    return SmtpSender(
        host="127.0.0.1",
        port=port,
        sender="court@hearings.example",
        security=SmtpSecurity.NONE,
        timeout_s=5,
        **kw,
    )


async def test_smtp_delivers_a_plain_text_mail(smtp_server: tuple[Mailbox, int]) -> None:
    box, port = smtp_server
    receipt = await smtp_sender(port).send(replace(MESSAGE, recipient="zhang@example.com"))
    assert receipt.sender == "smtp" and receipt.reference.startswith("<")
    (envelope, mail) = box.mails[0]
    # The subject travels RFC 2047-encoded; decoded, it is the original.
    assert envelope.rcpt_tos == ["zhang@example.com"]
    assert envelope.mail_from == "court@hearings.example"
    assert mail["Subject"] == "身份核验码"
    body = mail.get_payload(decode=True)
    assert isinstance(body, bytes)
    assert 'code 123456 "quoted"\nsecond line' in body.decode().replace("\r\n", "\n")


async def test_smtp_failures_are_raised_and_refusals_not_retried(
    smtp_server: tuple[Mailbox, int],
) -> None:
    _, port = smtp_server
    slept: list[float] = []

    async def no_wait(s: float) -> None:
        slept.append(s)

    sender = RetryingSender(smtp_sender(port), attempts=3, backoff_s=0.5, sleep=no_wait)
    with pytest.raises(SendError) as err:
        await sender.send(replace(MESSAGE, recipient="nobody@refused.example"))
    assert not err.value.retryable and err.value.attempts == 1 and slept == []
    with pytest.raises(SendError) as err:
        await sender.send(replace(MESSAGE, recipient="not an address"))
    assert not err.value.retryable
    # Nobody listening: retried with backoff, then raised.
    down = RetryingSender(smtp_sender(_free_port()), attempts=3, backoff_s=0.5, sleep=no_wait)
    with pytest.raises(SendError) as err:
        await down.send(replace(MESSAGE, recipient="zhang@example.com"))
    assert err.value.retryable and err.value.attempts == 3 and slept == [0.5, 1.0]


# -- an SMS gateway ---------------------------------------------------------------------------


@dataclass
class Gateway:
    """A small SMS gateway: records each request; answers ``statuses`` in turn, then 200."""

    requests: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.json()))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.json_response({"id": f"sms-{len(self.requests)}"}, status=status)


@pytest.fixture
async def gateway(aiohttp_server: Any) -> AsyncIterator[tuple[Gateway, str]]:
    gw = Gateway()
    app = web.Application()
    app.router.add_post("/sms/send", gw.handle)
    server = await aiohttp_server(app, host="127.0.0.1")
    yield gw, f"http://127.0.0.1:{server.port}/sms/send"


TEMPLATE = json.dumps(
    {"to": "{recipient}", "sign": "法院", "body": {"content": "{subject}: {text}"}, "n": 1}
)


async def test_http_gateway_gets_the_rendered_template_and_the_auth_header(
    gateway: tuple[Gateway, str],
) -> None:
    gw, url = gateway
    sender = HttpSender(url=url, body_template=TEMPLATE, auth_header="X-Api-Key: s3cret")
    try:
        receipt = await sender.send(MESSAGE)
    finally:
        await sender.close()
    assert receipt.sender == "http" and "sms-1" in receipt.reference
    headers, body = gw.requests[0]
    assert headers["X-Api-Key"] == "s3cret"
    # Quotes and newlines in the text stay inside their JSON string.
    assert body == {
        "to": "13800138000",
        "sign": "法院",
        "body": {"content": '身份核验码: code 123456 "quoted"\nsecond line'},
        "n": 1,
    }


async def test_a_keyed_message_names_itself_to_the_gateway_and_in_its_message_id(
    gateway: tuple[Gateway, str], smtp_server: tuple[Mailbox, int]
) -> None:
    gw, url = gateway
    keyed = replace(MESSAGE, key="job-0123abcd")
    sender = HttpSender(url=url, body_template='{"to": "{recipient}", "ref": "{key}"}')
    try:
        await sender.send(keyed)
        await sender.send(MESSAGE)
    finally:
        await sender.close()
    (headers, body), (plain_headers, plain_body) = gw.requests
    assert headers["Idempotency-Key"] == "job-0123abcd" and body["ref"] == "job-0123abcd"
    assert "Idempotency-Key" not in plain_headers and plain_body["ref"] == ""
    box, port = smtp_server
    receipt = await smtp_sender(port).send(replace(keyed, recipient="zhang@example.com"))
    assert receipt.reference == "<job-0123abcd@hearings.example>"
    assert box.mails[0][1]["Message-ID"] == "<job-0123abcd@hearings.example>"


async def test_http_gateway_errors_are_retried_or_not(gateway: tuple[Gateway, str]) -> None:
    gw, url = gateway

    async def no_wait(_: float) -> None:
        return None

    sender = RetryingSender(
        HttpSender(url=url, body_template=TEMPLATE), attempts=3, backoff_s=0.1, sleep=no_wait
    )
    try:
        gw.statuses = [503, 502]
        receipt = await sender.send(MESSAGE)
        assert receipt.attempts == 3 and len(gw.requests) == 3
        gw.statuses = [500, 500, 500]
        with pytest.raises(SendError) as err:
            await sender.send(MESSAGE)
        assert err.value.attempts == 3 and "500" in err.value.message
        gw.statuses = [400]
        with pytest.raises(SendError) as err:
            await sender.send(MESSAGE)
        assert err.value.attempts == 1 and not err.value.retryable
    finally:
        await sender.close()
    unreachable = HttpSender(url=f"http://127.0.0.1:{_free_port()}/x", body_template=TEMPLATE)
    try:
        with pytest.raises(SendError) as err:
            await unreachable.send(MESSAGE)
        assert err.value.retryable
    finally:
        await unreachable.close()


def test_bad_sender_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        HttpSender(url="ftp://x", body_template=TEMPLATE)
    with pytest.raises(ValueError):
        HttpSender(url="http://x", body_template="{not json")
    with pytest.raises(ValueError):
        HttpSender(url="http://x", body_template=TEMPLATE, auth_header="no colon")
    env = {"HEARING_DATA_DIR": str(tmp_path)}
    with pytest.raises(ConfigError):
        load_settings(env={**env, "HEARING_MESSAGE_SENDER": "pigeon"})
    with pytest.raises(ConfigError):
        load_settings(env={**env, "HEARING_MESSAGE_SENDER": "smtp"})
    with pytest.raises(ConfigError):
        load_settings(env={**env, "HEARING_MESSAGE_SENDER": "http"})
    with pytest.raises(ConfigError):
        load_settings(env={**env, "HEARING_IDENTITY_DEFAULT_POLICY": "strict"})
    ok = load_settings(
        env={
            **env,
            "HEARING_MESSAGE_SENDER": "smtp",
            "HEARING_MESSAGE_SMTP_HOST": "mail.court.example",
            "HEARING_MESSAGE_SMTP_FROM": "court@court.example",
            "HEARING_MESSAGE_SMTP_PORT": "2525",
        }
    )
    assert ok.message_smtp_port == 2525 and ok.effective_code_recipient == "email"


async def test_the_outbox_keeps_messages_owner_only_newest_first(tmp_path: Path) -> None:
    sender = OutboxSender(tmp_path / "outbox")
    await sender.send(replace(MESSAGE, recipient="first"))
    await sender.send(replace(MESSAGE, recipient="second"))
    entries = read_outbox(tmp_path / "outbox")
    assert [e.recipient for e in entries] == ["second", "first"]
    assert entries[0].text == MESSAGE.text
    assert (tmp_path / "outbox").stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in (tmp_path / "outbox").iterdir())
    (tmp_path / "outbox" / "broken.json").write_text("{")
    assert len(read_outbox(tmp_path / "outbox")) == 2
    assert read_outbox(tmp_path / "missing") == []


# -- behind the hearing server ---------------------------------------------------------------------

PEOPLE = [(Role.CLERK, "赵书记员"), (Role.PARTY, "张三")]


async def _server(aiohttp_server: Any, settings: Settings) -> TestServer:
    server: TestServer = await aiohttp_server(create_app(settings), host="127.0.0.1")
    return server


async def test_the_code_goes_out_by_e_mail(
    aiohttp_server: Any, settings: Settings, smtp_server: tuple[Mailbox, int]
) -> None:
    box, port = smtp_server
    server = await _server(
        aiohttp_server,
        replace(
            settings,
            message_sender="smtp",
            message_smtp_host="127.0.0.1",
            message_smtp_port=port,
            message_smtp_security="none",
            message_smtp_from="court@hearings.example",
        ),
    )
    h = await identity_hearing(server.app, PEOPLE, register={})
    await server.app[IDENTITY].register(
        STAFF,
        h.people["张三"].id,
        legal_name="张三",
        id_type=IdType.RESIDENT_ID,
        id_number=ZHANG_ID,
        phone=ZHANG_PHONE,
        email="zhang@example.com",
    )
    async with aiohttp.ClientSession() as http:
        mine = Me(http, f"http://127.0.0.1:{server.port}", h.people["张三"].token)
        assert (await mine.id_number("张三", ZHANG_ID))[0] == 200
        status, body = await mine.send_code()
        assert status == 200, body
        envelope, mail = box.mails[-1]
        assert envelope.rcpt_tos == ["zhang@example.com"]
        text = mail.get_payload(decode=True)
        assert isinstance(text, bytes)
        status, body = await mine.code(code_in(text.decode()))
        assert body["identity"]["outcome"] == "passed"


async def test_a_failing_gateway_is_shown_retried_and_recorded(
    aiohttp_server: Any, settings: Settings, gateway: tuple[Gateway, str]
) -> None:
    gw, url = gateway
    server = await _server(
        aiohttp_server,
        replace(
            settings,
            message_sender="http",
            message_http_url=url,
            message_http_body_template=TEMPLATE,
            message_http_auth_header="Authorization: Bearer gw-token",
            message_send_attempts=3,
            message_retry_seconds=0.05,
        ),
    )
    h = await identity_hearing(server.app, PEOPLE, register={"张三": (ZHANG_ID, ZHANG_PHONE)})
    clerk = HearingClient(f"http://127.0.0.1:{server.port}", h.people["赵书记员"].token)
    await clerk.connect()
    await clerk.join()
    try:
        async with aiohttp.ClientSession() as http:
            mine = Me(http, f"http://127.0.0.1:{server.port}", h.people["张三"].token)
            assert (await mine.id_number("张三", ZHANG_ID))[0] == 200
            gw.statuses = [503, 503, 503]
            status, body = await mine.send_code()
            assert (status, body["code"]) == (502, "send_failed")
            assert "503" in body["message"]
            assert len(gw.requests) == 3  # tried three times
            alert = await clerk.wait_for_event(
                "identity_alert", lambda a: a["kind"] == "send_failed"
            )
            assert "503" in alert["message"]
            entries = await server.app[STORE].list_audit(h.hearing_id)
            failed = [e for e in entries if e.event == "identity_code_send_failed"]
            assert failed and failed[0].data["attempts"] == 3
            # No code went out, so no cooldown: ask again once the gateway is back.
            status, body = await mine.send_code()
            assert status == 200, body
            headers, sms = gw.requests[-1]
            assert headers["Authorization"] == "Bearer gw-token"
            assert sms["to"] == ZHANG_PHONE
            status, body = await mine.code(code_in(sms["body"]["content"]))
            assert body["identity"]["outcome"] == "passed"
            sent = [e for e in await server.app[STORE].list_audit(h.hearing_id)
                    if e.event == "identity_code_sent"]  # fmt: skip
            assert sent[0].data == {
                "participant_id": h.people["张三"].id,
                "sender": "http",
                "attempts": 1,
                "to": "phone",
            }
    finally:
        await clerk.close()
