"""Verify a signed agreement PDF: every signature, its timestamp, trust, and later changes.

:func:`verify` returns a :class:`Report` (``to_dict()`` is JSON-ready); :func:`main` is the
``verify-agreement`` command: it prints the report as JSON and exits 0 only if the verdict is
``valid``. pyHanko does the work: the hash of the signed byte ranges (``intact``), the CMS
signature (``valid``), the chain to the given roots (``trusted``), the RFC 3161 token, and the
difference analysis of every revision after a signature against its DocMDP/lock permissions.

A party's event certificate is valid ten minutes only. Like any long-term PAdES validator we
judge it at the time its trusted signature timestamp proves (the signature existed then),
not today; without a valid timestamp it is judged today, and then fails once expired.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import io
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from .authority import CA_CERT, authority_dir
from .render import CERTIFICATION_FIELD, SEAL_FIELD

Verdict = Literal["valid", "invalid"]


@dataclass
class SignatureReport:
    """What was found about one signature (all fields JSON-serialisable)."""

    field: str
    role: Literal["certification", "party", "seal"]
    signer: str | None
    signer_subject: str | None
    signing_time: str | None
    timestamp_time: str | None
    timestamp_valid: bool
    timestamp_trusted: bool
    revision: int  # 1-based revision of the PDF this signature covers
    revisions_total: int
    covers_whole_document: bool
    intact: bool  # the signed bytes hash to what was signed
    valid: bool  # the signature value verifies with the signer's key
    trusted: bool  # the signer's certificate chains to a configured root
    modified_after_signing: bool  # any revision was added after this one
    modification_level: str | None  # pyHanko's class of those changes
    permissions: str | None  # DocMDP level in force for this signature
    modifications_permitted: bool
    ok: bool
    reason: str


@dataclass
class Report:
    """The verdict over the whole PDF and a :class:`SignatureReport` per signature."""

    verdict: Verdict
    revisions: int
    certified: bool
    sealed: bool
    signatures: list[SignatureReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return asdict(self)

    def to_json(self) -> str:
        """The report as indented JSON (UTF-8 text, Chinese names kept readable)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


def _iso(value: datetime.datetime | None) -> str | None:
    return None if value is None else value.astimezone(datetime.UTC).isoformat()


def _asn1(cert: x509.Certificate | asn1_x509.Certificate) -> asn1_x509.Certificate:
    if isinstance(cert, asn1_x509.Certificate):
        return cert
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def load_trust_roots(paths: Iterable[Path | str]) -> list[x509.Certificate]:
    """Read every certificate from the given PEM files (several per file allowed)."""
    roots: list[x509.Certificate] = []
    for path in paths:
        roots.extend(x509.load_pem_x509_certificates(Path(path).read_bytes()))
    return roots


def _role(name: str) -> Literal["certification", "party", "seal"]:
    if name == CERTIFICATION_FIELD:
        return "certification"
    return "seal" if name == SEAL_FIELD else "party"


def _context(roots: list[asn1_x509.Certificate], moment: datetime.datetime | None) -> Any:
    # Offline by design: no fetching of CRLs/OCSP (the network rule, and our CA publishes none);
    # "soft-fail" accepts the absence of revocation information.
    return ValidationContext(
        trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail", moment=moment
    )


async def _validate(
    sig: EmbeddedPdfSignature, roots: list[asn1_x509.Certificate]
) -> PdfSignatureStatus:
    # First pass, without difference analysis: only to learn the trusted timestamp's time.
    first = await async_validate_pdf_signature(
        sig, _context(roots, None), _context(roots, None), skip_diff=True
    )
    ts = first.timestamp_validity
    moment = ts.timestamp if ts is not None and ts.valid and ts.intact and ts.trusted else None
    return await async_validate_pdf_signature(sig, _context(roots, moment), _context(roots, None))


def _report_one(
    sig: EmbeddedPdfSignature, status: PdfSignatureStatus, total: int
) -> SignatureReport:
    name = str(sig.field_name)
    ts = status.timestamp_validity
    ts_valid = bool(ts is not None and ts.valid and ts.intact)
    ts_trusted = bool(ts is not None and ts.trusted)
    coverage = status.coverage
    whole = coverage == SignatureCoverageLevel.ENTIRE_FILE
    level = status.modification_level
    docmdp = sig.docmdp_level
    permitted = bool(status.docmdp_ok)
    problems: list[str] = []
    if not status.intact:
        problems.append(f"the bytes signed by '{name}' were changed (their hash no longer matches)")
    elif not status.valid:
        problems.append(f"the signature value of '{name}' does not verify")
    if not status.trusted:
        problems.append(
            f"the signer's certificate does not chain to a trusted root at the signing time"
            f" ({status.trust_problem_indic or 'untrusted'})"
        )
    if ts is None:
        problems.append("no signature timestamp")
    elif not ts_valid:
        problems.append("the signature timestamp is not valid")
    elif not ts_trusted:
        problems.append("the timestamp authority is not trusted")
    if coverage is None or coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        problems.append("the signature does not cover a whole revision")
    if not permitted:
        detail = ""
        diff = status.diff_result
        if diff is not None and not hasattr(diff, "modification_level"):
            detail = f": {diff}"
        problems.append(
            "the document was changed after this signature in a way its permissions "
            f"({docmdp.name if docmdp else 'default'}) do not allow"
            f" ({level.name if level else 'unknown'}){detail}"
        )
    if problems:
        reason = "; ".join(problems)
    elif whole:
        reason = "intact and trusted; covers the whole document"
    else:
        reason = (
            "intact and trusted; later revisions only add what its permissions allow "
            f"({level.name if level else 'none'})"
        )
    signer_cert = status.signing_cert
    subject = signer_cert.subject.native if signer_cert is not None else {}
    cn = subject.get("common_name") if isinstance(subject, dict) else None
    return SignatureReport(
        field=name,
        role=_role(name),
        signer=str(cn) if cn is not None else None,
        signer_subject=signer_cert.subject.human_friendly if signer_cert is not None else None,
        signing_time=_iso(status.signer_reported_dt),
        timestamp_time=_iso(ts.timestamp) if ts is not None else None,
        timestamp_valid=ts_valid,
        timestamp_trusted=ts_trusted,
        revision=sig.signed_revision + 1,
        revisions_total=total,
        covers_whole_document=whole,
        intact=bool(status.intact),
        valid=bool(status.valid),
        trusted=bool(status.trusted),
        modified_after_signing=not whole,
        modification_level=level.name if isinstance(level, ModificationLevel) else None,
        permissions=docmdp.name if docmdp is not None else None,
        modifications_permitted=permitted,
        ok=not problems,
        reason=reason,
    )


