"""A request that is not valid HTTP is answered 400 and logged as one warning line, not as a
server error with a traceback (hearing_server/log_filters.py)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiohttp.test_utils import TestServer

from hearing_server.log_filters import install_log_filters


async def test_a_nul_in_a_header_is_a_warning_not_an_error(
    server: TestServer, caplog: pytest.LogCaptureFixture
) -> None:
    install_log_filters()
    caplog.set_level(logging.INFO, logger="aiohttp.server")
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Probe: \x00\r\n\r\n")
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()
    assert status.split()[1] == b"400", status
    records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert records, "aiohttp logged nothing about the bad request"
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in records), [
        (r.levelname, r.getMessage()) for r in records
    ]
    assert "not valid HTTP (400)" in records[0].getMessage()
