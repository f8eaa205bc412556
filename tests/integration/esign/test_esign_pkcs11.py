"""The organisation's seal key on a PKCS#11 token (SoftHSM2, a real PKCS#11 module).

The token computes the certification and the seal; its key never leaves it (generated there,
non-extractable), no organisation key file is written, and the sealed agreement validates with
pyHanko and with Poppler's pdfsig like one sealed with a key file.
"""

from __future__ import annotations

import asyncio
import datetime
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from esign import (
    AuthorityConfig,
    AuthorityError,
    Signer,
    SigningAuthority,
    SigningWorker,
    TokenKey,
    certify,
    make_timestamper,
    party_field,
    render,
    seal,
    sign_as,
    verify,
)
from esign.verify import load_trust_roots
from support import softhsm
from support.esign import ORG, drawn_png, sample_document

pytestmark = pytest.mark.skipif(
    not softhsm.available(), reason="needs SoftHSM2 (apt install softhsm2)"
)

CST = datetime.timezone(datetime.timedelta(hours=8))
TOKENS = ("seal-ec", "seal-rsa-cert", "seal-worker", "seal-errors", "seal-foreign-cert")


@pytest.fixture(scope="module")
def hsm(tmp_path_factory: pytest.TempPathFactory) -> softhsm.SoftHsm:
    return softhsm.make_store(tmp_path_factory.mktemp("softhsm"), TOKENS)


def token(label: str, **kw: object) -> TokenKey:
    return TokenKey(
        module=softhsm.MODULE,
        token_label=label,
        key_label=kw.pop("key_label", softhsm.KEY_LABEL),  # type: ignore[arg-type]
        pin=kw.pop("pin", softhsm.PIN),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def sign_flow(authority: SigningAuthority) -> bytes:
    ts = make_timestamper(authority)
    pdf = certify(render(sample_document()), authority, ts)
    for i, party in enumerate(sample_document().parties):
        cred = authority.issue_event_certificate(party.name, party.masked_id, f"identity:{i + 1}")
        pdf = sign_as(
            pdf, party_field(i), cred, drawn_png(), party.name, datetime.datetime.now(CST), ts
        )
    return seal(pdf, authority, ts)


def org_signatures(pdf: bytes, authority: SigningAuthority) -> list[str]:
    report = verify(pdf, [authority.ca_cert])
    assert report.verdict == "valid", report.to_json()
    return [s.field for s in report.signatures if s.signer == ORG]


def test_the_token_certifies_and_seals(hsm: softhsm.SoftHsm, tmp_path: Path) -> None:
    public_der = softhsm.generate_key("seal-ec", "ec")
    directory = tmp_path / "auth"
    authority = SigningAuthority.load_or_create(
        directory, organisation=ORG, org_token=token("seal-ec")
    )
    # The CA issued a certificate for the token's key, kept as a file; no key file anywhere.
    assert authority.org_key is None
    assert spki(authority.org_cert) == public_der
    authority.org_cert.verify_directly_issued_by(authority.ca_cert)
    assert not (directory / "org.key.pem").exists()
    assert (directory / "org.cert.pem").exists()

    sealed = sign_flow(authority)
    assert sorted(org_signatures(sealed, authority)) == ["certification", "seal"]

    # Loaded again, the same certificate (nothing re-issued).
    again = SigningAuthority.load_or_create(directory, organisation=ORG, org_token=token("seal-ec"))
    assert again.org_cert == authority.org_cert

    if shutil.which("pdfsig") and shutil.which("certutil"):
        from test_esign_pdfsig import nss_db, pdfsig

        db = nss_db(tmp_path, authority.trust_root_pem)
        path = tmp_path / "sealed.pdf"
        path.write_bytes(sealed)
        sigs = pdfsig(db, path)
        assert sigs["seal"]["Signature Validation"] == "Signature is Valid."
        assert sigs["seal"]["Certificate Validation"] == "Certificate is Trusted."
        assert "Total document signed" in sigs["seal"]


def _configured_ca(tmp_path: Path) -> tuple[Path, Path, SigningAuthority]:
    ca_dir = tmp_path / "real-ca"
    ca = SigningAuthority.load_or_create(ca_dir, organisation="上级法院")
    return ca_dir / "ca.cert.pem", ca_dir / "ca.key.pem", ca


def _cert_for(public_der: bytes, ca: SigningAuthority, cn: str) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    public = serialization.load_der_public_key(public_der)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca.ca_cert.subject)
        .public_key(public)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # nonRepudiation: a seal is a statement of will
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca.ca_key, hashes.SHA256())
    )


