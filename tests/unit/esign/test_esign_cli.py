"""verify-agreement: JSON on stdout, exit status from the verdict, the data dir's CA by default."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from esign.verify import main
from support.esign import Flow


def test_valid_agreement_exits_zero(
    flow: Flow, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pdf = tmp_path / "agreement.pdf"
    pdf.write_bytes(flow.sealed)
    ca = tmp_path / "ca.pem"
    ca.write_bytes(flow.authority.trust_root_pem)
    assert main([str(pdf), "--trust", str(ca)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "valid" and len(report["signatures"]) == 4


def test_default_trust_is_the_ca_under_the_data_dir(
    flow: Flow, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    shutil.copytree(flow.authority.directory, data / "esign")
    pdf = tmp_path / "agreement.pdf"
    pdf.write_bytes(flow.sealed)
    assert main([str(pdf), "--data-dir", str(data)]) == 0
    capsys.readouterr()


def test_tampered_agreement_exits_non_zero(
    flow: Flow, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = bytearray(flow.sealed)
    raw[raw.index(b"ReportLab PDF Library")] ^= 0x20
    pdf = tmp_path / "agreement.pdf"
    pdf.write_bytes(bytes(raw))
    ca = tmp_path / "ca.pem"
    ca.write_bytes(flow.authority.trust_root_pem)
    assert main([str(pdf), "--trust", str(ca)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "invalid"
    assert any("were changed" in p for p in report["problems"])


def test_not_a_pdf_and_missing_files(
    flow: Flow, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(flow.authority.trust_root_pem)
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"hello")
    assert main([str(junk), "--trust", str(ca)]) == 1
    assert json.loads(capsys.readouterr().out)["verdict"] == "invalid"
    assert main([str(tmp_path / "missing.pdf"), "--trust", str(ca)]) == 2
    assert main([str(junk), "--data-dir", str(tmp_path / "nothing")]) == 2
