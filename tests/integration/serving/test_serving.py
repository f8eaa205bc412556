"""Electronic service through a real app: a summons served by SMS (an HTTP gateway the test
runs, failing at first) and e-mail (aiosmtpd), followed through the gateway's signed
delivery report, the recipient's tracking link opened and confirmed, the follow-up list and
service by phone; every step in the audit log; bad input refused with nothing lost."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient

from hearing_server import keys
from hearing_server.app import create_app
from hearing_server.config import Settings
from support.api import create_hearing
from support.serving import (
    Mailbox,
    SmsGateway,
    link_in,
    serving_settings,
    signed_report,
    smtp_server,
    start_gateway,
    summons_pdf,
)
from support.waiting import wait_until


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    yield from smtp_server()


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[SmsGateway, str]]:
    gw = SmsGateway()
    runner, url = await start_gateway(gw)
    yield gw, url
    await runner.cleanup()


@pytest.fixture
async def client(
    aiohttp_client: Any,
    settings: Settings,
    mailbox: tuple[Mailbox, int],
    gateway: tuple[SmsGateway, str],
) -> TestClient:
    s = serving_settings(settings, gateway_url=gateway[1], smtp_port=mailbox[1])
    return await aiohttp_client(create_app(s))


def path_of(link: str) -> str:
    return urlsplit(link).path


async def upload(client: TestClient, headers: dict[str, str], hid: str, data: bytes) -> Any:
    return await client.post(
        f"/api/hearings/{hid}/documents?kind=summons&title=传票",
        data=data,
        headers={**headers, "Content-Type": "application/pdf"},
    )


async def test_a_summons_served_by_sms_and_email_is_followed_to_confirmation(
    client: TestClient,
    admin_headers: dict[str, str],
    mailbox: tuple[Mailbox, int],
    gateway: tuple[SmsGateway, str],
    settings: Settings,
) -> None:
    box, gw = mailbox[0], gateway[0]
    hearing = await create_hearing(client, admin_headers)
    hid = hearing["id"]
    pdf = summons_pdf()
    resp = await upload(client, admin_headers, hid, pdf)
    assert resp.status == 201, await resp.text()
    doc = await resp.json()
    assert doc["size"] == len(pdf) and doc["kind"] == "summons"

    # The gateway is down for the first two requests: retried, each message delivered once.
    gw.fail_next = 2
    recipients = [
        {"name": "张三", "phone": "+86 138-0013-8000", "email": "zhang@example.cn"},
        {"name": "李四", "email": "li@refused.example"},
    ]
    resp = await client.post(
        f"/api/hearings/{hid}/documents/{doc['id']}/service",
        json={"recipients": recipients},
        headers=admin_headers,
    )
    assert resp.status == 201, await resp.text()
    deliveries = {(d["recipient"], d["channel"]): d for d in (await resp.json())["deliveries"]}
    assert set(deliveries) == {("张三", "sms"), ("张三", "email"), ("李四", "email")}
    assert deliveries[("张三", "sms")]["address"] == "13800138000"
    assert all(d["status"] == "queued" for d in deliveries.values())
    assert await client.app[keys.JOBS].drain(30.0, horizon_s=60)

    sms_id = deliveries[("张三", "sms")]["id"]
    # The drain can end between a refused attempt and its retry being planned (seen once in
    # a full run): wait for the delivery itself, then check it happened once.
    await wait_until(lambda: bool(gw.posts), 30, "the SMS after two refusals")
    await client.app[keys.JOBS].drain(30.0, horizon_s=60)
    assert gw.posts == [sms_id]  # once, after two refusals
    sms = gw.text_to("13800138000")
    assert "传票" in sms and "(2026)京0105民初12345号" in sms and "Asia/Shanghai" in sms
    email = box.body_to("zhang@example.cn")
    sms_link, email_link = link_in(sms), link_in(email)
    assert sms_link != email_link  # one link per recipient and channel
    status = await (await client.get(f"/api/hearings/{hid}/service", headers=admin_headers)).json()
    by_id = {d["id"]: d for d in status["documents"][0]["deliveries"]}
    assert by_id[sms_id]["status"] == "sent"
    li = by_id[deliveries[("李四", "email")]["id"]]
    assert li["status"] == "failed" and "refused" in li["failure"]
    assert li["follow_up"]

    # The gateway's report: signed, it counts; a wrong signature changes nothing.
    raw, headers = signed_report(sms_id, "delivered", secret="not-the-secret")
    assert (await client.post("/api/service/callbacks", data=raw, headers=headers)).status == 401
    resp = await client.post("/api/service/callbacks", data=raw)
    assert resp.status == 401
    raw, headers = signed_report("dl-nobody", "delivered")
    assert (await client.post("/api/service/callbacks", data=raw, headers=headers)).status == 404
    raw, headers = signed_report(sms_id, "bogus")
    assert (await client.post("/api/service/callbacks", data=raw, headers=headers)).status == 422
    raw, headers = signed_report(sms_id, "delivered")
    resp = await client.post("/api/service/callbacks", data=raw, headers=headers)
    assert (resp.status, (await resp.json())["status"]) == (200, "delivered")

    # The recipient opens the link, reads the document, confirms.
    page = await client.get(path_of(sms_link), headers={"Accept-Language": "en-GB"})
    text = await page.text()
    assert page.status == 200 and "I confirm receipt" in text and doc["sha256"] in text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "script-src" not in page.headers["Content-Security-Policy"]
    zh = await (await client.get(path_of(sms_link))).text()
    assert "我确认已收到" in zh
    got = await client.get(path_of(sms_link) + "/document")
    assert got.content_type == "application/pdf" and await got.read() == pdf
    resp = await client.post(path_of(sms_link) + "/confirm?lang=en", allow_redirects=False)
    assert resp.status == 303
    confirmed = await (await client.get(path_of(sms_link) + "?lang=en")).text()
    assert "You have confirmed receipt" in confirmed and "Asia/Shanghai" in confirmed
    # A late failure report cannot undo a confirmation.
    raw, headers = signed_report(sms_id, "failed")
    resp = await client.post("/api/service/callbacks", data=raw, headers=headers)
    assert (await resp.json())["status"] == "confirmed"

    # Forged, mangled and expired links: clear errors.
    forged = path_of(sms_link)[:-4] + "AAAA"
    assert (await client.get(forged)).status == 404
    assert (await client.get("/s/short")).status == 404
    assert (await client.post(forged + "/confirm")).status == 404
    with sqlite3.connect(settings.effective_database_path) as db:
        past = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
        db.execute("UPDATE deliveries SET expires_at = ?", (past,))
    expired = await client.get(path_of(email_link) + "?lang=en")
    assert expired.status == 410 and "has expired" in await expired.text()
    assert (await client.get(path_of(email_link) + "/document")).status == 410

    # The follow-up list: 李四's failed e-mail and 张三's unopened one are on it, until the
    # clerk serves 李四 by phone (张三 confirmed through the SMS, so his e-mail is not).
    follow = await (await client.get("/api/service/follow-up", headers=admin_headers)).json()
    assert [(d["recipient"], d["channel"]) for d in follow["deliveries"]] == [("李四", "email")]
    manual = f"/api/hearings/{hid}/documents/{doc['id']}/manual-service"
    for bad in (
        {"recipient": "李四", "channel": "sms", "note": "x"},
        {"recipient": "李四", "channel": "phone", "note": ""},
        {"recipient": "李四", "channel": "phone"},
    ):
        assert (await client.post(manual, json=bad, headers=admin_headers)).status == 422
    resp = await client.post(
        manual,
        json={"recipient": "李四", "channel": "phone", "note": "电话告知开庭时间 本人确认"},
        headers=admin_headers,
    )
    assert resp.status == 201 and (await resp.json())["status"] == "confirmed"
    follow = await (await client.get("/api/service/follow-up", headers=admin_headers)).json()
    assert follow["deliveries"] == []

    # Everything is on the record.
    audit = await (await client.get(f"/api/hearings/{hid}/audit", headers=admin_headers)).json()
    events = [e["event"] for e in audit["entries"]]
    for event in (
        "service_document_added", "service_queued", "service_sent", "service_delivered",
        "service_opened", "service_confirmed", "service_failed", "service_recorded",
    ):  # fmt: skip
        assert event in events, event
    assert audit["verified"]


async def test_bad_documents_and_recipients_are_refused(
    client: TestClient, admin_headers: dict[str, str], settings: Settings
) -> None:
    hid = (await create_hearing(client, admin_headers))["id"]
    resp = await upload(client, admin_headers, hid, b"not a pdf")
    assert resp.status == 422
    limit = settings.serving_max_document_bytes
    resp = await upload(client, admin_headers, hid, b"%PDF-1.4\n" + b"0" * limit)
    assert resp.status == 413 and (await resp.json())["code"] == "too_large"
    resp = await client.post(
        f"/api/hearings/{hid}/documents?kind=poster&title=x",
        data=summons_pdf(),
        headers=admin_headers,
    )
    assert resp.status == 422
    assert (await upload(client, admin_headers, "h-none", summons_pdf())).status == 404
    resp = await client.post(
        f"/api/hearings/{hid}/documents?title=%00", data=summons_pdf(), headers=admin_headers
    )
    assert resp.status == 422
    assert (await upload(client, {}, hid, summons_pdf())).status == 401
    doc = await (await upload(client, admin_headers, hid, summons_pdf())).json()
    serve = f"/api/hearings/{hid}/documents/{doc['id']}/service"
    for recipients in (
        [],
        [{"name": "张三"}],
        [{"name": "张三", "phone": "12345"}],
        [{"name": "张三", "phone": "23800138000"}],
        [{"name": "张三", "email": "not-an-address"}],
        [{"name": "", "phone": "13800138000"}],
        [{"name": "张\ud800", "phone": "13800138000"}],
        [{"name": "张\u0000三", "phone": "13800138000"}],
        [{"name": "张三", "phone": 13800138000}],
        "张三",
    ):
        resp = await client.post(serve, json={"recipients": recipients}, headers=admin_headers)
        assert resp.status == 422, recipients
    assert (await client.post(serve, data="{", headers=admin_headers)).status == 400
    assert (
        await client.post(
            f"/api/hearings/{hid}/documents/doc-0000000000000000/service",
            json={"recipients": [{"name": "张三", "phone": "13800138000"}]},
            headers=admin_headers,
        )
    ).status == 404
    # Nothing was served by the refused requests.
    status = await (await client.get(f"/api/hearings/{hid}/service", headers=admin_headers)).json()
    assert [d["deliveries"] for d in status["documents"]] == [[]]
