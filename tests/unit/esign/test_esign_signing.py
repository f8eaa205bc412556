"""The signing flow: certify, two parties, seal; then tampering, re-signing, bad images."""

from __future__ import annotations

import datetime
import io
from pathlib import Path

import pytest
from PIL import Image
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers

from esign import (
    EventCredential,
    ImageError,
    SigningAuthority,
    SigningStateError,
    certify,
    check_png,
    make_timestamper,
    render,
    sign_as,
    signature_state,
    verify,
)
from esign.authority import to_asn1_cert, to_asn1_key
from support.esign import CST, Flow, drawn_png, sample_document


def test_sealed_agreement_verifies(flow: Flow) -> None:
    report = verify(flow.sealed, [flow.authority.ca_cert])
    assert report.verdict == "valid", report.to_json()
    assert report.certified and report.sealed and not report.problems
    by_field = {s.field: s for s in report.signatures}
    assert list(by_field) == ["certification", "party_1", "party_2", "seal"]
    assert [s.revision for s in report.signatures] == [2, 3, 4, 5]
    assert by_field["party_1"].signer == "张三" and by_field["party_2"].signer == "李四"
    assert "**************1234" in (by_field["party_1"].signer_subject or "")
    for s in report.signatures:
        assert s.intact and s.valid and s.trusted and s.ok, s
        assert s.timestamp_valid and s.timestamp_trusted and s.timestamp_time
    assert by_field["seal"].covers_whole_document and by_field["seal"].permissions == "NO_CHANGES"
    assert by_field["certification"].permissions == "FILL_FORMS"
    assert by_field["party_1"].modified_after_signing
    assert by_field["party_1"].modification_level == "FORM_FILLING"
    report.to_json()  # JSON-serialisable


def test_each_stage_is_an_incremental_update(flow: Flow) -> None:
    assert flow.after_party_1.startswith(flow.certified)
    assert flow.signed.startswith(flow.after_party_1)
    assert flow.sealed.startswith(flow.signed)
    state = signature_state(flow.signed)
    assert state.certified and not state.sealed
    assert state.is_signed("party_1") and state.is_signed("party_2") and not state.is_signed("seal")
    assert signature_state(flow.sealed).sealed


def test_partly_signed_agreement_is_valid_before_the_seal(flow: Flow) -> None:
    report = verify(flow.after_party_1, [flow.authority.ca_cert])
    assert report.verdict == "valid", report.to_json()
    assert not report.sealed


def test_untrusted_root_fails(flow: Flow, authority: SigningAuthority) -> None:
    report = verify(flow.sealed, [authority.ca_cert])  # another authority's CA
    assert report.verdict == "invalid"
    assert all(not s.trusted for s in report.signatures)
    assert "trusted root" in report.signatures[0].reason


def test_one_changed_byte_is_detected_and_named(flow: Flow) -> None:
    pdf = bytearray(flow.sealed)
    at = pdf.index(b"ReportLab PDF Library")  # in the first revision: signed by everyone
    pdf[at] ^= 0x20
    report = verify(bytes(pdf), [flow.authority.ca_cert])
    assert report.verdict == "invalid"
    assert {s.field for s in report.signatures} == {"certification", "party_1", "party_2", "seal"}
    for s in report.signatures:
        assert not s.intact and not s.ok
        assert f"the bytes signed by '{s.field}' were changed" in s.reason
    assert any("party_1" in p for p in report.problems)


def test_a_change_in_the_last_revision_breaks_only_the_seal(flow: Flow) -> None:
    pdf = bytearray(flow.sealed)
    at = pdf.index(b"/Reason", len(flow.signed)) + 10  # inside the seal's signature dictionary
    pdf[at] ^= 0x01
    report = verify(bytes(pdf), [flow.authority.ca_cert])
    assert report.verdict == "invalid"
    seal = next(s for s in report.signatures if s.field == "seal")
    assert not seal.intact and "seal" in seal.reason


def test_resigning_a_sealed_pdf_is_refused(flow: Flow) -> None:
    cred = flow.authority.issue_event_certificate("张三", "**************1234", "identity:1")
    with pytest.raises(SigningStateError) as err:
        sign_as(
            flow.sealed,
            "party_1",
            cred,
            drawn_png(),
            "张三",
            datetime.datetime.now(CST),
            make_timestamper(flow.authority),
        )
    assert err.value.code == "sealed"
    assert not cred.used  # refused before the key was taken


