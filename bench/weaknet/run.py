"""A party on a weak line (issue 23): what the judge receives from them through the server
when their link goes bad, against the same party on a clean link, in one run.

    python -m bench.weaknet.run [--loss-s 10] [--rate-s 20] [--out FILE]

as root inside a fresh network namespace (``unshare -n sh -c 'ip link set lo up && exec
python -m bench.weaknet.run'``). The party (``bench.weaknet.party``, a child process) sits in
a lab namespace of its own behind the link emulator (``testbed.netlab``); the server
(``hearing-server serve``, a child process: composite, recording and captions off, so what
is measured is the media path) listens on our end of the lab's veth only; the judge
(:class:`bench.weaknet.observer.Observer`) joins from this process and decodes the party's
audio and video. The scenarios, one after the other on the same connections:

1. clean: the baseline frame rates;
2. blackout: nothing crosses the party's link for 1 s; how long after the link returns the
   judge has the party's audio, and decodes their video, again;
3. 20 % loss both ways for ``--loss-s`` s, then clean: whether anyone was dropped (the
   party's socket and connections, the server's view of them), and whether audio and video
   come back;
4. 300 kbit/s both ways for ``--rate-s`` s: the share of the party's audio frames that
   arrive, and that arrive late (more than 150 ms behind the earliest), and the video rate.

Prints a table and writes the record (``bench/results/weaknet.json`` by default).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import aioice.ice

from bench.overload.sources import AUDIO_FPS, FPS
from bench.sfu.children import Child
from bench.sfu.session import free_port, wait_healthy, web_client_env
from bench.transcription.e2e_session import PersonSpec, Server, StaffApi
from testbed.netlab import Direction, Lab, unavailable

from .observer import Frames, Observer

REPO = Path(__file__).resolve().parents[2]
LATE_S = 0.150  # an audio frame later than this behind the earliest misses a playout buffer
CLEAN = Direction()


@dataclass
class Config:
    """How long each scenario lasts."""

    clean_s: float = 5.0
    blackout_s: float = 1.0
    after_blackout_s: float = 4.0
    loss: float = 0.20
    loss_s: float = 10.0
    rate_kbps: float = 300.0
    rate_s: float = 20.0
    settle_s: float = 5.0  # clean, after each impairment
    server_env: dict[str, str] = field(default_factory=dict)


def _rates(frames: dict[str, Frames], start: float, end: float) -> dict[str, float]:
    span = end - start
    return {kind: round(f.count(start, end) / span, 2) for kind, f in frames.items()}


def _since(t: float, later: float | None) -> float | None:
    return round(later - t, 3) if later is not None else None


def _late_share(frames: Frames, start: float, end: float) -> tuple[int, float]:
    """(frames, share late): the lateness of a frame is its arrival minus its media time,
    against the earliest such difference in the window."""
    offsets = [t - m for t, m in frames.between(start, end)]
    if not offsets:
        return 0, 1.0
    base = min(offsets)
    late = sum(1 for o in offsets if o - base > LATE_S)
    return len(offsets), late / len(offsets)


class WeakLineRun:
    """One run: the lab, the server, the party, the judge, the scenarios."""

    def __init__(self, config: Config, log_dir: Path) -> None:
        self.config = config
        self.log_dir = log_dir
        self.record: dict[str, Any] = {"config": asdict(config)}

    async def run(self) -> dict[str, Any]:
        reason = unavailable()
        if reason is not None:
            raise RuntimeError(f"no lab here: {reason}")
        with Lab() as lab, tempfile.TemporaryDirectory(prefix="weaknet-") as data:
            # The judge's candidates, like the server's, on our end of the lab's veth.
            saved = aioice.ice.get_host_addresses

            def ours(use_ipv4: bool, use_ipv6: bool) -> list[str]:
                return [lab.our_address] if use_ipv4 else []

            aioice.ice.get_host_addresses = ours
            try:
                await self._run(lab, Path(data))
            finally:
                aioice.ice.get_host_addresses = saved
        return self.record

    async def _run(self, lab: Lab, data_dir: Path) -> None:
        port, key = free_port(), secrets.token_urlsafe(24)
        url = f"http://{lab.our_address}:{port}"
        env = {
            "HEARING_DATA_DIR": str(data_dir),
            "HEARING_HOST": lab.our_address,
            "HEARING_PORT": str(port),
            "HEARING_ADMIN_API_KEY": key,
            "HEARING_MEDIA_ANNOUNCED_ADDRESSES": lab.our_address,
            "HEARING_IDENTITY_DEFAULT_POLICY": "none",
            "HEARING_COMPOSITE_ENABLED": "false",
            "HEARING_RECORDING_AUTO_START": "false",
            "HEARING_TRANSCRIPTION_ENABLED": "false",
            **web_client_env(data_dir),
            **self.config.server_env,
        }
        server = await Child.start("server", "hearing_server", ["serve"], self.log_dir, env=env,
                                   cwd=REPO)  # fmt: skip
        party: Child | None = None
        observer: Observer | None = None
        try:
            async with aiohttp.ClientSession() as http:
                await wait_healthy(http, url, server, timeout=60)
                staff = StaffApi(http, Server(url, key, server.pid))
                _, people = await staff.create_hearing(
                    "Weak line",
                    [
                        PersonSpec("judge", "judge", "Judge"),
                        PersonSpec("party", "party", "Party", side="plaintiff"),
                    ],
                )
            observer = Observer(url, people["judge"][1])
            await observer.join()
            party = await self._start_party(lab, url, people["party"][1])
            party_id = (await party.expect("joined", 60))["id"]
            await observer.watch(party_id)
            await self._warm_up(observer)
            await self._scenarios(lab, observer, party, party_id)
        finally:
            if party is not None:
                await party.send("stop")
                await party.stop(exit_wait=5)
            if observer is not None:
                await observer.close()
            await server.stop(term_wait=10)

    async def _start_party(self, lab: Lab, url: str, token: str) -> Child:
        spec = {"url": url, "token": token, "address": lab.their_address, "speech_s": 600}
        log_path = self.log_dir / "party.log"
        with log_path.open("ab") as stderr:
            proc = await asyncio.create_subprocess_exec(
                *lab.command(sys.executable, "-m", "bench.weaknet.party", json.dumps(spec)),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                cwd=REPO,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )
        return Child("party", proc, log_path)

    async def _warm_up(self, observer: Observer, timeout: float = 30.0) -> None:
        """Until the judge decodes the party's video at its rate."""
        deadline = time.monotonic() + timeout
        video = observer.frames["video"]
        while time.monotonic() < deadline:
            now = time.monotonic()
            if video.count(now - 1.0, now) >= FPS * 0.8:
                return
            await asyncio.sleep(0.2)
        counts = {kind: len(f.arrived) for kind, f in observer.frames.items()}
        raise RuntimeError(
            f"the party's video never reached the judge at its rate on a clean link: {counts}"
        )

    async def _scenarios(self, lab: Lab, obs: Observer, party: Child, party_id: str) -> None:
        cfg, frames, rec = self.config, obs.frames, self.record
        t0 = time.monotonic()
        await asyncio.sleep(cfg.clean_s)
        rec["clean"] = {"fps": _rates(frames, t0, time.monotonic())}

        # -- a blackout --
        lab.blackout(cfg.blackout_s)
        back = time.monotonic() + cfg.blackout_s
        await asyncio.sleep(cfg.blackout_s + cfg.after_blackout_s)
        audio, video = frames["audio"].first_after(back), frames["video"].first_after(back)
        rec["blackout"] = {
            "seconds": cfg.blackout_s,
            "audio_back_s": _since(back, audio),
            "video_back_s": _since(back, video),
            # 0: the server had the lost packets resent (NACK) and needed no keyframe
            "keyframes_after": len([t for t in frames["video"].keyframes if t >= back]),
            "fps_after": _rates(frames, back + 2.0, time.monotonic()),
        }

        # -- heavy loss, then clean --
        start = time.monotonic()
        lab.both(Direction(loss=cfg.loss))
        await asyncio.sleep(cfg.loss_s)
        lab.both(CLEAN)
        clean_again = time.monotonic()
        await asyncio.sleep(cfg.settle_s)
        await party.send("status")
        status = await party.expect("status", 20)
        rec["loss"] = {
            "loss": cfg.loss,
            "seconds": cfg.loss_s,
            "fps_during": _rates(frames, start, clean_again),
            "fps_after": _rates(frames, clean_again + 2.0, time.monotonic()),
            "party": {k: status[k] for k in ("socket", "publish", "subscribe")},
            "party_connection_states": status["states"],
            "server_saw_party_drop": obs.drops_of(party_id),
        }

        # -- a narrow link --
        start = time.monotonic()
        lab.both(Direction(rate_kbps=cfg.rate_kbps, queue_ms=200))
        await asyncio.sleep(cfg.rate_s)
        end = time.monotonic()
        lab.both(CLEAN)
        # The first seconds are the encoder finding the rate: judged from the third on.
        n, late = _late_share(frames["audio"], start + 2.0, end)
        expected = AUDIO_FPS * (end - start - 2.0)
        rec["narrow"] = {
            "rate_kbps": cfg.rate_kbps,
            "seconds": cfg.rate_s,
            "audio_received": round(n / expected, 4),
            "audio_late_share": round(late, 4),
            "fps": _rates(frames, start + 2.0, end),
            "link": lab.stats(),
        }
        await asyncio.sleep(cfg.settle_s)
        rec["after_all"] = {"fps": _rates(frames, time.monotonic() - 2.0, time.monotonic())}


