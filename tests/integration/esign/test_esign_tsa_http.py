"""The responder behind HTTP, as the server will expose it, and pyHanko's HTTP client using it.

Also the "external TSA URL" path of make_timestamper: here the external TSA is our own
responder on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestServer

from esign import (
    CONTENT_TYPE_QUERY,
    CONTENT_TYPE_REPLY,
    SigningAuthority,
    TimeStampResponder,
    certify,
    make_timestamper,
    render,
    verify,
)
from support.esign import sample_document


def tsa_app(responder: TimeStampResponder) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        if request.content_type != CONTENT_TYPE_QUERY:
            return web.Response(status=415)
        body = await request.content.read(64 * 1024)  # a request is a few hundred bytes
        return web.Response(body=responder.respond(body), content_type=CONTENT_TYPE_REPLY)

    app = web.Application()
    app.router.add_post("/tsa", handle)
    return app


async def test_http_timestamper_against_our_responder(tmp_path: Path) -> None:
    authority = SigningAuthority.load_or_create(tmp_path / "auth")
    server = TestServer(tsa_app(TimeStampResponder.from_authority(authority)), host="127.0.0.1")
    await server.start_server()
    try:
        url = str(server.make_url("/tsa"))
        stamper = make_timestamper(authority, url)
        token = await stamper.async_timestamp(hashlib.sha256(b"x").digest(), "sha256")
        gen_time = token["content"]["encap_content_info"]["content"].parsed["gen_time"].native
        assert abs(gen_time - datetime.datetime.now(datetime.UTC)) < datetime.timedelta(minutes=1)
        # and a whole certification through it, in a worker thread (certify runs its own loop)
        pdf = await asyncio.to_thread(certify, render(sample_document()), authority, stamper)
        report = await asyncio.to_thread(verify, pdf, [authority.ca_cert])
        assert report.verdict == "valid", report.to_json()
    finally:
        await server.close()
