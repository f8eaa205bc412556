"""Generated secrets: created once, private, stable across restarts."""

from __future__ import annotations

import stat
from pathlib import Path

from hearing_server.auth.keys import load_or_create_secret


def test_created_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "key"
    first = load_or_create_secret(path)
    assert len(first) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path) == first
