"""The pages and assets the browser loads: routes, security headers, the vendored client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hearing_server.app import create_app
from hearing_server.config import Settings

VENDOR = (
    Path(__file__).resolve().parents[2]
    / "web_client/node_modules/socket.io-client/dist/socket.io.esm.min.js"
)


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(settings))


@pytest.mark.parametrize("path", ["/join", "/console", "/display"])
async def test_every_page_is_the_join_page_with_a_strict_policy(
    client: TestClient, path: str
) -> None:
    resp = await client.get(path)
    assert resp.status == 200
    assert resp.content_type == "text/html"
    body = await resp.text()
    assert '<script type="module" src="/static/app.js"></script>' in body
    assert "<script>" not in body  # no inline script: the policy would refuse it anyway
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert "media-src 'self' blob: mediastream:" in csp
    assert f"ws://{resp.url.host}:{resp.url.port}" in csp
    assert "frame-ancestors 'none'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert "camera=(self)" in resp.headers["Permissions-Policy"]
    assert resp.headers["Cache-Control"] == "no-store"


async def test_static_assets_are_served_with_the_same_headers(client: TestClient) -> None:
    for path, kind in (
        ("/static/app.js", "javascript"),
        ("/static/i18n.js", "javascript"),
        ("/static/style.css", "text/css"),
    ):
        resp = await client.get(path)
        assert resp.status == 200, path
        assert kind in resp.content_type, (path, resp.content_type)
        assert "Content-Security-Policy" in resp.headers
        assert resp.headers["Cache-Control"] == "no-cache"


async def test_no_directory_listing_and_no_escape_from_static(client: TestClient) -> None:
    assert (await client.get("/static/")).status in (403, 404)
    assert (await client.get("/static/../../hearing_server/app.py")).status in (403, 404)
    assert (await client.get("/static/%2e%2e/%2e%2e/pyproject.toml")).status in (403, 404)


@pytest.mark.skipif(not VENDOR.is_file(), reason="run npm ci in web_client first")
async def test_socketio_client_comes_from_node_modules(client: TestClient) -> None:
    resp = await client.get("/vendor/socket.io/socket.io.esm.min.js")
    assert resp.status == 200
    assert "javascript" in resp.content_type
    assert (await resp.read()) == VENDOR.read_bytes()
    # Only the client's own files, nothing else of node_modules.
    assert (await client.get("/vendor/socket.io/package.json")).status == 404
    assert (await client.get("/vendor/socket.io/..%2f..%2fpackage.json")).status == 404


async def test_api_responses_keep_their_own_headers(client: TestClient) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert "Content-Security-Policy" not in resp.headers
