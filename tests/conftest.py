"""Fixtures shared by every test layer."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearing_server.config import Settings, load_settings

ADMIN_KEY = "test-admin-key-0123456789abcdef0123456789"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for one test: its own data dir, a known admin key, loopback only."""
    return load_settings(
        env={},
        data_dir=tmp_path / "var",
        admin_api_key=ADMIN_KEY,
        public_url="http://127.0.0.1:8080",
        media_announced_addresses=["127.0.0.1"],
        # The composite costs a core-share per hearing; tests that need it turn it on.
        composite_enabled=False,
        # Speech recognition runs a model in a child process; its own tests turn it on.
        transcription_enabled=False,
        # Shedding reacts to how loaded the machine is, which tests do not control; the tests
        # of shedding turn it on and hand the policy its readings themselves.
        overload_shedding=False,
        # Identity checks gate every party's join; the tests of identity set their own
        # policy, the others test what happens after the identity step.
        identity_default_policy="none",
    )


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"X-API-Key": ADMIN_KEY}
