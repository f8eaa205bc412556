"""`hearing-server serve --host --port --data-dir`: the flags override the environment."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} not ready within {timeout} s")


def test_serve_flags_override_the_environment(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        # The environment says otherwise; the flags must win.
        "HEARING_PORT": str(_free_port()),
        "HEARING_DATA_DIR": str(tmp_path / "from-env"),
        "HEARING_TRANSCRIPTION_ENABLED": "false",
        "HEARING_COMPOSITE_ENABLED": "false",
    }
    data_dir = tmp_path / "from-flag"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hearing_server", "serve", "--host", "127.0.0.1",
         "--port", str(port), "--data-dir", str(data_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_ready(f"http://127.0.0.1:{port}/readyz", proc)
        assert (data_dir / "hearings.sqlite3").exists()
        assert not (tmp_path / "from-env").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out.decode(errors="replace")
    assert f"127.0.0.1:{port}" in out.decode(errors="replace")


def test_serve_help_lists_the_flags() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "hearing_server", "serve", "--help"],
        capture_output=True, text=True, check=True,
    ).stdout
    for flag in ("--host", "--port", "--data-dir"):
        assert flag in out
