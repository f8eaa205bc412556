"""Serving the hearing's own records by naming them, through the real server: the signed and
sealed mediation agreement (signed by both parties with their codes, sealed by the mediator)
and the finalised transcript (笔录). The recipient's link gives exactly the bytes kept by the
agreement and transcript stores, and their SHA-256 is the one the service status and the
receipt state. Refused with 409 (and nothing stored) while there is no signed agreement or
the transcript is not final, 422 for another kind or bad recipients."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import subprocess
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.test_utils import TestServer

from hearing_server.core.hearing import HearingAction, HearingKind
from hearing_server.core.participant import Role
from hearing_server.keys import HEARINGS, JOBS, SETTINGS, STORE, TRANSCRIPTS
from messaging import read_outbox
from support.esign import drawn_png
from support.hearing import STAFF, make_hearing
from support.identity import LI_ID, LI_PHONE, ZHANG_ID, ZHANG_PHONE, Me, identity_hearing
from support.identity import outbox_code as _outbox_code
from support.serving import link_in
from transcription.segments import TranscriptSegment

DRAFT: dict[str, Any] = {
    "language": "zh-CN",
    "recitals": ["申请人张三与被申请人李四因买卖合同发生纠纷，经调解自愿达成如下协议。"],  # noqa: RUF001
    "terms": ["李四于2027年1月31日前支付张三货款人民币一万元整。"],
    "payment": {"amount": "10000", "schedule": "2027年1月31日前一次付清", "method": "银行转账"},
    "costs": "调解不收费。",
    "agreed_on": "2026-12-07",
}
RECIPIENT = {"name": "张三", "email": "zhang@example.cn"}


def _b64(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


class Api:
    """Staff calls with the admin key."""

    def __init__(self, http: aiohttp.ClientSession, base: str, headers: dict[str, str]) -> None:
        self._http, self._base, self._headers = http, base, headers

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        async with self._http.post(self._base + path, json=body, headers=self._headers) as r:
            return r.status, await r.json()

    async def get(self, path: str) -> tuple[int, bytes]:
        async with self._http.get(self._base + path, headers=self._headers) as r:
            return r.status, await r.read()


async def _served_bytes(server: TestServer, http: aiohttp.ClientSession, address: str) -> bytes:
    """The document behind the newest tracking link sent to ``address``."""
    assert await server.app[JOBS].drain(30.0, horizon_s=60)
    entries = [e for e in read_outbox(server.app[SETTINGS].effective_outbox_dir)]
    text = next(e.text for e in entries if e.recipient == address and "/s/" in e.text)
    path = urlsplit(link_in(text)).path
    async with http.get(f"http://127.0.0.1:{server.port}{path}/document") as resp:
        assert resp.status == 200 and resp.content_type == "application/pdf"
        return await resp.read()


async def _receipt_text(api: Api, hid: str, delivery_id: str) -> str:
    status, pdf = await api.get(f"/api/hearings/{hid}/service/{delivery_id}/receipt")
    assert status == 200, pdf
    out = await asyncio.to_thread(
        subprocess.run, ["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return "".join(out.stdout.decode().split())


async def test_the_sealed_agreement_is_served_as_kept(
    server: TestServer, admin_headers: Any
) -> None:
    app = server.app
    h = await identity_hearing(
        app,
        [(Role.MEDIATOR, "调解员"), (Role.PARTY, "张三"), (Role.PARTY, "李四")],
        kind=HearingKind.MEDIATION,
        policy="none",
        register={"张三": (ZHANG_ID, ZHANG_PHONE), "李四": (LI_ID, LI_PHONE)},
    )
    base = f"http://127.0.0.1:{server.port}"
    hid = h.hearing_id
    async with aiohttp.ClientSession() as http:
        api = Api(http, base, admin_headers)
        med, zhang, li = (Me(http, base, h.people[n].token) for n in ("调解员", "张三", "李四"))

        # Nothing drafted, then a draft: no signed agreement to serve, and nothing stored.
        status, err = await api.post(
            f"/api/hearings/{hid}/service/agreement", {"recipients": [RECIPIENT]}
        )
        assert status == 409 and err["code"] == "agreement_not_signed", err
        assert (await med.call("PUT", "/api/me/agreement/draft", DRAFT))[0] == 200
        assert (await med.call("POST", "/api/me/agreement/propose", {}))[0] == 200
        proposal = (await zhang.call("GET", "/api/me/agreement"))[1]
        for party in (zhang, li):
            body = {"content_hash": proposal["content_hash"]}
            assert (await party.call("POST", "/api/me/agreement/accept", body))[0] == 200
        assert (await med.call("POST", "/api/me/agreement/open-signing", {}))[0] == 200
        status, err = await api.post(
            f"/api/hearings/{hid}/service/agreement", {"recipients": [RECIPIENT]}
        )
        assert status == 409 and err["code"] == "agreement_not_signed", err
        assert await app[STORE].list_served_documents(hid) == []

        for party, phone in ((zhang, ZHANG_PHONE), (li, LI_PHONE)):
            assert (await party.call("POST", "/api/me/agreement/sign-code", {}))[0] == 200
            body = {"code": _outbox_code(app, phone), "signature_png": _b64(drawn_png())}
            status, signed = await party.call("POST", "/api/me/agreement/sign", body)
            assert status == 200, signed
        status, sealed = await med.call("POST", "/api/me/agreement/seal", {})
        assert status == 200 and sealed["state"] == "sealed", sealed
        async with http.get(
            f"{base}/api/me/agreement/pdf",
            headers={"Authorization": f"Bearer {h.people['李四'].token}"},
        ) as resp:
            kept = await resp.read()
        digest = hashlib.sha256(kept).hexdigest()

        # Bad recipients and unknown kinds are refused before anything is stored.
        status, err = await api.post(f"/api/hearings/{hid}/service/agreement", {"recipients": []})
        assert status == 422, err
        status, err = await api.post(
            f"/api/hearings/{hid}/service/minutes", {"recipients": [RECIPIENT]}
        )
        assert status == 422 and "agreement or transcript" in err["message"], err
        assert await app[STORE].list_served_documents(hid) == []

        status, served = await api.post(
            f"/api/hearings/{hid}/service/agreement", {"recipients": [RECIPIENT]}
        )
        assert status == 201, served
        doc = served["document"]
        assert doc["kind"] == "agreement" and doc["sha256"] == digest and doc["size"] == len(kept)
        assert await _served_bytes(server, http, RECIPIENT["email"]) == kept
        # Served again to another recipient: the same document, not a second copy.
        other = {"name": "李四", "email": "li@example.cn"}
        status, again = await api.post(
            f"/api/hearings/{hid}/service/agreement", {"recipients": [other]}
        )
        assert status == 201 and again["document"]["id"] == doc["id"], again
        assert await _served_bytes(server, http, other["email"]) == kept

        receipt = await _receipt_text(api, hid, served["deliveries"][0]["id"])
        assert digest in receipt, receipt
    audit = [e for e in await app[STORE].list_audit(hid) if e.event == "service_document_added"]
    assert [e.data["sha256"] for e in audit] == [digest]


async def test_the_transcript_is_served_once_final(server: TestServer, admin_headers: Any) -> None:
    app = server.app
    hid, people = await make_hearing(
        app, [(Role.JUDGE, "法官"), (Role.PARTY, "张三")], state="in_session"
    )
    base = f"http://127.0.0.1:{server.port}"
    judge = people["法官"]
    await app[TRANSCRIPTS].record_segment(
        TranscriptSegment(
            hid,
            judge.id,
            "法官",
            "judge",
            0.0,
            2.5,
            datetime.now(UTC),
            "现在开庭。",
            "test-engine",
            "zh",
        )
    )
    async with aiohttp.ClientSession() as http:
        api = Api(http, base, admin_headers)
        status, err = await api.post(
            f"/api/hearings/{hid}/service/transcript", {"recipients": [RECIPIENT]}
        )
        assert status == 409 and err["code"] == "transcript_not_final", err
        await app[HEARINGS].transition(STAFF, hid, HearingAction.CLOSE)
        # Closed but not yet finalised: still refused, nothing stored.
        status, err = await api.post(
            f"/api/hearings/{hid}/service/transcript", {"recipients": [RECIPIENT]}
        )
        assert status == 409 and err["code"] == "transcript_not_final", err
        assert await app[STORE].list_served_documents(hid) == []
        status, _ = await Me(http, base, judge.token).call(
            "POST", "/api/me/transcript/finalise", {}
        )
        assert status == 200

        status, served = await api.post(
            f"/api/hearings/{hid}/service/transcript",
            {"recipients": [RECIPIENT], "title": "庭审笔录"},
        )
        assert status == 201, served
        doc = served["document"]
        assert doc["kind"] == "transcript" and doc["title"] == "庭审笔录"
        got = await _served_bytes(server, http, RECIPIENT["email"])
        assert got.startswith(b"%PDF-") and hashlib.sha256(got).hexdigest() == doc["sha256"]
        status, listed = await api.get(f"/api/hearings/{hid}/service")
        assert status == 200 and doc["sha256"] in listed.decode()
        receipt = await _receipt_text(api, hid, served["deliveries"][0]["id"])
        assert doc["sha256"] in receipt, receipt
        text = await asyncio.to_thread(
            subprocess.run, ["pdftotext", "-", "-"], input=got, capture_output=True, check=True
        )
        assert "现在开庭" in "".join(text.stdout.decode().split())
