"""``python -m bench.evidence.run``: evidence in the hearing (issue 26, figures).

Side by side in one run:

- **Page turns**: the real server (``bench.actions.server`` in a child process, composite and
  transcription off) with a hearing in session: the judge presents a 20-page PDF and turns a
  page every 250 ms, ``--turns`` times; ``--followers`` participants in the hearing room
  receive each ``presentation`` push. Measured: presenter's call → each follower's push
  (p50/p95); the page picture (JPEG, 1080 px wide) fetched by a follower, the first time
  (PDFium renders it) and again (cached); so "what the follower sees" is push + picture.
- **Composite CPU** with an exhibit page in the large tile vs without: one ``Compositor``
  in this process (4 inputs of 640x360 at 25 fps, like bench.compositor), 15 s each.
- **Upload**: a 200 MB file in 1 MB ``PATCH`` pieces through the server: throughput, and the
  server's resident memory before, at its peak during the upload, and after.

Inside a network namespace with only loopback, as root, from the checkout::

    unshare -n sh -c 'ip link set lo up && exec .venv/bin/python -m bench.evidence.run'

Writes ``--out`` (default ``bench/results/evidence.json``) and prints the markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

from bench.compositor.run import ROLES, make_clip, make_tone, paced, process_cpu
from bench.sfu.api import Api
from bench.sfu.children import Child
from bench.sfu.loopback import use_loopback_only
from bench.sfu.machine import describe_code, describe_machine
from bench.sfu.numbers import percentile
from bench.sfu.session import free_port, loopback_server_env, wait_healthy
from hearing_server.media.compositor import Compositor, CompositorConfig
from hearing_server.media.compositor.still import page_frame
from signaling.client import HearingClient

RESULTS = Path(__file__).resolve().parents[1] / "results"
TARGET_P95_MS = 300.0


def _ms(v: float | None) -> float | None:
    return None if v is None else round(v * 1000, 1)


def summary(values: list[float]) -> dict[str, Any]:
    s = sorted(values)
    return {"n": len(s), "p50_ms": _ms(percentile(s, 50)), "p95_ms": _ms(percentile(s, 95)),
            "max_ms": _ms(s[-1] if s else None)}  # fmt: skip


def contract_pdf(pages: int) -> bytes:
    """A text-heavy PDF like a contract: a page of lines each."""
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    for n in range(pages):
        c.setFont("Helvetica-Bold", 18)
        c.drawString(72, 780, f"Loan agreement, page {n + 1}")
        c.setFont("Helvetica", 10)
        for line in range(60):
            c.drawString(72, 750 - line * 11, f"{line + 1:02d} The borrower repays the loan " * 3)
        c.showPage()
    c.save()
    return out.getvalue()


class StampingClient(HearingClient):
    """Stamps the arrival of every ``presentation`` push (monotonic clock, this process)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.arrivals: dict[int, float] = {}

    async def _record(self, name: str, data: Any = None) -> None:
        if name == "presentation" and data and data.get("showing"):
            self.arrivals.setdefault(data["showing"]["seq"], time.monotonic())
        await super()._record(name, data)


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


async def upload(http: aiohttp.ClientSession, base: str, token: str, data: bytes,
                 title: str, piece: int = 1024 * 1024) -> dict[str, Any]:  # fmt: skip
    who = {"Authorization": f"Bearer {token}"}
    announce = {"size": len(data), "filename": "x.pdf"}
    async with http.post(f"{base}/api/me/evidence/uploads", json=announce, headers=who) as r:
        up = (await r.json())["upload_id"]
    for start in range(0, len(data), piece):
        async with http.patch(
            f"{base}/api/me/evidence/uploads/{up}", data=data[start : start + piece],
            headers={**who, "Upload-Offset": str(start),
                     "Content-Type": "application/offset+octet-stream"},
        ) as r:  # fmt: skip
            assert r.status == 200, await r.text()
    async with http.post(f"{base}/api/me/evidence/uploads/{up}/complete",
                         json={"title": title}, headers=who) as r:  # fmt: skip
        body: dict[str, Any] = await r.json()
        assert r.status == 201, body
        return body


