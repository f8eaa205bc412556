"""Serving 10,000 notices (issue 17, Performance): enqueue time, send throughput against local
SMTP and HTTP sinks, store growth, and the event-loop lag the server sees meanwhile (what a
hearing running on the same server would feel).

The server is the real app (create_app, SQLite store) in this process, driven over HTTP on
127.0.0.1; the sinks (aiosmtpd and an aiohttp SMS gateway) run in a child process so their work
does not count as the server's. Half the deliveries go by SMS, half by e-mail: each recipient
has a phone number and an address.

    python -m bench.serving.run [--recipients 5000] [--concurrency 4] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.actions.lag import LagSeries, lag_summary
from hearing_server import keys
from hearing_server.app import create_app
from hearing_server.config import load_settings

ADMIN = "bench-admin-key-0123456789abcdef0123456789"
BATCH = 50  # recipients per API call (the API's limit)


def _sinks(sms_port: int, smtp_port: int, counts: Any) -> None:
    """The child: an SMS gateway and an SMTP server that count what they accept."""
    from aiosmtpd.controller import Controller

    class Box:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with counts.get_lock():
                counts[1] += 1
            return "250 OK"

    controller = Controller(Box(), hostname="127.0.0.1", port=smtp_port)
    controller.start()

    async def sms(request: web.Request) -> web.Response:
        await request.read()
        with counts.get_lock():
            counts[0] += 1
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/sms", sms)
    web.run_app(app, host="127.0.0.1", port=sms_port, print=None, handle_signals=True)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.glob("hearings.sqlite3*"))


async def run(recipients: int, concurrency: int) -> dict[str, Any]:
    sms_port, smtp_port, http_port = _free_port(), _free_port(), _free_port()
    ctx = multiprocessing.get_context("spawn")
    counts = ctx.Array("i", 2)
    child = ctx.Process(target=_sinks, args=(sms_port, smtp_port, counts), daemon=True)
    child.start()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    settings = load_settings(
        env={},
        data_dir=data_dir,
        admin_api_key=ADMIN,
        host="127.0.0.1",
        port=http_port,
        composite_enabled=False,
        transcription_enabled=False,
        face_checks_enabled=False,
        overload_shedding=False,
        identity_default_policy="none",
    )
    settings = replace(
        settings,
        message_http_url=f"http://127.0.0.1:{sms_port}/sms",
        message_smtp_host="127.0.0.1",
        message_smtp_port=smtp_port,
        message_smtp_from="court@bench.example",
        message_smtp_security="none",
        jobs_concurrency=concurrency,
        jobs_poll_seconds=0.5,
        # Not started with the app: the runner starts after enqueueing, so the two phases
        # are measured apart.
        jobs_enabled=False,
    )
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", http_port).start()
    lag = LagSeries()
    lag.start()
    loop = asyncio.get_running_loop()
    base = f"http://127.0.0.1:{http_port}"
    headers = {"X-API-Key": ADMIN}
    result: dict[str, Any] = {}
    try:
        for port in (sms_port, smtp_port):  # the sinks are up before anything is sent
            while True:
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.close()
                    break
                except OSError:
                    await asyncio.sleep(0.1)
        async with aiohttp.ClientSession(base, headers=headers) as http:
            async with http.post(
                "/api/hearings",
                json={
                    "case_number": "(2026)京0105民初12345号",
                    "court": "北京市朝阳区人民法院",
                    "title": "批量送达基准",
                    "scheduled_start": "2026-12-20T09:00:00+08:00",
                    "scheduled_end": "2026-12-20T11:00:00+08:00",
                },
            ) as resp:
                hid = (await resp.json())["id"]
            pdf = b"%PDF-1.4\n" + b"0" * 20_000 + b"\n%%EOF\n"
            async with http.post(
                f"/api/hearings/{hid}/documents?kind=summons&title=传票",
                data=pdf,
                headers={"Content-Type": "application/pdf"},
            ) as resp:
                doc = (await resp.json())["id"]
            size0 = _size(data_dir)
            jobs = app[keys.JOBS]
            t0 = loop.time()
            for start in range(0, recipients, BATCH):
                batch = [
                    {
                        "name": f"当事人{n}",
                        "phone": f"138{n:08d}",
                        "email": f"party{n}@bench.example",
                    }
                    for n in range(start, min(start + BATCH, recipients))
                ]
                async with http.post(
                    f"/api/hearings/{hid}/documents/{doc}/service", json={"recipients": batch}
                ) as resp:
                    assert resp.status == 201, await resp.text()
            t1 = loop.time()
            size1 = _size(data_dir)
            jobs.start()
            assert await jobs.drain(3600.0, horizon_s=3600)
            t2 = loop.time()
            size2 = _size(data_dir)
        deliveries = recipients * 2
        result = {
            "recipients": recipients,
            "deliveries": deliveries,
            "concurrency": concurrency,
            "enqueue_s": round(t1 - t0, 2),
            "enqueue_per_s": round(deliveries / (t1 - t0), 1),
            "send_s": round(t2 - t1, 2),
            "send_per_s": round(deliveries / (t2 - t1), 1),
            "sms_received": counts[0],
            "email_received": counts[1],
            "done": jobs.health.done,
            "dead": jobs.health.dead,
            "store_bytes_before": size0,
            "store_bytes_after_enqueue": size1,
            "store_bytes_after_send": size2,
            "store_bytes_per_delivery": round((size2 - size0) / deliveries),
            "lag_enqueue": lag_summary(lag.ticks, t0, t1),
            "lag_send": lag_summary(lag.ticks, t1, t2),
        }
    finally:
        await lag.stop()
        await runner.cleanup()
        child.terminate()
        child.join(5)
    if result:
        # Closed, the store has checkpointed its write-ahead log into the file.
        result["store_file_bytes_closed"] = (data_dir / "hearings.sqlite3").stat().st_size
        result["store_file_bytes_per_delivery_closed"] = round(
            (result["store_file_bytes_closed"] - result["store_bytes_before"])
            / result["deliveries"]
        )
    result["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    result = asyncio.run(run(args.recipients, args.concurrency))
    text = json.dumps(result, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
