"""Bad input to the agreement API gets a clear error and changes nothing; the server's own
RFC 3161 timestamp authority answers over HTTP."""

from __future__ import annotations

import hashlib
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from asn1crypto import tsp

from esign.tsa import parse_response
from hearing_server.core.hearing import HearingKind
from hearing_server.core.participant import Role
from support.hearing import make_hearing

DRAFT: dict[str, Any] = {
    "terms": ["李四于2027年1月31日前支付张三货款人民币一万元整。"],
    "agreed_on": "2026-12-07",
}


async def _call(
    http: aiohttp.ClientSession,
    url: str,
    token: str,
    method: str = "GET",
    **kw: Any,
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
    async with http.request(method, url, headers=headers, **kw) as resp:
        return resp.status, await resp.json()


async def test_bad_drafts_and_wrong_people_are_refused_clearly(
    server: TestServer, admin_headers: dict[str, str]
) -> None:
    hid, people = await make_hearing(
        server.app,
        [(Role.MEDIATOR, "调解员"), (Role.PARTY, "张三"), (Role.OBSERVER, "旁听者")],
        kind=HearingKind.MEDIATION,
    )
    _, court = await make_hearing(server.app, [(Role.JUDGE, "王法官")])
    base = f"http://127.0.0.1:{server.port}"
    draft_url = f"{base}/api/me/agreement/draft"
    med = people["调解员"].token
    async with aiohttp.ClientSession() as http:
        cases: list[tuple[dict[str, Any], int, str]] = [
            ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400,
             "invalid_json"),
            ({"data": b"terms=1", "headers": {"Content-Type": "text/plain"}}, 415,
             "unsupported_media_type"),
            ({"json": [1, 2]}, 422, "invalid_body"),
            ({"json": {**DRAFT, "evil": 1}}, 422, "unknown_field"),
            ({"json": {**DRAFT, "terms": "one"}}, 422, "invalid_field"),
            ({"json": {**DRAFT, "terms": ["x" * 5000]}}, 422, "invalid_field"),
            ({"json": {**DRAFT, "terms": [{"deep": [[[[1]]]]}]}}, 422, "invalid_field"),
            ({"json": {**DRAFT, "agreed_on": "明天"}}, 422, "invalid_date"),
            ({"json": {**DRAFT, "payment": {"amount": "abc", "schedule": "s", "method": "m"}}},
             422, "invalid_amount"),
            ({"json": {**DRAFT, "terms": ["条款"] * 10_000}}, 422, "invalid_field"),
            ({"json": {**DRAFT, "terms": ["条" * 3000] * 100}}, 413, "payload_too_large"),
        ]  # fmt: skip
        for kw, status, code in cases:
            got, body = await _call(http, draft_url, med, "PUT", **kw)
            assert (got, body.get("code")) == (status, code), (kw, body)
        # Nothing was written by any of them.
        assert (await _call(http, f"{base}/api/me/agreement", med))[1] == {"state": None}

        # Who may do what.
        got, body = await _call(http, draft_url, people["张三"].token, "PUT", json=DRAFT)
        assert got == 403, body
        got, body = await _call(http, f"{base}/api/me/agreement", people["旁听者"].token)
        assert got == 403, body
        got, body = await _call(http, draft_url, court["王法官"].token, "PUT", json=DRAFT)
        assert (got, body["code"]) == (409, "not_a_mediation")
        got, body = await _call(http, f"{base}/api/me/agreement/propose", med, "POST", json={})
        assert (got, body["code"]) == (404, "no_agreement_yet")

        got, body = await _call(http, draft_url, med, "PUT", json=DRAFT)
        assert got == 200 and body["version"] == 1
        got, body = await _call(http, f"{base}/api/me/agreement/pdf", med)
        assert (got, body["code"]) == (404, "no_document")
        # 张三 is not registered: the document could not name him, nor could he get a code.
        got, body = await _call(http, f"{base}/api/me/agreement/propose", med, "POST", json={})
        assert (got, body["code"]) == (409, "party_not_registered") and "张三" in body["message"]
        async with http.get(f"{base}/api/hearings/{hid}/agreement", headers=admin_headers) as r:
            assert r.status == 200 and (await r.json())["state"] == "draft"
        got, body = await _call(
            http, f"{base}/api/me/agreement/no-agreement", med, "POST", json={"reason": " "}
        )
        assert got == 422, body
        got, body = await _call(
            http, f"{base}/api/me/agreement/no-agreement", med, "POST",
            json={"reason": "双方对赔偿金额分歧过大"},
        )  # fmt: skip
        assert got == 200 and body["state"] == "no_agreement"
        got, body = await _call(http, draft_url, med, "PUT", json=DRAFT)
        assert (got, body["code"]) == (409, "invalid_transition")


async def test_the_server_answers_rfc3161_requests(server: TestServer) -> None:
    url = f"http://127.0.0.1:{server.port}/api/timestamp"
    request = tsp.TimeStampReq(
        {
            "version": 1,
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": hashlib.sha256(b"an agreement").digest(),
            },
            "nonce": 12345,
            "cert_req": True,
        }
    ).dump()
    headers = {"Content-Type": "application/timestamp-query"}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=request, headers=headers) as resp:
            assert resp.status == 200
            assert resp.content_type == "application/timestamp-reply"
            granted = parse_response(await resp.read())
        assert granted.status == "granted" and granted.token is not None
        async with http.post(url, data=b"\x30\x03garbage", headers=headers) as resp:
            assert resp.status == 200
            refused = parse_response(await resp.read())
        assert refused.status == "rejection" and refused.token is None
        async with http.post(url, data=request) as resp:
            assert resp.status == 415
        async with http.post(url, data=b"\x30" * 100_000, headers=headers) as resp:
            assert resp.status == 413
