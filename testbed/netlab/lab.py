"""One participant's network: a namespace of its own, joined to ours by a veth pair, with an
emulated link (delay, jitter, loss, bursts, a rate limit, blackouts) on our end.

These machines have no netem, so the link is built from what they do have: the veth pair,
iptables rules in *our* namespace that hand the packets crossing it to two NFQUEUEs, and the
shaper (:mod:`testbed.netlab.shaper`), a child process that holds each packet for its time or
drops it. Nothing but the veth connects the participant's namespace; its addresses
(``10.99.N.0/30``) exist only inside the namespaces this lab made, so nothing leaves the
machine. A holder process (``unshare -n sleep``) keeps the participant's namespace alive;
programs run in it through ``nsenter``. Everything dies with the process that made it
(``setpriv --pdeathsig``) and :meth:`Lab.close` removes the rules and the veth.

Needs root (or the root of a user namespace, as ``unshare -rn`` gives), the iptables and
util-linux commands and the netfilterqueue package: :func:`unavailable` says what is missing.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .link import Direction

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 10.0
ANSWER_TIMEOUT_S = 5.0
QUEUE_BASE = 40000


class LabError(Exception):
    """The lab could not be built or driven (the message says why)."""


def unavailable() -> str | None:
    """Why a lab cannot be built here, or None when it can."""
    for tool in ("ip", "iptables", "unshare", "nsenter", "setpriv"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (./scripts/test installs it)"
    try:
        import netfilterqueue  # noqa: F401
    except ImportError:
        return "the netfilterqueue package is not installed (the test extras have it)"
    probe = subprocess.run(
        ["iptables", "-w", "-L", "INPUT", "-n"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        return f"iptables cannot be used here (needs root): {probe.stderr.strip()[:200]}"
    return None


def _run(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise LabError(f"{' '.join(argv)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def _links() -> set[str]:
    out = _run("ip", "-o", "link", "show")
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line}


class Lab:
    """A participant's namespace and its emulated link. Use as a context manager."""

    def __init__(self) -> None:
        taken = _links()
        self.index = next(n for n in range(1, 250) if f"nl{n}a" not in taken)
        self.our_link = f"nl{self.index}a"
        self.their_link = f"nl{self.index}b"
        self.our_address = f"10.99.{self.index}.1"
        self.their_address = f"10.99.{self.index}.2"
        self.up_queue = QUEUE_BASE + 2 * self.index
        self.down_queue = self.up_queue + 1
        self._holder: subprocess.Popen[bytes] | None = None
        self._shaper: subprocess.Popen[bytes] | None = None
        self._rules: list[list[str]] = []
        self._pending = b""

    # -- building and taking down -----------------------------------------------------------

    def open(self) -> Lab:
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def _open(self) -> None:
        self._holder = subprocess.Popen(
            ["setpriv", "--pdeathsig", "KILL", "unshare", "-n", "sleep", "infinity"]
        )
        ours = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + START_TIMEOUT_S
        while _readlink(f"/proc/{self._holder.pid}/ns/net") in (ours, None):
            if self._holder.poll() is not None or time.monotonic() > deadline:
                raise LabError("the participant's namespace could not be made")
            time.sleep(0.01)
        _run("ip", "link", "add", self.our_link, "type", "veth", "peer", "name", self.their_link)
        _run("ip", "link", "set", self.their_link, "netns", str(self._holder.pid))
        _run("ip", "addr", "add", f"{self.our_address}/30", "dev", self.our_link)
        _run("ip", "link", "set", self.our_link, "up")
        inside = ["nsenter", f"--net=/proc/{self._holder.pid}/ns/net", "ip"]
        _run(*inside, "link", "set", "lo", "up")
        _run(*inside, "addr", "add", f"{self.their_address}/30", "dev", self.their_link)
        _run(*inside, "link", "set", self.their_link, "up")
        shaper = ["-m", "testbed.netlab.shaper", str(self.up_queue), str(self.down_queue)]
        self._shaper = subprocess.Popen(
            ["setpriv", "--pdeathsig", "KILL", sys.executable, *shaper],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        if self._line(START_TIMEOUT_S) != "ready":
            raise LabError("the shaper did not start")
        # Only then: a rule with no program reading its queue drops everything.
        for rule in (
            ["INPUT", "-i", self.our_link, "-j", "NFQUEUE", "--queue-num", str(self.up_queue)],
            ["OUTPUT", "-o", self.our_link, "-j", "NFQUEUE", "--queue-num", str(self.down_queue)],
        ):
            _run("iptables", "-w", "-I", *rule)
            self._rules.append(rule)

    def close(self) -> None:
        """Remove the rules, stop the shaper, end the namespace (its veth goes with it)."""
        for rule in self._rules:
            subprocess.run(["iptables", "-w", "-D", *rule], capture_output=True, check=False)
        self._rules.clear()
        for proc in (self._shaper, self._holder):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        self._shaper = self._holder = None
        subprocess.run(["ip", "link", "del", self.our_link], capture_output=True, check=False)

    def __enter__(self) -> Lab:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- running things on the participant's side -------------------------------------------

    def command(self, *argv: str) -> list[str]:
        """``argv`` as run inside the participant's namespace."""
        if self._holder is None:
            raise LabError("the lab is not open")
        return ["nsenter", f"--net=/proc/{self._holder.pid}/ns/net", *argv]

    def popen(self, *argv: str, **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start ``argv`` inside the participant's namespace; it dies with us."""
        return subprocess.Popen(["setpriv", "--pdeathsig", "KILL", *self.command(*argv)], **kwargs)

    # -- the link ---------------------------------------------------------------------------

    def set(self, *, up: Direction | None = None, down: Direction | None = None) -> None:
        """Change the link from the next packet: ``up`` is from the participant to us, ``down``
        the other way; a direction not given keeps what it had."""
        message: dict[str, Any] = {}
        if up is not None:
            message["up"] = asdict(up)
        if down is not None:
            message["down"] = asdict(down)
        self._ask(message)

    def both(self, direction: Direction) -> None:
        """The same settings both ways."""
        self.set(up=direction, down=direction)

    def blackout(self, seconds: float) -> None:
        """Nothing crosses the link, either way, for ``seconds`` from now."""
        self._ask({"blackout": seconds})

    def stats(self) -> dict[str, dict[str, int]]:
        """What happened to the packets of each direction so far."""
        stats: dict[str, dict[str, int]] = self._ask({"stats": True})
        return stats

    def _ask(self, message: dict[str, Any]) -> Any:
        if self._shaper is None or self._shaper.stdin is None:
            raise LabError("the lab is not open")
        self._shaper.stdin.write(json.dumps(message).encode() + b"\n")
        self._shaper.stdin.flush()
        answer = json.loads(self._line(ANSWER_TIMEOUT_S))
        if isinstance(answer, dict) and "error" in answer:
            raise LabError(f"the shaper refused {message}: {answer['error']}")
        return answer

    def _line(self, timeout: float) -> str:
        assert self._shaper is not None and self._shaper.stdout is not None
        out = self._shaper.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([out], [], [], left)[0]:
                raise LabError("the shaper did not answer")
            chunk = os.read(out, 65536)
            if not chunk:
                raise LabError(f"the shaper exited ({self._shaper.wait()})")
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return line.decode().strip()


def _readlink(path: str) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None
