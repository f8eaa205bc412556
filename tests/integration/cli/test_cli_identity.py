"""The CLI's identity paths: the demo registers its parties, `issue-link` registers someone,
`create-hearing --identity-policy` sets the checks, and `outbox` lists the codes sent."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from hearing_server.cli import DEMO_IDENTITIES, main
from hearing_server.config import load_settings
from messaging import Message, OutboxSender
from support.identity import ZHANG_ID


def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("HEARING_CONFIG", "HEARING_MESSAGE_SENDER", "HEARING_IDENTITY_DEFAULT_POLICY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HEARING_TRANSCRIPTION_ENABLED", "false")
    monkeypatch.setenv("HEARING_COMPOSITE_ENABLED", "false")
    return tmp_path / "var"


def test_demo_registers_its_parties_and_prints_their_made_up_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _env(tmp_path, monkeypatch)
    assert main(["demo", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    for number, phone in DEMO_IDENTITIES.values():
        assert number in out and phone in out
    db = sqlite3.connect(data / "hearings.sqlite3")
    regs = db.execute("SELECT legal_name, id_last4 FROM identity_registrations").fetchall()
    assert {name for name, _ in regs} == set(DEMO_IDENTITIES)
    (policy,) = db.execute("SELECT policy FROM identity_policies").fetchone()
    assert json.loads(policy)["party"] == ["id_number", "code"]
    # The numbers themselves are nowhere in the database.
    raw = b"".join(p.read_bytes() for p in data.glob("hearings.sqlite3*"))
    assert all(number.encode() not in raw for number, _ in DEMO_IDENTITIES.values())


def test_create_hearing_and_issue_link_with_registration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _env(tmp_path, monkeypatch)
    assert main([
        "create-hearing", "--data-dir", str(data), "--case-number", "(2026)京0105民初2号",
        "--court", "北京市朝阳区人民法院", "--title", "t", "--start", "2026-12-01T09:00:00+08:00",
        "--end", "2026-12-01T11:00:00+08:00", "--identity-policy", '{"party": ["id_number"]}',
    ]) == 0  # fmt: skip
    hid = capsys.readouterr().out.strip()
    assert main([
        "issue-link", "--data-dir", str(data), "--hearing", hid, "--role", "party",
        "--name", "张三", "--side", "plaintiff", "--id-number", ZHANG_ID, "--phone", "13800138000",
    ]) == 0  # fmt: skip
    assert "/join#token=" in capsys.readouterr().out
    # A typo in the ID number is refused with the reason.
    assert main([
        "issue-link", "--data-dir", str(data), "--hearing", hid, "--role", "party",
        "--name", "李四", "--id-number", ZHANG_ID[:-1] + "0", "--phone", "13900139000",
    ]) == 1  # fmt: skip
    assert "id_check_digit" in capsys.readouterr().err
    assert main([
        "create-hearing", "--data-dir", str(data), "--case-number", "x", "--court", "c",
        "--title", "t", "--start", "2026-12-01T09:00:00+08:00",
        "--end", "2026-12-01T11:00:00+08:00", "--identity-policy", "strict",
    ]) == 1  # fmt: skip
    db = sqlite3.connect(data / "hearings.sqlite3")
    (policy,) = db.execute("SELECT policy FROM identity_policies WHERE hearing_id = ?", (hid,))
    assert json.loads(policy[0])["party"] == ["id_number"]


def test_outbox_lists_the_messages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _env(tmp_path, monkeypatch)
    assert main(["outbox", "--data-dir", str(data)]) == 0
    assert "empty" in capsys.readouterr().out
    outbox = load_settings(env={}, data_dir=data).effective_outbox_dir
    asyncio.run(OutboxSender(outbox).send(Message("13800138000", "code", "您的核验码为 123456")))
    assert main(["outbox", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "13800138000" in out and "123456" in out
    assert main(["outbox", "--data-dir", str(data), "--json"]) == 0
    line = json.loads(capsys.readouterr().out.splitlines()[0])
    assert line["recipient"] == "13800138000" and line["text"].endswith("123456")