async def server_phases(args: argparse.Namespace) -> dict[str, Any]:
    use_loopback_only()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-evidence-"))
    key = secrets.token_hex(16)
    port = free_port()
    env = {
        **loopback_server_env(data_dir, port, key),
        "HEARING_COMPOSITE_ENABLED": "false",
        "HEARING_TRANSCRIPTION_ENABLED": "false",
        "HEARING_IDENTITY_DEFAULT_POLICY": "none",
        "HEARING_OVERLOAD_SHEDDING": "false",
        "HEARING_EVIDENCE_MAX_BYTES": str(256 * 1024 * 1024),
    }
    base = f"http://127.0.0.1:{port}"
    server = await Child.start("server", "bench.actions.server", [], data_dir, env=env)
    clients: list[HearingClient] = []
    out: dict[str, Any] = {}
    try:
        async with aiohttp.ClientSession() as http:
            await wait_healthy(http, base, server, timeout=60)
            api = Api(http, base, key)
            now = datetime.now(UTC)
            hearing = await api.request("POST", "/api/hearings", {
                "case_number": "(2026)京0105民初20001号", "court": "北京市朝阳区人民法院",
                "title": "举证基准", "scheduled_start": now.isoformat(),
                "scheduled_end": (now + timedelta(hours=2)).isoformat(),
            })  # fmt: skip
            hid = hearing["id"]
            tokens: list[str] = []
            for i in range(args.followers + 1):
                role = "judge" if i == 0 else "party"
                body: dict[str, Any] = {"role": role, "display_name": f"参与人{i}"}
                if role == "party":
                    body["side"] = "plaintiff" if i % 2 else "defendant"
                p = await api.request("POST", f"/api/hearings/{hid}/participants", body)
                link = await api.request("POST", f"/api/participants/{p['id']}/links", {})
                tokens.append(link["token"])
            await api.request("POST", f"/api/hearings/{hid}/transitions", {"action": "open"})
            judge = StampingClient(base, tokens[0])
            await judge.connect()
            await judge.join()
            await judge.call("hearing_action", {"action": "start"})
            for token in tokens[1:]:
                c = StampingClient(base, token)
                await c.connect()
                await c.join()
                clients.append(c)

            # -- page turns ----------------------------------------------------------------
            pdf = contract_pdf(20)
            exhibit = await upload(http, base, tokens[0], pdf, "借款合同")
            await judge.call("present", {"exhibit_id": exhibit["id"]})
            sent: dict[int, float] = {}
            cpu0 = time.process_time()
            for i in range(args.turns):
                t0 = time.monotonic()
                reply = await judge.call("presentation_move", {"page": 2 + i % 19})
                sent[reply["showing"]["seq"]] = t0
                await asyncio.sleep(0.25)
            await asyncio.sleep(1)
            push = [
                c.arrivals[seq] - t0
                for seq, t0 in sent.items()
                for c in clients
                if seq in c.arrivals  # type: ignore[attr-defined]
            ]
            missing = sum(1 for seq in sent for c in clients if seq not in c.arrivals)  # type: ignore[attr-defined]
            who = {"Authorization": f"Bearer {tokens[1]}"}
            cold: list[float] = []
            warm: list[float] = []
            for page in range(1, 21):
                for bucket in (cold, warm):
                    t0 = time.monotonic()
                    url = f"{base}/api/me/evidence/{exhibit['id']}/pages/{page}?width=1080"
                    async with http.get(url, headers=who) as r:
                        await r.read()
                    bucket.append(time.monotonic() - t0)
            out["page_turns"] = {
                "followers": args.followers,
                "turns": args.turns,
                "push": summary(push),
                "pushes_missing": missing,
                "page_picture_first_time": summary(cold),
                "page_picture_cached": summary(warm),
                "bench_process_cpu_s": round(time.process_time() - cpu0, 2),
            }

            # -- upload --------------------------------------------------------------------
            big = os.urandom(1024 * 1024) * 200  # 200 MB (the limit's default)
            big = b"%PDF-" + big[5:]  # refused at the end as a malformed PDF: the upload counts
            rss0 = rss_kb(server.pid)
            peak = rss0
            done = asyncio.Event()

            async def sample() -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, rss_kb(server.pid))
                    await asyncio.sleep(0.05)

            sampler = asyncio.create_task(sample())
            t0 = time.monotonic()
            who = {"Authorization": f"Bearer {tokens[0]}"}
            announce = {"size": len(big), "filename": "big.pdf"}
            async with http.post(
                f"{base}/api/me/evidence/uploads", json=announce, headers=who
            ) as r:
                up = (await r.json())["upload_id"]
            piece = 1024 * 1024
            for start in range(0, len(big), piece):
                async with http.patch(
                    f"{base}/api/me/evidence/uploads/{up}", data=big[start : start + piece],
                    headers={**who, "Upload-Offset": str(start),
                             "Content-Type": "application/offset+octet-stream"},
                ) as r:  # fmt: skip
                    assert r.status == 200, await r.text()
            upload_s = time.monotonic() - t0
            t1 = time.monotonic()
            async with http.post(f"{base}/api/me/evidence/uploads/{up}/complete",
                                 json={"title": "大文件"}, headers=who) as r:  # fmt: skip
                check_status = r.status
            check_s = time.monotonic() - t1
            done.set()
            await sampler
            out["upload"] = {
                "bytes": len(big),
                "piece_bytes": piece,
                "seconds": round(upload_s, 2),
                "mb_per_s": round(len(big) / 1e6 / upload_s, 1),
                "content_check_s": round(check_s, 2),
                "content_check_status": check_status,
                "server_rss_mb_before": round(rss0 / 1024, 1),
                "server_rss_mb_peak": round(peak / 1024, 1),
                "server_rss_mb_after": round(rss_kb(server.pid) / 1024, 1),
            }
    finally:
        for c in clients:
            await c.close()
        await server.stop()
    return out


