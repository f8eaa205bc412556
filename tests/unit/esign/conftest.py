from __future__ import annotations

from pathlib import Path

import pytest

from esign import SigningAuthority
from support.esign import ORG, Flow, run_flow


@pytest.fixture(scope="session")
def authority(tmp_path_factory: pytest.TempPathFactory) -> SigningAuthority:
    return SigningAuthority.load_or_create(
        tmp_path_factory.mktemp("esign") / "auth", organisation=ORG
    )


@pytest.fixture(scope="session")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Flow:
    """One full signing flow shared by the tests that only read its PDFs."""
    return run_flow(Path(tmp_path_factory.mktemp("esign-flow")) / "auth")