def _failed(sig: EmbeddedPdfSignature, total: int, exc: Exception) -> SignatureReport:
    name = str(sig.field_name)
    return SignatureReport(
        field=name,
        role=_role(name),
        signer=None,
        signer_subject=None,
        signing_time=None,
        timestamp_time=None,
        timestamp_valid=False,
        timestamp_trusted=False,
        revision=sig.signed_revision + 1,
        revisions_total=total,
        covers_whole_document=False,
        intact=False,
        valid=False,
        trusted=False,
        modified_after_signing=True,
        modification_level=None,
        permissions=None,
        modifications_permitted=False,
        ok=False,
        reason=f"the signature could not be validated: {type(exc).__name__}: {exc}",
    )


async def async_verify(
    pdf: bytes, trust_roots: Sequence[x509.Certificate | asn1_x509.Certificate]
) -> Report:
    """See :func:`verify`."""
    roots = [_asn1(c) for c in trust_roots]
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        sigs = reader.embedded_signatures
        total = reader.xrefs.total_revisions
    except Exception as exc:
        return Report("invalid", 0, False, False, [], [f"not a readable PDF: {exc}"])
    report = Report("invalid", total, certified=False, sealed=False)
    for sig in sigs:
        try:
            status = await _validate(sig, roots)
            entry = _report_one(sig, status, total)
        except Exception as exc:  # a mangled signature must be reported, not crash the check
            entry = _failed(sig, total, exc)
        report.signatures.append(entry)
        try:
            level = sig.docmdp_level
        except Exception:
            level = None
        if entry.field == CERTIFICATION_FIELD:
            report.certified = True
        if level == MDPPerm.NO_CHANGES:
            report.sealed = True
    if not sigs:
        report.problems.append("the PDF holds no signature")
    elif not any(s.covers_whole_document for s in report.signatures):
        report.problems.append(
            "the last revision of the PDF is not covered by any signature "
            "(something was appended after the last signature)"
        )
    for s in report.signatures:
        if not s.ok:
            report.problems.append(f"{s.field}: {s.reason}")
    report.verdict = "valid" if sigs and not report.problems else "invalid"
    return report


def verify(pdf: bytes, trust_roots: Sequence[x509.Certificate | asn1_x509.Certificate]) -> Report:
    """Verify every signature of ``pdf`` against ``trust_roots``; never raises on bad input.

    The verdict is ``valid`` only if there is at least one signature, every signature is
    intact, verifies, chains to a root, has a valid trusted timestamp and covers a whole
    revision, every later revision is allowed by the permissions in force (DocMDP level of the
    certification, the seal's lock), and the last revision is signed. Synchronous: runs its
    own event loop (call from a worker thread in the server, or use :func:`async_verify`).
    """
    return asyncio.run(async_verify(pdf, trust_roots))


def main(argv: Sequence[str] | None = None) -> int:
    """``verify-agreement FILE.pdf [--trust CA.pem ...] [--data-dir DIR]``: print the JSON report.

    Trust roots: the ``--trust`` files; if none, the embedded CA under the data dir
    (``<data-dir>/esign/ca.cert.pem``, data dir default ``var``). Exit 0 if the verdict is
    ``valid``, 1 if not, 2 if the file or the roots cannot be read.
    """
    parser = argparse.ArgumentParser(
        prog="verify-agreement", description="Verify the signatures of a mediation agreement."
    )
    parser.add_argument("file", type=Path, help="the signed agreement PDF")
    parser.add_argument(
        "--trust", type=Path, action="append", default=[], help="a trusted root CA (PEM)"
    )
    parser.add_argument("--data-dir", type=Path, default=Path("var"), help="the server data dir")
    args = parser.parse_args(argv)
    trust: list[Path] = args.trust or [authority_dir(args.data_dir) / CA_CERT]
    try:
        roots = load_trust_roots(trust)
    except (OSError, ValueError) as exc:
        print(f"verify-agreement: cannot read the trust roots: {exc}", file=sys.stderr)
        return 2
    try:
        pdf = args.file.read_bytes()
    except OSError as exc:
        print(f"verify-agreement: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    report = verify(pdf, roots)
    print(report.to_json())
    return 0 if report.verdict == "valid" else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