def table(record: dict[str, Any]) -> str:
    """The record as the rows of docs/performance.md's table."""
    b, lo, na = record["blackout"], record["loss"], record["narrow"]
    rows = [
        ("clean link: audio / video frames per second", f"{record['clean']['fps']['audio']} / "
         f"{record['clean']['fps']['video']} (sent {AUDIO_FPS} / {FPS})"),
        (f"{b['seconds']:g} s blackout: audio back after", f"{b['audio_back_s']} s"),
        (f"{b['seconds']:g} s blackout: video (whole pictures) back after",
         f"{b['video_back_s']} s ({b['keyframes_after']} keyframes after)"),
        (f"{lo['loss']:.0%} loss for {lo['seconds']:g} s: audio / video fps during",
         f"{lo['fps_during']['audio']} / {lo['fps_during']['video']}"),
        ("... then clean: audio / video fps", f"{lo['fps_after']['audio']} / "
         f"{lo['fps_after']['video']}"),
        ("... the party dropped (their side / the server's)",
         f"{lo['party']} / {len(lo['server_saw_party_drop'])} drops"),
        (f"{na['rate_kbps']:g} kbit/s: audio frames received / late (> {LATE_S * 1000:g} ms)",
         f"{na['audio_received']:.1%} / {na['audio_late_share']:.1%}"),
        (f"{na['rate_kbps']:g} kbit/s: video fps", f"{na['fps']['video']}"),
    ]  # fmt: skip
    return "\n".join(f"| {a} | {b} |" for a, b in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.weaknet.run")
    parser.add_argument("--loss-s", type=float, default=10.0)
    parser.add_argument("--rate-s", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "weaknet.json")
    parser.add_argument("--logs", type=Path, help="keep the server's and party's logs here")
    args = parser.parse_args(argv)
    config = Config(loss_s=args.loss_s, rate_s=args.rate_s)
    if args.logs is not None:
        args.logs.mkdir(parents=True, exist_ok=True)
        record = asyncio.run(WeakLineRun(config, args.logs).run())
    else:
        with tempfile.TemporaryDirectory(prefix="weaknet-logs-") as logs:
            record = asyncio.run(WeakLineRun(config, Path(logs)).run())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(table(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
