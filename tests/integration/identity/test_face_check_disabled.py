"""With ``face_checks_enabled`` off, face and liveness are not checkable here: the status says
so (the client then waits for the clerk), the camera check and photo upload are refused."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from hearing_server.app import create_app
from hearing_server.config import Settings
from hearing_server.core.participant import Role
from support.identity import Me, identity_hearing


async def test_face_steps_wait_for_the_clerk(aiohttp_server: Any, settings: Settings) -> None:
    server: TestServer = await aiohttp_server(
        create_app(replace(settings, face_checks_enabled=False)), host="127.0.0.1"
    )
    policy = json.dumps({"party": ["face", "liveness"]})
    h = await identity_hearing(server.app, [(Role.PARTY, "张三")], policy=policy)
    zhang = h.people["张三"]
    async with aiohttp.ClientSession() as http:
        mine = Me(http, f"http://127.0.0.1:{server.port}", zhang.token)
        body = await mine.identity()
        assert body["pending"] == ["face", "liveness"]
        assert body["checkable"] == []
        assert body["reference_photo"] is False and body["face"] is None
        status, body = await mine.call("POST", "/api/me/identity/face/start", {})
        assert (status, body["code"]) == (409, "step_unavailable")
