"""A throwaway coturn (Debian ``coturn``'s ``turnserver``) for the tests, on 127.0.0.1 only.

Started in the foreground as a child of pytest (``setpriv --pdeathsig KILL``: it dies with
the test session), with no configuration file (``-n``), every setting on the command line:
the TURN REST API scheme (``--use-auth-secret`` + ``--static-auth-secret``), UDP and TCP
listeners on a free loopback port, a TLS listener on another (a self-signed certificate for
127.0.0.1, made here), no DTLS, no CLI, relay ports on 127.0.0.1.
coturn refuses to relay to loopback peers unless told (``--allow-loopback-peers``): the
server's media address in the tests is 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from aioice import stun

START_TIMEOUT_S = 15.0


class TurnUnavailable(Exception):
    """turnserver is installed but did not start (the message says why)."""


def find_turnserver() -> str | None:
    return shutil.which("turnserver")


def _free_port() -> int:
    # TURN listens on UDP and TCP on the same port: find one free for both.
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = int(t.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise TurnUnavailable("no port free for both UDP and TCP on 127.0.0.1")


class TurnServer:
    """A running coturn: ``url(transport)`` for clients; :meth:`stop` it at the end."""

    def __init__(self, binary: str, secret: str, realm: str = "hearing.test") -> None:
        self.binary = binary
        self.secret = secret
        self.realm = realm
        self.port = 0
        self.tls_port = 0
        self.root = Path(tempfile.mkdtemp(prefix="hearing-turn-"))
        self.log_path = self.root / "turn.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def certificate(self) -> Path:
        """The TLS listener's self-signed certificate (for 127.0.0.1): trust it to use
        ``url("tls")``."""
        return self.root / "cert.pem"

    def url(self, transport: str = "udp") -> str:
        """``udp``, ``tcp`` or ``tls`` (``turns:``, TURN over TLS over TCP)."""
        if transport == "tls":
            return f"turns:127.0.0.1:{self.tls_port}?transport=tcp"
        return f"turn:127.0.0.1:{self.port}?transport={transport}"

    def _make_certificate(self) -> Path:
        key = self.root / "key.pem"
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "ec",
                "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                "-keyout", str(key), "-out", str(self.certificate),
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )  # fmt: skip
        return key

    def start(self) -> TurnServer:
        self.port = _free_port()
        self.tls_port = _free_port()
        key = self._make_certificate()
        args = [
            "setpriv",
            "--pdeathsig",
            "KILL",
            "--",
            self.binary,
            "-n",  # no configuration file: only what is below
            "--listening-ip=127.0.0.1",
            f"--listening-port={self.port}",
            "--relay-ip=127.0.0.1",
            "--min-port=40000",
            "--max-port=40999",
            "--use-auth-secret",
            f"--static-auth-secret={self.secret}",
            f"--realm={self.realm}",
            f"--tls-listening-port={self.tls_port}",
            f"--cert={self.certificate}",
            f"--pkey={key}",
            "--no-dtls",
            "--no-cli",
            "--allow-loopback-peers",
            "--fingerprint",
            f"--log-file={self.log_path}",
            "--simple-log",
            "--no-stdout-log",
            f"--pidfile={self.root / 'turn.pid'}",
            "--verbose",
        ]
        self._process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd=self.root
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise TurnUnavailable(
                    f"turnserver exited with {self._process.returncode}: {self.log_tail()}"
                )
            if self._answers_binding():
                return self
            time.sleep(0.1)
        self.stop()
        raise TurnUnavailable(f"turnserver did not listen within {START_TIMEOUT_S} s")

    def _answers_binding(self) -> bool:
        """Whether coturn answers a STUN binding request on UDP (a TCP probe would show in
        its log as a TCP client)."""
        request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.settimeout(0.3)
            try:
                probe.sendto(bytes(request), ("127.0.0.1", self.port))
                data = probe.recv(2048)
            except OSError:
                return False
        with contextlib.suppress(ValueError):
            return stun.parse_message(data).transaction_id == request.transaction_id
        return False

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def start_or_skip(secret: str) -> TurnServer:
    """A started coturn; the test is skipped (with the reason) when coturn is not installed,
    and fails when it is but does not start."""
    binary = find_turnserver()
    if binary is None:
        pytest.skip("turnserver is not installed (Debian package coturn)")
    try:
        return TurnServer(binary, secret).start()
    except TurnUnavailable as exc:
        pytest.fail(f"coturn did not start: {exc}")
