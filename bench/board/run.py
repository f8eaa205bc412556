"""``python -m bench.board.run``: do the judge's console and the clerk's board stay responsive
with 50 participants in a hearing and 20 hearings on the board? (issue 14, performance)

The real server (``hearing-server serve`` with the bench lag ticker; composite and
transcription off, nobody publishes media: this measures signaling and the board) in a child
process; 20 hearings of 50 participants each (the first in session, the others open), created
through the staff API; in the first, the judge and 49 participants connected over socket.io.
Measured, side by side in one run:

- event → judge: a party raises or lowers a hand; time until the judge's client receives the
  ``participant_updated`` push (N toggles, spread over the 49);
- event → console DOM: the same, until the row of that person in a headless Chromium console
  (Debian's chromium) shows the hand (a MutationObserver stamps ``Date.now()``; one machine,
  one clock);
- ``GET /api/board`` with 20 x 50 people: time per request (sequential, then 10 at once);
- the server's CPU and event-loop lag over each phase.

Inside a network namespace with only loopback, as root, from the checkout::

    unshare -n sh -c 'ip link set lo up && exec .venv/bin/python -m bench.board.run'

Writes ``--out`` (default ``bench/results/board.json``) and prints the markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from bench.sfu.api import Api
from bench.sfu.children import Child
from bench.sfu.loopback import use_loopback_only
from bench.sfu.machine import describe_code, describe_machine
from bench.sfu.numbers import percentile
from bench.sfu.procstat import process_cpu_seconds
from bench.sfu.session import free_port, loopback_server_env, wait_healthy
from signaling.client import HearingClient

RESULTS = Path(__file__).resolve().parents[1] / "results"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required", "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]  # fmt: skip

# Stamps the moment a row's hand flag changes: window.__marks[pid] = [Date.now(), raised].
OBSERVE = """
() => {
  window.__marks = {};
  const seen = new Map();
  const check = () => {
    for (const row of document.querySelectorAll('.prow[data-participant-id]')) {
      const pid = row.dataset.participantId, hand = row.dataset.hand;
      if (seen.get(pid) !== hand) {
        seen.set(pid, hand);
        (window.__marks[pid] = window.__marks[pid] || []).push([Date.now(), hand === 'true']);
      }
    }
  };
  new MutationObserver(check).observe(document.body, {subtree: true, childList: true,
    attributes: true, attributeFilter: ['data-hand']});
  check();
}
"""


NO_CAMERA = """
navigator.mediaDevices.getUserMedia = () =>
  Promise.reject(new DOMException('no camera in this benchmark', 'NotFoundError'));
