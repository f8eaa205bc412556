"""Reference photos and encodings are deleted a configurable time after the hearing closes:
by the periodic job (the service's purge) and by ``hearing-server purge-biometrics``."""

from __future__ import annotations

import json
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from hearing_server.cli import main
from hearing_server.config import Settings
from hearing_server.core.actors import Actor
from hearing_server.core.hearing import HearingAction
from hearing_server.core.participant import Role
from hearing_server.keys import HEARINGS, IDENTITY, SETTINGS, STORE
from hearing_server.store.biometrics import BiometricFiles
from support.hearing import make_hearing

PEOPLE = [(Role.JUDGE, "王法官"), (Role.PARTY, "张三")]


async def test_photos_go_30_days_after_the_hearing_closed(server: TestServer) -> None:
    app = server.app
    files = BiometricFiles(app[SETTINGS].effective_biometrics_dir)
    closed, people = await make_hearing(app, PEOPLE, state="in_session")
    running, others = await make_hearing(app, PEOPLE, state="open")
    files.put(closed, people["张三"].id, b"photo", [0.1] * 128)
    files.put(running, others["张三"].id, b"photo", [0.2] * 128)
    files.put("gone-hearing", "p1", b"photo", [0.3] * 128)  # its hearing no longer exists
    assert stat.S_IMODE((files.root / closed).stat().st_mode) == 0o700
    assert (
        stat.S_IMODE((files.root / closed / f"{people['张三'].id}.photo").stat().st_mode) == 0o600
    )
    await app[HEARINGS].transition(Actor.system(), closed, HearingAction.CLOSE)
    ended = (await app[STORE].get_hearing(closed)).actual_end
    assert ended is not None

    identity = app[IDENTITY]
    assert await identity.purge_biometrics(now=ended + timedelta(days=29)) == ["gone-hearing"]
    assert files.has(closed, people["张三"].id)
    assert await identity.purge_biometrics(now=ended + timedelta(days=30, seconds=1)) == [closed]
    assert not (files.root / closed).exists()
    assert files.has(running, others["张三"].id)  # still open: kept
    audit = [e for e in await app[STORE].list_audit(closed) if e.event == "biometrics_purged"]
    assert len(audit) == 1 and audit[0].data == {"files": 2, "retention_days": 30.0}


def test_the_command(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = BiometricFiles(settings.effective_biometrics_dir)
    files.put("no-such-hearing", "p1", b"photo", [0.0] * 128)
    assert main(["purge-biometrics", "--data-dir", str(settings.data_dir)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {
        "purged_hearings": ["no-such-hearing"]
    }
    assert files.hearings() == []