async def composite_cpu(seconds: float) -> dict[str, Any]:
    """Process CPU of one compositor with 4 inputs, without and with an exhibit shown."""
    clips = [make_clip(i, 50) for i in range(4)]
    tones = [make_tone(i) for i in range(4)]
    comp = Compositor(
        CompositorConfig(court="北京市朝阳区人民法院", case_number="(2026)京0105民初1号")
    )
    comp.add_sink(lambda frame: None)
    for i in range(4):
        role, side, name = ROLES[i % len(ROLES)]
        comp.add_participant(f"p{i}", name, role, paced(clips[i], 25, i * 0.004),
                             paced(tones[i], 50, i * 0.002), side=side)  # fmt: skip
    page = Image.new("RGB", (478, 676), (255, 255, 255))
    await comp.start()
    await asyncio.sleep(3)
    result: dict[str, Any] = {}
    for case in ("without_exhibit", "with_exhibit", "without_exhibit_again"):
        if case == "with_exhibit":
            comp.show_exhibit(page_frame(page), "原告证据1 第1/20页", "借款合同")
        else:
            comp.clear_exhibit()
        await asyncio.sleep(2)
        c0, w0 = process_cpu(), time.monotonic()
        out0 = comp.stats.video_frames_out
        await asyncio.sleep(seconds)
        wall = time.monotonic() - w0
        result[case] = {
            "cpu_s_per_s": round((process_cpu() - c0) / wall, 3),
            "output_fps": round((comp.stats.video_frames_out - out0) / wall, 1),
        }
    await comp.close()
    return result


def markdown(record: dict[str, Any]) -> str:
    pt, up, comp = record["page_turns"], record["upload"], record["composite"]
    met = pt["push"]["p95_ms"] is not None and pt["push"]["p95_ms"] <= TARGET_P95_MS
    lines = [
        f"Page turns ({pt['followers']} followers, {pt['turns']} turns, 1 every 250 ms):",
        "",
        "| what | p50 ms | p95 ms | max ms |",
        "|---|---|---|---|",
    ]
    rows = (
        ("presenter's call → follower's push", "push"),
        ("page picture, first time (PDFium, 1080 px)", "page_picture_first_time"),
        ("page picture, cached", "page_picture_cached"),
    )
    for label, key in rows:
        s = pt[key]
        lines.append(f"| {label} | {s['p50_ms']} | {s['p95_ms']} | {s['max_ms']} |")
    lines += [
        "",
        f"Push p95 target ≤ {TARGET_P95_MS:.0f} ms: {'met' if met else 'NOT met'}; "
        f"pushes missing: {pt['pushes_missing']}.",
        "",
        "| composite (4 inputs, 25 fps) | CPU-s/s | output fps |",
        "|---|---|---|",
    ]
    for case in ("without_exhibit", "with_exhibit", "without_exhibit_again"):
        lines.append(f"| {case.replace('_', ' ')} | {comp[case]['cpu_s_per_s']} | "
                     f"{comp[case]['output_fps']} |")  # fmt: skip
    lines += [
        "",
        f"Upload of {up['bytes'] / 1e6:.0f} MB in {up['piece_bytes'] // 1024} KB pieces: "
        f"{up['mb_per_s']} MB/s ({up['seconds']} s), content check {up['content_check_s']} s; "
        f"server RSS {up['server_rss_mb_before']} MB before, {up['server_rss_mb_peak']} MB at "
        f"peak, {up['server_rss_mb_after']} MB after.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, default=8)
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--composite-seconds", type=float, default=15.0)
    parser.add_argument("--out", type=Path, default=RESULTS / "evidence.json")
    args = parser.parse_args()
    record: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": describe_machine(),
        "code": describe_code(),
        "config": {k: str(v) for k, v in vars(args).items()},
    }
    record.update(asyncio.run(server_phases(args)))
    record["composite"] = asyncio.run(composite_cpu(args.composite_seconds))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, ensure_ascii=False, indent=2))
    print(markdown(record))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
