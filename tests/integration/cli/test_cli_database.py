"""`hearing-server` on PostgreSQL (`database_url`): it serves from it, and a server it cannot
reach at start is retried for `database_connect_timeout_seconds`, then a one-line error and
exit status 1, never a traceback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from support.postgres import PostgresServer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp_path: Path, database_url: str, **more: str) -> dict[str, str]:
    return {
        **os.environ,
        "HEARING_DATA_DIR": str(tmp_path / "var"),
        "HEARING_DATABASE_URL": database_url,
        "HEARING_TRANSCRIPTION_ENABLED": "false",
        "HEARING_COMPOSITE_ENABLED": "false",
        "HEARING_ADMIN_API_KEY": "test-admin-key-0123456789abcdef0123456789",
        **more,
    }


def test_unreachable_database_at_start_is_one_clear_line(tmp_path: Path) -> None:
    url = f"postgresql://hearing:s3cret@127.0.0.1:{_free_port()}/hearings"
    env = _env(tmp_path, url, HEARING_DATABASE_CONNECT_TIMEOUT_SECONDS="1.5")
    for command in (["serve", "--port", str(_free_port())], ["demo"]):
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "hearing_server", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        waited = time.monotonic() - started
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr, done.stderr
        errors = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1, done.stderr
        assert "PostgreSQL at postgresql://hearing:***@127.0.0.1" in errors[0]
        assert "is unreachable" in errors[0]
        assert "s3cret" not in done.stderr
        assert "not reachable yet" in done.stderr  # the retries are logged as they happen
        assert waited >= 1.5, waited
        assert not (tmp_path / "var" / "hearings.sqlite3").exists()  # no fallback to SQLite


def test_serve_on_postgresql(
    tmp_path: Path, postgres_server: PostgresServer, postgres_url: str
) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hearing_server", "serve", "--port", str(port)],
        env=_env(tmp_path, postgres_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    headers = {
        "X-API-Key": "test-admin-key-0123456789abcdef0123456789",
        "Content-Type": "application/json",
    }
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "the server exited"
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline, "not ready within 60 s"
                time.sleep(0.2)
        body = {
            "case_number": "(2026)京0105民初12345号",
            "court": "北京市朝阳区人民法院",
            "title": "张三诉李四买卖合同纠纷",
            "scheduled_start": "2026-12-01T09:00:00+08:00",
            "scheduled_end": "2026-12-01T11:00:00+08:00",
        }
        request = urllib.request.Request(
            f"{base}/api/hearings", data=json.dumps(body).encode(), headers=headers
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert resp.status == 201
            created = json.loads(resp.read())
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out.decode(errors="replace")
    assert not (tmp_path / "var" / "hearings.sqlite3").exists()
    # The hearing is in PostgreSQL: a look from outside the server finds it there.
    database = postgres_url.rsplit("/", 1)[1]
    found = postgres_server.psql(database, "SELECT id, title FROM hearings").stdout.decode()
    assert found.strip() == f"{created['id']}|张三诉李四买卖合同纠纷"
