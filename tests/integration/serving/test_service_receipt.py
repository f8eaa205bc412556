"""The service receipt (送达回证): after a summons is served by SMS and confirmed through its
link, the clerk downloads the receipt; it names the document, its SHA-256, the recipient, the
channel and every time, and its seal verifies against the court's CA (esign's validator, and
Poppler's pdfsig independently); a changed byte breaks it."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient

from esign import SigningAuthority, verify
from hearing_server import keys
from hearing_server.app import create_app
from hearing_server.config import Settings
from support.api import create_hearing
from support.serving import (
    Mailbox,
    SmsGateway,
    link_in,
    serving_settings,
    smtp_server,
    start_gateway,
    summons_pdf,
)


def _run(cmd: list[str], data: bytes = b"") -> bytes:
    return subprocess.run(cmd, input=data, capture_output=True, check=False).stdout


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
def served_settings(
    settings: Settings, mailbox: tuple[Mailbox, int], gateway: tuple[SmsGateway, str]
) -> Settings:
    return serving_settings(settings, gateway_url=gateway[1], smtp_port=mailbox[1])


async def test_the_receipt_states_the_service_and_its_seal_verifies(
    aiohttp_client: Any,
    served_settings: Settings,
    admin_headers: dict[str, str],
    gateway: tuple[SmsGateway, str],
    tmp_path: Path,
) -> None:
    client: TestClient = await aiohttp_client(create_app(served_settings))
    hid = (await create_hearing(client, admin_headers))["id"]
    resp = await client.post(
        f"/api/hearings/{hid}/documents?kind=summons&title=传票",
        data=summons_pdf(),
        headers={**admin_headers, "Content-Type": "application/pdf"},
    )
    doc = await resp.json()
    resp = await client.post(
        f"/api/hearings/{hid}/documents/{doc['id']}/service",
        json={"recipients": [{"name": "张三", "phone": "13800138000"}]},
        headers=admin_headers,
    )
    [delivery] = (await resp.json())["deliveries"]
    assert await client.app[keys.JOBS].drain(30.0, horizon_s=60)
    path = urlsplit(link_in(gateway[0].text_to("13800138000"))).path
    assert (await client.post(path + "/confirm", allow_redirects=False)).status == 303

    url = f"/api/hearings/{hid}/service/{delivery['id']}/receipt"
    assert (await client.get(url)).status == 401
    assert (
        await client.get(f"/api/hearings/{hid}/service/dl-none/receipt", headers=admin_headers)
    ).status == 404
    resp = await client.get(url, headers=admin_headers)
    assert resp.status == 200 and resp.content_type == "application/pdf"
    pdf = await resp.read()

    authority = SigningAuthority.load_or_create(served_settings.effective_signing_dir)
    report = await asyncio.to_thread(verify, pdf, [authority.ca_cert])
    assert report.verdict == "valid", report.to_json()
    # (the hash wraps in its cell: compare without line breaks)
    text = (await asyncio.to_thread(_run, ["pdftotext", "-", "-"], pdf)).decode()
    text = text.replace("\n", "")
    for expected in ("送达回证", "张三", "传票", doc["sha256"], "13800138000", "Asia/Shanghai",
                     "(2026)京0105民初12345号", "已确认收到"):  # fmt: skip
        assert expected in text, expected

    tampered = bytearray(pdf)
    tampered[tampered.index(b"ReportLab PDF Library")] ^= 0x20
    assert (await asyncio.to_thread(verify, bytes(tampered), [authority.ca_cert])).verdict != (
        "valid"
    )

    if shutil.which("pdfsig"):
        (tmp_path / "receipt.pdf").write_bytes(pdf)
        out = (await asyncio.to_thread(_run, ["pdfsig", str(tmp_path / "receipt.pdf")])).decode()
        assert "Signature Field Name: court_seal" in out
        assert "Signature is Valid." in out and "Total document signed" in out

    audit = await (await client.get(f"/api/hearings/{hid}/audit", headers=admin_headers)).json()
    assert audit["entries"][-1]["event"] == "service_receipt_issued"