def test_a_signature_appended_after_the_seal_is_detected(flow: Flow) -> None:
    """Someone bypasses sign_as and signs the sealed PDF with pyHanko directly."""
    a = flow.authority
    writer = IncrementalPdfFileWriter(io.BytesIO(flow.sealed))
    signer = signers.SimpleSigner(
        signing_cert=to_asn1_cert(a.org_cert),
        signing_key=to_asn1_key(a.org_key),
        cert_registry=None,
    )
    out = signers.sign_pdf(
        writer,
        signers.PdfSignatureMetadata(field_name="extra", subfilter=fields.SigSeedSubFilter.PADES),
        signer=signer,
        new_field_spec=fields.SigFieldSpec("extra"),
    )
    report = verify(out.getvalue(), [a.ca_cert])
    assert report.verdict == "invalid"
    seal = next(s for s in report.signatures if s.field == "seal")
    assert not seal.modifications_permitted and not seal.ok
    assert "NO_CHANGES" in seal.reason


def test_an_unsigned_update_after_the_seal_is_detected(flow: Flow) -> None:
    writer = IncrementalPdfFileWriter(io.BytesIO(flow.sealed))
    info = writer.root  # touch the catalog: add a harmless-looking entry
    from pyhanko.pdf_utils import generic

    info["/Lang"] = generic.TextStringObject("en")
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    report = verify(out.getvalue(), [flow.authority.ca_cert])
    assert report.verdict == "invalid"
    assert any("not covered by any signature" in p for p in report.problems)


def test_field_already_signed_and_unknown_field(flow: Flow) -> None:
    ts = make_timestamper(flow.authority)
    now = datetime.datetime.now(CST)
    for field, code in (
        ("party_1", "field_signed"),
        ("party_9", "field_missing"),
        ("seal", "field_reserved"),
    ):
        cred = flow.authority.issue_event_certificate("张三", "**************1234", "identity:1")
        with pytest.raises(SigningStateError) as err:
            sign_as(flow.after_party_1, field, cred, drawn_png(), "张三", now, ts)
        assert err.value.code == code


def test_used_credential_is_refused(flow: Flow) -> None:
    cred: EventCredential = flow.authority.issue_event_certificate(
        "李四", "**************5678", "identity:2"
    )
    cred.discard()
    with pytest.raises(Exception) as err:
        sign_as(
            flow.after_party_1,
            "party_2",
            cred,
            drawn_png(),
            "李四",
            datetime.datetime.now(CST),
            make_timestamper(flow.authority),
        )
    assert getattr(err.value, "code", None) == "event_key_used"


def _png_of(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("L", size, 255).save(out, "PNG")
    return out.getvalue()


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (100, 50)).save(out, "JPEG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (_jpeg(), "image_not_png"),
        (b"GIF89a....", "image_not_png"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image_corrupt"),
        (drawn_png()[:-40], "image_corrupt"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * (20 * 1024 * 1024), "image_too_large"),
        (_png_of((8, 8)), "image_dimensions"),
        (_png_of((10000, 20)), "image_dimensions"),
    ],
)
def test_bad_drawn_images_are_refused(flow: Flow, data: bytes, code: str) -> None:
    with pytest.raises(ImageError) as err:
        check_png(data)
    assert err.value.code == code
    cred = flow.authority.issue_event_certificate("李四", "**************5678", "identity:2")
    with pytest.raises(ImageError):
        sign_as(
            flow.after_party_1,
            "party_2",
            cred,
            data,
            "李四",
            datetime.datetime.now(CST),
            make_timestamper(flow.authority),
        )
    assert not cred.used  # refused before the key was touched: a retry may use it


def test_good_png_passes() -> None:
    assert check_png(drawn_png()) == (400, 150)


def test_an_expired_event_certificate_is_judged_at_its_timestamp(tmp_path: Path) -> None:
    """Event certificates live minutes; the signature stays valid after they expire."""
    import time

    authority = SigningAuthority.load_or_create(tmp_path / "auth")
    ts = make_timestamper(authority)
    pdf = certify(render(sample_document()), authority, ts)
    cred = authority.issue_event_certificate(
        "张三", "**************1234", "identity:1", validity=datetime.timedelta(seconds=2)
    )
    pdf = sign_as(pdf, "party_1", cred, drawn_png(), "张三", datetime.datetime.now(CST), ts)
    time.sleep(2.5)
    assert cred.certificate.not_valid_after_utc < datetime.datetime.now(datetime.UTC)
    report = verify(pdf, [authority.ca_cert])
    assert report.verdict == "valid", report.to_json()
