"""A node whose Redis cannot be reached keeps trying for redis_connect_timeout_seconds, then
stops with one line that says so (the password masked) and exit status 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_an_unreachable_redis_stops_the_start_with_one_clear_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARING_")}
    env.update(
        PYTHONPATH=str(REPO),
        HEARING_DATA_DIR=str(tmp_path / "var"),
        HEARING_HOST="127.0.0.1",
        HEARING_PORT="8999",  # never listened on: the start stops before
        HEARING_TRANSCRIPTION_ENABLED="false",
        HEARING_COMPOSITE_ENABLED="false",
        HEARING_REDIS_URL=f"unix://:hunter2-secret@{tmp_path / 'no-redis.sock'}",
        HEARING_REDIS_CONNECT_TIMEOUT_SECONDS="1.5",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "hearing_server", "serve"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: Redis at ") and "is unreachable" in last, proc.stderr
    assert "attempts over" in last
    assert "not reachable yet" in proc.stderr  # it did try again
    assert "hunter2-secret" not in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
