"""Does signing an agreement disturb the event loop the media and signaling run on?

    python -m bench.esign.loop_lag [--signatures 6] [--out bench/results/esign-loop-lag.json]

One process, one event loop with a heartbeat that wants to run every 5 ms (as the forwarding
and ICE consent timers do); its lateness is the event-loop lag. Three phases, side by side in
one run: idle; signatures applied the way the server applies them (pyHanko in a worker thread,
``asyncio.to_thread``); the same signatures in a worker process. Prints a table of the lag's
p50/p95/p99/max and the time per signature in each phase, and writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import platform
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.esign.run import document, drawn_png
from esign import (
    SigningAuthority,
    certify,
    make_timestamper,
    party_field,
    render,
    sign_as,
)

TICK_S = 0.005
CST = datetime.timezone(datetime.timedelta(hours=8))


def _sign_in_child(authority_dir: str, pdf: bytes, png: bytes) -> bytes:
    return _sign_here(SigningAuthority.load_or_create(authority_dir), pdf, png)


def _sign_here(authority: SigningAuthority, pdf: bytes, png: bytes) -> bytes:
    credential = authority.issue_event_certificate("当事人1", "**************1000", "bench-1")
    return sign_as(
        pdf,
        party_field(0),
        credential,
        png,
        "当事人1",
        datetime.datetime.now(CST),
        make_timestamper(authority),
    )


async def _heartbeat(lags: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    due = loop.time() + TICK_S
    while not stop.is_set():
        await asyncio.sleep(max(0.0, due - loop.time()))
        now = loop.time()
        lags.append(max(0.0, now - due))
        due = now + TICK_S


def _summary(lags: list[float], per_signature: float | None) -> dict[str, float | None]:
    ms = sorted(x * 1000 for x in lags)

    def q(p: float) -> float:
        return round(ms[min(len(ms) - 1, int(p * len(ms)))], 2)

    return {
        "ticks": len(ms),
        "p50_ms": q(0.50),
        "p95_ms": q(0.95),
        "p99_ms": q(0.99),
        "max_ms": round(ms[-1], 2),
        "per_signature_s": None if per_signature is None else round(per_signature, 3),
    }


async def _phase(work: object) -> tuple[list[float], float | None]:
    lags: list[float] = []
    stop = asyncio.Event()
    beat = asyncio.create_task(_heartbeat(lags, stop))
    started = time.perf_counter()
    count = await work()  # type: ignore[operator]
    elapsed = time.perf_counter() - started
    stop.set()
    await beat
    return lags, (elapsed / count if count else None)


async def main_async(signatures: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        authority_dir = str(Path(tmp) / "esign")
        authority = SigningAuthority.load_or_create(authority_dir)
        rendered = render(document(2, 20, "zh-CN"))
        pdf = await asyncio.to_thread(certify, rendered, authority, make_timestamper(authority))
        png = drawn_png()

        async def idle() -> int:
            await asyncio.sleep(3.0)
            return 0

        async def in_thread() -> int:
            for _ in range(signatures):
                await asyncio.to_thread(_sign_here, authority, pdf, png)
            return signatures

        pool = ProcessPoolExecutor(max_workers=1)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(pool, _sign_in_child, authority_dir, pdf, png)  # warm up

        async def in_process() -> int:
            for _ in range(signatures):
                await loop.run_in_executor(pool, _sign_in_child, authority_dir, pdf, png)
            return signatures

        results: dict[str, object] = {}
        for name, work in (("idle", idle), ("thread", in_thread), ("process", in_process)):
            lags, per = await _phase(work)
            results[name] = _summary(lags, per)
        pool.shutdown()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=6)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = asyncio.run(main_async(args.signatures))
    print(
        f"{'phase':<8} {'ticks':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'s/signature':>12}"
    )
    for name, r in results.items():
        assert isinstance(r, dict)
        per = "-" if r["per_signature_s"] is None else f"{r['per_signature_s']:.3f}"
        print(
            f"{name:<8} {r['ticks']:>6} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['p99_ms']:>8} "
            f"{r['max_ms']:>8} {per:>12}"
        )
    record = {
        "benchmark": "esign-loop-lag",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} python {platform.python_version()}",
        "signatures": args.signatures,
        "tick_ms": TICK_S * 1000,
        "results": results,
    }
    if args.out:
        args.out.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
