"""A throwaway Redis server for the tests and benchmarks, from the Debian ``redis-server``
package.

It listens on a Unix socket in a temp dir only (no TCP port: nothing to collide with, nothing
reachable from outside the test), keeps nothing on disk, and dies with the process that
started it (``setpriv --pdeathsig KILL``) if that dies without stopping it.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

START_TIMEOUT_S = 15.0


class RedisUnavailable(Exception):
    """No redis-server could be started (the message says why)."""


def find_redis_server() -> str | None:
    return shutil.which("redis-server")


class RedisServer:
    """A running server; :meth:`start` it, :meth:`stop` it at the end."""

    def __init__(self, binary: str, root: Path) -> None:
        self.binary = binary
        self.root = root
        self.socket = root / "redis.sock"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        args = [
            "setpriv", "--pdeathsig", "KILL", self.binary,
            "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
            "--save", "", "--appendonly", "no", "--dir", str(self.root),
            "--daemonize", "no", "--loglevel", "warning",
        ]  # fmt: skip
        log = (self.root / "redis.log").open("wb")
        self._proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.socket.exists():
            if self._proc.poll() is not None:
                raise RedisUnavailable(
                    f"redis-server exited with {self._proc.returncode}: "
                    + (self.root / "redis.log").read_text(errors="replace")[-2000:]
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RedisUnavailable(f"redis-server did not start in {START_TIMEOUT_S} s")
            time.sleep(0.02)

    def flush(self) -> None:
        """Forget every key (between tests sharing the server)."""
        subprocess.run(
            ["redis-cli", "-s", str(self.socket), "FLUSHALL"],
            check=True,
            capture_output=True,
            timeout=10,
        )

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self._proc = None