def test_a_certificate_on_the_token_is_the_organisations(
    hsm: softhsm.SoftHsm, tmp_path: Path
) -> None:
    # A token as a real CA issues it: an RSA key and its certificate, under the same label.
    public_der = softhsm.generate_key("seal-rsa-cert", "rsa")
    ca_cert, ca_key, ca = _configured_ca(tmp_path)
    cert = _cert_for(public_der, ca, ORG)
    softhsm.store_certificate(
        "seal-rsa-cert", cert.public_bytes(serialization.Encoding.DER), cert.subject.public_bytes()
    )
    directory = tmp_path / "auth"
    authority = SigningAuthority.load_or_create(
        directory,
        organisation=ORG,
        ca_cert_file=ca_cert,
        ca_key_file=ca_key,
        org_token=token("seal-rsa-cert"),
    )
    assert authority.org_cert == cert
    assert not (directory / "org.cert.pem").exists() and not (directory / "org.key.pem").exists()
    sealed = sign_flow(authority)
    assert sorted(org_signatures(sealed, authority)) == ["certification", "seal"]


def test_a_token_certificate_from_another_ca_is_refused(
    hsm: softhsm.SoftHsm, tmp_path: Path
) -> None:
    public_der = softhsm.generate_key("seal-foreign-cert", "ec")
    _c, _k, other = _configured_ca(tmp_path)
    cert = _cert_for(public_der, other, ORG)
    softhsm.store_certificate(
        "seal-foreign-cert",
        cert.public_bytes(serialization.Encoding.DER),
        cert.subject.public_bytes(),
    )
    with pytest.raises(AuthorityError) as info:
        SigningAuthority.load_or_create(tmp_path / "auth", org_token=token("seal-foreign-cert"))
    assert info.value.code == "pkcs11_cert_issuer"


async def test_the_signing_worker_uses_the_token(hsm: softhsm.SoftHsm, tmp_path: Path) -> None:
    """The child process opens the token itself (the key never crosses a process boundary)."""
    softhsm.generate_key("seal-worker", "ec")
    directory = tmp_path / "esign"
    config = AuthorityConfig(directory, organisation=ORG, org_token=token("seal-worker"))
    worker = SigningWorker(config)
    try:
        pdf = await worker.certify(sample_document())
        for i, party in enumerate(sample_document().parties):
            pdf = await worker.sign(
                pdf,
                party_field(i),
                Signer(party.name, party.masked_id, f"p{i}:passed"),
                drawn_png(),
                datetime.datetime.now(CST),
            )
        sealed = await worker.seal(pdf)
    finally:
        await worker.close()
    assert not (directory / "org.key.pem").exists()
    roots = load_trust_roots([directory / "ca.cert.pem"])
    report = await asyncio.to_thread(verify, sealed, roots)
    assert report.verdict == "valid", report.to_json()


@pytest.fixture(scope="module")
def keyed_error_token(hsm: softhsm.SoftHsm) -> str:
    softhsm.generate_key("seal-errors", "ec")
    return "seal-errors"


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"pin": "000000"}, "pkcs11_login"),
        ({"token_label": "no-such-token"}, "pkcs11_token"),
        ({"key_label": "no-such-key"}, "pkcs11_key"),
        ({"module": Path("/nonexistent/libpkcs11.so")}, "pkcs11_module"),
        ({"pin": None, "pin_file": Path("/nonexistent/pin")}, "pkcs11_pin_unreadable"),
    ],
)
def test_a_misconfigured_token_is_a_clear_error(
    keyed_error_token: str, tmp_path: Path, kw: dict[str, object], code: str
) -> None:
    fields: dict[str, object] = {
        "module": softhsm.MODULE,
        "token_label": keyed_error_token,
        "key_label": softhsm.KEY_LABEL,
        "pin": softhsm.PIN,
        "pin_file": None,
    }
    fields.update(kw)
    with pytest.raises(AuthorityError) as info:
        SigningAuthority.load_or_create(tmp_path / "auth", org_token=TokenKey(**fields))  # type: ignore[arg-type]
    assert info.value.code == code, str(info.value)
    assert not (tmp_path / "auth" / "org.key.pem").exists()


def test_the_pin_may_come_from_a_file(keyed_error_token: str, tmp_path: Path) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text(softhsm.PIN + "\n")
    authority = SigningAuthority.load_or_create(
        tmp_path / "auth",
        org_token=TokenKey(softhsm.MODULE, keyed_error_token, softhsm.KEY_LABEL, pin_file=pin_file),
    )
    assert authority.org_key is None
