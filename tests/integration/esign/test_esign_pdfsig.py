"""Poppler's pdfsig, an independent checker (NSS), accepts the sealed agreement.

pdfsig trusts what its NSS database trusts: the test makes one with certutil (Debian
libnss3-tools) holding the authority's CA. pdfsig 22.12 does not analyse DocMDP or locks; what
it can check is that every signature's bytes verify, the chain is trusted, and that the seal
covers the whole file (nothing was appended after it).

A pdfsig 22.12/NSS quirk seen here: when one certificate signs twice in a PDF (the organisation
certifies and, later, seals), the second of those checks reports "Unknown issue with
Certificate or corrupted data" although the same certificate was just reported trusted. So the
certification's chain is checked on the certified PDF, where it is the only signature.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support.esign import run_flow

pytestmark = pytest.mark.skipif(
    shutil.which("pdfsig") is None or shutil.which("certutil") is None,
    reason="needs pdfsig (apt install poppler-utils) and certutil (apt install libnss3-tools)",
)


def nss_db(tmp_path: Path, ca_pem: bytes) -> str:
    db = tmp_path / "nss"
    db.mkdir()
    (tmp_path / "ca.pem").write_bytes(ca_pem)
    subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True)
    subprocess.run(
        [
            "certutil",
            "-A",
            "-d",
            f"sql:{db}",
            "-n",
            "court-ca",
            "-t",
            "CT,C,C",
            "-i",
            str(tmp_path / "ca.pem"),
        ],
        check=True,
    )
    return f"sql:{db}"


def pdfsig(db: str, pdf: Path) -> dict[str, dict[str, str]]:
    out = subprocess.run(
        ["pdfsig", "-nssdir", db, str(pdf)], capture_output=True, text=True, check=False
    ).stdout
    sigs: dict[str, dict[str, str]] = {}
    for block in re.split(r"^Signature #\d+:\n", out, flags=re.M)[1:]:
        info: dict[str, str] = {}
        for line in block.splitlines():
            line = line.strip().removeprefix("- ")
            if ": " in line:
                key, value = line.split(": ", 1)
                info[key] = value
            elif line:
                info[line] = "yes"
        sigs[info["Signature Field Name"]] = info
    return sigs


def test_pdfsig_accepts_the_sealed_agreement(tmp_path: Path) -> None:
    flow = run_flow(tmp_path / "auth")
    db = nss_db(tmp_path, flow.authority.trust_root_pem)
    sealed, certified = tmp_path / "sealed.pdf", tmp_path / "certified.pdf"
    sealed.write_bytes(flow.sealed)
    certified.write_bytes(flow.certified)

    sigs = pdfsig(db, sealed)
    assert set(sigs) == {"certification", "party_1", "party_2", "seal"}
    for name, info in sigs.items():
        assert info["Signature Validation"] == "Signature is Valid.", (name, info)
        assert info["Signature Type"] == "ETSI.CAdES.detached"
    for name in ("party_1", "party_2", "seal"):
        assert sigs[name]["Certificate Validation"] == "Certificate is Trusted.", name
    assert sigs["party_1"]["Signer Certificate Common Name"] == "张三"
    assert "Total document signed" in sigs["seal"]  # nothing appended after the seal
    assert "Not total document signed" in sigs["party_1"]

    alone = pdfsig(db, certified)["certification"]
    assert alone["Signature Validation"] == "Signature is Valid."
    assert alone["Certificate Validation"] == "Certificate is Trusted."
    assert "Total document signed" in alone


def test_pdfsig_sees_a_changed_byte(tmp_path: Path) -> None:
    flow = run_flow(tmp_path / "auth")
    db = nss_db(tmp_path, flow.authority.trust_root_pem)
    pdf = bytearray(flow.sealed)
    pdf[pdf.index(b"ReportLab PDF Library")] ^= 0x20
    path = tmp_path / "tampered.pdf"
    path.write_bytes(bytes(pdf))
    for name, info in pdfsig(db, path).items():
        assert info["Signature Validation"] != "Signature is Valid.", name
