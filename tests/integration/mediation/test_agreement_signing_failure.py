"""A signing that fails half-way leaves the agreement as it was: the server is configured with an
external timestamp authority (a front on 127.0.0.1 to the server's own RFC 3161 route, which the
test takes down), so applying the PAdES signature itself fails, in the signing worker's child,
after the code was checked. The party is told, the previous PDF revision stays the latest and
intact, no new revision is written, and the same code signs once the authority is back."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from esign import verify
from esign.verify import load_trust_roots
from hearing_server.config import Settings
from hearing_server.core.hearing import HearingKind
from hearing_server.core.participant import Role
from hearing_server.keys import SETTINGS, STORE
from support.esign import drawn_png
from support.identity import (
    LI_ID,
    LI_PHONE,
    ZHANG_ID,
    ZHANG_PHONE,
    Me,
    identity_hearing,
    outbox_code,
)

DRAFT: dict[str, Any] = {
    "terms": ["李四于2027年1月31日前支付张三货款人民币一万元整。"],
    "agreed_on": "2026-12-07",
}


class FlakyTsa:
    """An external TSA as the server sees one: forwards RFC 3161 requests to ``target`` while
    up, answers 503 while down."""

    def __init__(self) -> None:
        self.url = ""
        self.target = ""
        self.up = True
        self.requests = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests += 1
        if not self.up or not self.target:
            return web.Response(status=503, text="timestamp authority down")
        headers = {"Content-Type": request.headers.get("Content-Type", "")}
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.target, data=body, headers=headers) as resp,
        ):
            return web.Response(
                status=resp.status, body=await resp.read(), content_type=resp.content_type
            )


@pytest.fixture
async def tsa(aiohttp_server: Any) -> FlakyTsa:
    flaky = FlakyTsa()
    app = web.Application()
    app.router.add_post("/tsa", flaky.handle)
    front = await aiohttp_server(app, host="127.0.0.1")
    flaky.url = f"http://127.0.0.1:{front.port}/tsa"
    return flaky


@pytest.fixture
def settings(settings: Settings, tsa: FlakyTsa) -> Settings:
    return replace(settings, timestamp_url=tsa.url)


def _b64(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


async def test_a_failed_signature_leaves_the_previous_revision_and_the_code(
    server: TestServer, tsa: FlakyTsa
) -> None:
    app = server.app
    base = f"http://127.0.0.1:{server.port}"
    tsa.target = f"{base}/api/timestamp"
    h = await identity_hearing(
        app,
        [(Role.MEDIATOR, "调解员"), (Role.PARTY, "张三"), (Role.PARTY, "李四")],
        kind=HearingKind.MEDIATION,
        policy="none",
        register={"张三": (ZHANG_ID, ZHANG_PHONE), "李四": (LI_ID, LI_PHONE)},
    )
    async with aiohttp.ClientSession() as http:
        med, zhang, li = (Me(http, base, h.people[n].token) for n in ("调解员", "张三", "李四"))
        assert (await med.call("PUT", "/api/me/agreement/draft", DRAFT))[0] == 200
        assert (await med.call("POST", "/api/me/agreement/propose", {}))[0] == 200
        digest = (await li.call("GET", "/api/me/agreement"))[1]["content_hash"]
        for party in (zhang, li):
            status, body = await party.call(
                "POST", "/api/me/agreement/accept", {"content_hash": digest}
            )
            assert status == 200, body
        status, opened = await med.call("POST", "/api/me/agreement/open-signing", {})
        assert status == 200 and opened["pdf_revision"] == 1, opened
        assert tsa.requests > 0  # the certification was timestamped through the external TSA
        before = opened["pdf_sha256"]

        assert (await zhang.call("POST", "/api/me/agreement/sign-code", {}))[0] == 200
        code = outbox_code(app, ZHANG_PHONE)
        tsa.up = False
        asked = tsa.requests
        status, err = await zhang.call(
            "POST", "/api/me/agreement/sign", {"code": code, "signature_png": _b64(drawn_png())}
        )
        assert status == 502 and err["code"] == "unavailable", (status, err)
        assert tsa.requests > asked  # it failed at the timestamp, after the code was right

        # Nothing half-written: the same revision, no signature, no new file.
        status, now = await med.call("GET", "/api/me/agreement")
        assert (now["state"], now["pdf_revision"], now["pdf_sha256"]) == ("signing", 1, before)
        assert now["signatures"] == []
        files = sorted(p.name for p in (app[SETTINGS].data_dir / "agreements").rglob("*"))
        assert [f for f in files if f.endswith(".pdf")] == [f"{opened['id']}-r1.pdf"], files
        assert not [f for f in files if f.endswith(".tmp")], files
        async with http.get(
            f"{base}/api/me/agreement/pdf",
            headers={"Authorization": f"Bearer {h.people['调解员'].token}"},
        ) as resp:
            assert hashlib.sha256(await resp.read()).hexdigest() == before

        # The authority is back: the same code signs (the failure did not spend it).
        tsa.up = True
        status, signed = await zhang.call(
            "POST", "/api/me/agreement/sign", {"code": code, "signature_png": _b64(drawn_png())}
        )
        assert status == 200 and signed["pdf_revision"] == 2, signed
        async with http.get(
            f"{base}/api/me/agreement/pdf",
            headers={"Authorization": f"Bearer {h.people['张三'].token}"},
        ) as resp:
            pdf = await resp.read()

    audit = [
        e for e in await app[STORE].list_audit(h.hearing_id) if e.event.startswith("agreement")
    ]
    failed = [e for e in audit if e.event == "agreement_signing_failed"]
    assert [e.data["reason"] for e in failed] == ["signature_failed"]
    assert [e.event for e in audit].count("agreement_signed") == 1
    roots = load_trust_roots([app[SETTINGS].effective_signing_dir / "ca.cert.pem"])
    report = await asyncio.to_thread(verify, pdf, roots)
    assert report.verdict == "valid", report.to_json()
    assert [s.signer for s in report.signatures if s.signer == "张三"] == ["张三"]