"""

HAND_UP = (
    "(p) => document.querySelector(`.prow[data-participant-id='${p}']`).dataset.hand === 'true'"
)


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def summary(values: list[float]) -> dict[str, Any]:
    s = sorted(values)
    return {
        "n": len(s),
        "p50_ms": _ms(percentile(s, 50)),
        "p95_ms": _ms(percentile(s, 95)),
        "max_ms": _ms(s[-1] if s else None),
    }


class Phase:
    """CPU of the server and its loop lag over one phase."""

    def __init__(self, server_pid: int, lag_url: str, http: aiohttp.ClientSession, key: str):
        self._pid, self._lag_url, self._http, self._key = server_pid, lag_url, http, key

    async def __aenter__(self) -> Phase:
        self.cpu0, self.t0, self.mono0 = process_cpu_seconds(self._pid), time.monotonic(), None
        async with self._http.get(
            self._lag_url, params={"since": "0"}, headers={"X-API-Key": self._key}
        ) as r:
            ticks = await r.json()
        self.mono0 = ticks[-1][0] if ticks else 0.0
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.seconds = time.monotonic() - self.t0
        self.cpu = (process_cpu_seconds(self._pid) - self.cpu0) / self.seconds
        async with self._http.get(
            self._lag_url, params={"since": str(self.mono0)}, headers={"X-API-Key": self._key}
        ) as r:
            lags = sorted(lag for _, lag in await r.json())
        self.lag = {
            "p50_ms": _ms(percentile(lags, 50)),
            "p99_ms": _ms(percentile(lags, 99)),
            "max_ms": _ms(lags[-1] if lags else None),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 1),
            "server_cpu_s_per_s": round(self.cpu, 3),
            "loop_lag": self.lag,
        }


async def create_hearings(api: Api, hearings: int, people: int) -> list[dict[str, Any]]:
    out = []
    now = datetime.now(UTC)
    for h in range(hearings):
        hearing = await api.request("POST", "/api/hearings", {
            "case_number": f"(2026)京0105民初{10000 + h}号", "court": "北京市朝阳区人民法院",
            "title": f"看板基准 {h + 1}", "scheduled_start": now.isoformat(),
            "scheduled_end": (now + timedelta(hours=2)).isoformat(), "visibility": "public",
        })  # fmt: skip
        hid = hearing["id"]
        members = []
        for i in range(people):
            role = "judge" if i == 0 else "clerk" if i == 1 else "party"
            body: dict[str, Any] = {"role": role, "display_name": f"参与人{h + 1}-{i + 1}"}
            if role == "party":
                body["side"] = "plaintiff" if i % 2 else "defendant"
            p = await api.request("POST", f"/api/hearings/{hid}/participants", body)
            link = await api.request("POST", f"/api/participants/{p['id']}/links", {})
            members.append({"id": p["id"], "role": role, "token": link["token"]})
        await api.request("POST", f"/api/hearings/{hid}/transitions", {"action": "open"})
        out.append({"id": hid, "people": members})
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    use_loopback_only()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-board-"))
    key = secrets.token_hex(16)
    port = free_port()
    env = {
        **loopback_server_env(data_dir, port, key),
        "HEARING_COMPOSITE_ENABLED": "false",
        "HEARING_TRANSCRIPTION_ENABLED": "false",
        "HEARING_IDENTITY_DEFAULT_POLICY": "none",
        "HEARING_OVERLOAD_SHEDDING": "false",
    }
    base = f"http://127.0.0.1:{port}"
    server = await Child.start("server", "bench.actions.server", [], data_dir, env=env)
    clients: list[HearingClient] = []
    record: dict[str, Any] = {"config": vars(args)}
    try:
        async with aiohttp.ClientSession() as http:
            await wait_healthy(http, base, server, timeout=60)
            api = Api(http, base, key)
            hearings = await create_hearings(api, args.hearings, args.people)
            first = hearings[0]
            judge_info, *rest = first["people"]
            judge = HearingClient(base, judge_info["token"])
            await judge.connect()
            await judge.join()
            await judge.call("hearing_action", {"action": "start"})  # the judge's call, not staff's
            parties = []
            for person in rest:
                c = HearingClient(base, person["token"])
                await c.connect()
                await c.join()
                clients.append(c)
                if person["role"] == "party":
                    parties.append((person["id"], c))
            lag_url = f"{base}/bench/loop-lag-series"

            # -- event -> the judge's client ---------------------------------------------
            async with Phase(server.pid, lag_url, http, key) as phase:
                latencies = []
                for n in range(args.toggles):
                    pid, client = parties[n % len(parties)]
                    raised = (n // len(parties)) % 2 == 0
                    t0 = time.monotonic()
                    await client.call("raise_hand", {"raised": raised})
                    await judge.wait_for_event(
                        "participant_updated",
                        lambda d, pid=pid, raised=raised, t0=t0: (
                            d["id"] == pid and d["hand_raised"] == raised
                        ),
                        timeout=10,
                    )
                    latencies.append(time.monotonic() - t0)
            record["event_to_judge_client"] = {**summary(latencies), **phase.to_json()}

            # -- event -> the console's DOM in Chromium ------------------------------------
            from playwright.async_api import async_playwright

            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
                page = await (
                    await browser.new_context(viewport={"width": 1440, "height": 900})
                ).new_page()
                # A console without a camera: nothing is published, so the 49 clients receive
                # no media and the phase measures signaling and the page, as the others do.
                await page.add_init_script(NO_CAMERA)
                await judge.close()  # the console's page is the judge now
                await page.goto(f"{base}/join#token={judge_info['token']}")
                await page.wait_for_selector(".screen.console", timeout=60_000)
                await page.wait_for_function(
                    f"document.querySelectorAll('.prow').length >= {args.people}", timeout=60_000
                )
                await page.evaluate(OBSERVE)
                dom = []
                async with Phase(server.pid, lag_url, http, key) as phase:
                    for n in range(args.dom_toggles):
                        pid, client = parties[n % len(parties)]
                        marks = await page.evaluate("(p) => (window.__marks[p] || []).length", pid)
                        raised = not (
                            await page.evaluate(
                                HAND_UP,
                                pid,
                            )
                        )
                        t0 = time.time()
                        await client.call("raise_hand", {"raised": raised})
                        await page.wait_for_function(
                            "([p, n]) => (window.__marks[p] || []).length > n",
                            arg=[pid, marks],
                            timeout=10_000,
                        )
                        at = await page.evaluate("(p) => window.__marks[p].at(-1)[0]", pid)
                        dom.append(max(0.0, at / 1000 - t0))
                record["event_to_console_dom"] = {**summary(dom), **phase.to_json()}
                await browser.close()

            # -- the board -----------------------------------------------------------------
            headers = {"X-API-Key": key}
            async with Phase(server.pid, lag_url, http, key) as phase:
                times = []
                for _ in range(args.board_requests):
                    t0 = time.monotonic()
                    async with http.get(f"{base}/api/board", headers=headers) as r:
                        body = await r.json()
                        assert r.status == 200
                    times.append(time.monotonic() - t0)
            assert len(body["hearings"]) == args.hearings
            assert (
                sum(len(h["participants"]) for h in body["hearings"]) == args.hearings * args.people
            )
            record["board_sequential"] = {
                **summary(times),
                **phase.to_json(),
                "bytes": len(json.dumps(body)),
            }

            async def one() -> float:
                t0 = time.monotonic()
                async with http.get(f"{base}/api/board", headers=headers) as r:
                    await r.read()
                return time.monotonic() - t0

            async with Phase(server.pid, lag_url, http, key) as phase:
                concurrent: list[float] = []
                for _ in range(max(1, args.board_requests // 10)):
                    concurrent += await asyncio.gather(*(one() for _ in range(10)))
            record["board_10_at_once"] = {**summary(concurrent), **phase.to_json()}
    finally:
        for c in clients:
            await c.close()
        await server.stop(exit_wait=5)
    return record


def markdown(rec: dict[str, Any]) -> str:
    rows = [
        ("hand raised → the judge's client (socket.io push)", rec["event_to_judge_client"]),
        ("hand raised → the console's row in Chromium (DOM)", rec["event_to_console_dom"]),
        ("`GET /api/board`, 20 hearings x 50 people, one at a time", rec["board_sequential"]),
        ("`GET /api/board`, 10 at once", rec["board_10_at_once"]),
    ]
    out = [
        "| measure | n | p50 | p95 | max | server CPU-s/s | loop lag p99 / max |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in rows:
        lag = r["loop_lag"]
        out.append(
            f"| {name} | {r['n']} | {r['p50_ms']} ms | {r['p95_ms']} ms | {r['max_ms']} ms | "
            f"{r['server_cpu_s_per_s']} | {lag['p99_ms']} / {lag['max_ms']} ms |"
        )
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--hearings", type=int, default=20)
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--toggles", type=int, default=200)
    parser.add_argument("--dom-toggles", type=int, default=60)
    parser.add_argument("--board-requests", type=int, default=100)
    parser.add_argument("--out", type=Path, default=RESULTS / "board.json")
    args = parser.parse_args()
    started = time.time()
    record = asyncio.run(run(args))
    record["machine"] = describe_machine()
    record["code"] = describe_code()
    record["started"] = datetime.fromtimestamp(started, UTC).isoformat()
    with open("/proc/loadavg") as fh:
        record["loadavg_after"] = fh.read().split()[:3]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, ensure_ascii=False, indent=1, default=str))
    print(markdown(record))
    print(f"written {args.out}; load average after: {record['loadavg_after']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
