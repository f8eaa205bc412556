"""The mediation agreement through the real server: draft → proposal → changes asked →
accepted by both parties at once → each signs with a drawn signature and the code from the
outbox → the organisation seals → the PDF validates with pyHanko, Poppler's pdfsig and the
``hearing-server verify-agreement`` command, and a changed byte is named."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from esign import verify
from esign.verify import load_trust_roots
from hearing_server.core.hearing import HearingKind
from hearing_server.core.participant import Role
from hearing_server.keys import SETTINGS, STORE
from signaling.client import HearingClient
from support.esign import drawn_png
from support.identity import LI_ID, LI_PHONE, ZHANG_ID, ZHANG_PHONE, Me, identity_hearing
from support.identity import outbox_code as _outbox_code

PEOPLE = [
    (Role.MEDIATOR, "调解员"),
    (Role.PARTY, "张三"),
    (Role.PARTY, "李四"),
    (Role.COUNSEL, "王律师"),
]

DRAFT: dict[str, Any] = {
    "language": "zh-CN",
    "recitals": ["申请人张三与被申请人李四因买卖合同发生纠纷，经调解自愿达成如下协议。"],  # noqa: RUF001
    "terms": ["李四于2027年1月31日前支付张三货款人民币一万元整。"],
    "payment": {"amount": "10000", "schedule": "2027年1月31日前一次付清", "method": "银行转账"},
    "costs": "调解不收费。",
    "agreed_on": "2026-12-07",
}


class Party(Me):
    async def get(self) -> dict[str, Any]:
        status, body = await self.call("GET", "/api/me/agreement")
        assert status == 200, body
        return body

    async def post(self, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        return await self.call("POST", f"/api/me/agreement/{path}", {} if body is None else body)


def _b64(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


async def _verify_cli(pdf: Path, data_dir: Path) -> tuple[int, dict[str, Any]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hearing_server", "verify-agreement", str(pdf),
        "--data-dir", str(data_dir),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, json.loads(out) if out.strip() else {"stderr": err.decode()}


async def test_a_whole_agreement_is_drafted_accepted_signed_sealed_and_verifies(
    server: TestServer, tmp_path: Path
) -> None:
    app = server.app
    h = await identity_hearing(
        app,
        PEOPLE,
        kind=HearingKind.MEDIATION,
        policy="none",
        register={"张三": (ZHANG_ID, ZHANG_PHONE), "李四": (LI_ID, LI_PHONE)},
    )
    base = f"http://127.0.0.1:{server.port}"
    settings = app[SETTINGS]

    def code_for(phone: str) -> str:
        return _outbox_code(app, phone)

    async with aiohttp.ClientSession() as http:
        med, zhang, li, counsel = (
            Party(http, base, h.people[n].token) for n in ("调解员", "张三", "李四", "王律师")
        )
        # A party listening on the signaling connection is told of each change.
        listener = HearingClient(base, h.people["李四"].token)
        await listener.connect()
        await listener.join()
        try:
            # Draft: the mediator's alone.
            status, draft = await med.call("PUT", "/api/me/agreement/draft", DRAFT)
            assert status == 200 and draft["state"] == "draft" and draft["version"] == 1, draft
            assert [p["name"] for p in draft["parties"]] == ["张三", "李四"]
            assert draft["parties"][0]["masked_id"].endswith(ZHANG_ID[-4:])
            hidden = await zhang.get()
            assert hidden["state"] == "draft" and "content" not in hidden
            assert (await zhang.post("propose"))[0] == 403  # only the mediator proposes

            assert (await med.post("propose"))[0] == 200
            seen = await listener.wait_for_event(
                "agreement_updated", lambda d: d["state"] == "proposed"
            )
            assert seen["content"]["terms"] == DRAFT["terms"]
            # 张三 wants a later date: back to the mediator.
            status, back = await zhang.post(
                "request-changes", {"comment": "请把付款期限改到2027年2月底"}
            )
            assert status == 200 and back["state"] == "draft", back
            v2 = {**DRAFT, "terms": ["李四于2027年2月28日前支付张三货款人民币一万元整。"]}
            status, draft = await med.call("PUT", "/api/me/agreement/draft", v2)
            assert draft["version"] == 2 and draft["change_requests"][0]["name"] == "张三"
            stale_hash = seen["content_hash"]
            await med.post("propose")
            proposal = await li.get()
            assert proposal["content"]["terms"] == v2["terms"]
            # Accepting the text one read earlier is refused: it changed since.
            status, err = await li.post("accept", {"content_hash": stale_hash})
            assert status == 409 and err["code"] == "stale_version"
            # Counsel advises but is not a party to the agreement.
            status, err = await counsel.post("accept", {"content_hash": proposal["content_hash"]})
            assert status == 403 and err["code"] == "not_a_party"
            # Both parties accept at the same moment: both count, once each.
            results = await asyncio.gather(
                zhang.post("accept", {"content_hash": proposal["content_hash"]}),
                li.post("accept", {"content_hash": proposal["content_hash"]}),
            )
            assert [r[0] for r in results] == [200, 200], results
            state = await med.get()
            assert state["state"] == "accepted" and len(state["accepted_by"]) == 2
            # Every change counts up, so a client can tell a late snapshot from a newer one.
            assert sorted(r[1]["revision"] for r in results) == [
                proposal["revision"] + 1,
                state["revision"],
            ], (results, state)

            # Signing out of order: nobody signs before signing opens.
            assert (await zhang.post("sign-code"))[1]["code"] == "invalid_transition"
            status, opened = await med.post("open-signing")
            assert status == 200 and opened["state"] == "signing" and opened["pdf_revision"] == 1

            # 张三 signs: a code to his phone, his drawn signature.
            status, sent = await zhang.post("sign-code")
            assert status == 200 and sent["code_expires_at"], sent
            code = code_for(ZHANG_PHONE)
            wrong = f"{(int(code) + 1) % 1_000_000:06d}"
            status, err = await zhang.post(
                "sign", {"code": wrong, "signature_png": _b64(drawn_png())}
            )
            assert status == 422 and err["code"] == "wrong_code"
            status, err = await zhang.post(
                "sign", {"code": code, "signature_png": _b64(b"GIF89a not a png")}
            )
            assert status == 422 and err["code"] == "signature_invalid", err
            assert (await med.get())["pdf_revision"] == 1  # nothing half-written
            status, signed = await zhang.post(
                "sign", {"code": code, "signature_png": _b64(drawn_png())}
            )
            assert status == 200 and signed["pdf_revision"] == 2, signed
            # The code cannot be used again, for a second signature or by anyone else.
            status, err = await zhang.post(
                "sign", {"code": code, "signature_png": _b64(drawn_png())}
            )
            assert status == 409 and err["code"] == "already_signed"
            status, err = await li.post("sign", {"code": code, "signature_png": _b64(drawn_png())})
            assert status == 409 and err["code"] == "no_code"
            # A 20 MB "signature" is refused before it is read whole.
            big = "A" * (20 * 1024 * 1024)
            status, err = await li.call(
                "POST", "/api/me/agreement/sign", {"code": "123456", "signature_png": big}
            )
            assert status == 413, err

            await li.post("sign-code")
            status, signed = await li.post(
                "sign", {"code": code_for(LI_PHONE), "signature_png": _b64(drawn_png(300, 120))}
            )
            assert status == 200 and signed["state"] == "signed", signed
            assert (await li.post("seal"))[0] == 403  # a party never seals
            status, sealed = await med.post("seal")
            assert status == 200 and sealed["state"] == "sealed", sealed
            assert (await med.post("seal"))[1]["code"] == "invalid_transition"

            status, _ = await med.post("confirmation")
            assert status == 200 and (await li.get())["state"] == "confirmation_requested"

            # The sealed PDF: every party downloads it, and its hash is on the record.
            async with http.get(
                f"{base}/api/me/agreement/pdf",
                headers={"Authorization": f"Bearer {h.people['李四'].token}"},
            ) as resp:
                assert resp.status == 200 and resp.content_type == "application/pdf"
                pdf = await resp.read()
            # The application for judicial confirmation names the sealed document by its hash.
            async with http.get(
                f"{base}/api/me/agreement/confirmation.pdf",
                headers={"Authorization": f"Bearer {h.people['张三'].token}"},
            ) as resp:
                assert resp.status == 200 and resp.content_type == "application/pdf"
                application = await resp.read()
        finally:
            await listener.close()

    digest = hashlib.sha256(pdf).hexdigest()
    audit = await app[STORE].list_audit(h.hearing_id)
    events = [e.event for e in audit if e.event.startswith("agreement")]
    assert events[:3] == ["agreement_drafted", "agreement_proposed", "agreement_changes_requested"]
    assert {"agreement_accepted", "agreement_signing_opened", "agreement_sign_code_sent"} <= set(
        events
    )
    assert events.count("agreement_signed") == 2 and "agreement_signing_failed" in events
    sealed_entry = next(e for e in audit if e.event == "agreement_sealed")
    assert sealed_entry.data["pdf_sha256"] == digest
    assert not any(code_for(ZHANG_PHONE) in json.dumps(e.data) for e in audit)

    (tmp_path / "application.pdf").write_bytes(application)
    proc = await asyncio.create_subprocess_exec(
        "pdftotext", str(tmp_path / "application.pdf"), "-", stdout=asyncio.subprocess.PIPE
    )
    text = (await asyncio.wait_for(proc.communicate(), 60))[0].decode()
    flat = "".join(text.split())
    assert "司法确认申请书" in flat and digest in flat and "张三" in flat and "李四" in flat, text
    confirmed = next(e for e in audit if e.event == "agreement_confirmation_requested")
    assert confirmed.data["agreement_sha256"] == digest
    assert confirmed.data["application_sha256"] == hashlib.sha256(application).hexdigest()

    # pyHanko's validator, through esign.
    roots = load_trust_roots([settings.effective_signing_dir / "ca.cert.pem"])
    report = await asyncio.to_thread(verify, pdf, roots)
    assert report.verdict == "valid", report.to_json()
    signers = [s.signer for s in report.signatures]
    assert "张三" in signers and "李四" in signers, signers

    # The command, as an operator would run it.
    path = tmp_path / "agreement.pdf"
    path.write_bytes(pdf)
    code, out = await _verify_cli(path, settings.data_dir)
    assert code == 0 and out["verdict"] == "valid", out

    # Poppler's pdfsig reads every signature as intact.
    if shutil.which("pdfsig") is None:
        pytest.skip("pdfsig not found: install the Debian package poppler-utils")
    proc = await asyncio.create_subprocess_exec(
        "pdfsig", str(path), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    pdfsig_out = (await asyncio.wait_for(proc.communicate(), 60))[0].decode()
    # The certification, two parties and the seal.
    assert pdfsig_out.count("Signature Validation: Signature is Valid") == 4, pdfsig_out

    # A changed byte inside the signed content is found and named.
    data = bytearray(pdf)
    at = data.find(b"stream", len(data) // 4) + 20
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    code, out = await _verify_cli(path, settings.data_dir)
    assert code == 1 and out["verdict"] != "valid", out
