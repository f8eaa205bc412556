"""The signing authority on disk: first run, reload, permissions, a configured CA, events."""

from __future__ import annotations

import datetime
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from esign import AuthorityError, SigningAuthority

FILES = ["ca.cert.pem", "ca.key.pem", "org.cert.pem", "org.key.pem", "tsa.cert.pem", "tsa.key.pem"]


def test_first_run_creates_everything_private(tmp_path: Path) -> None:
    directory = tmp_path / "auth"
    a = SigningAuthority.load_or_create(directory, organisation="某某调解委员会")
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for name in FILES:
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600, name
    assert sorted(p.name for p in directory.iterdir()) == sorted(FILES)

    ca = a.ca_cert
    assert ca.issuer == ca.subject
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for cert in (a.org_cert, a.tsa_cert):
        cert.verify_directly_issued_by(ca)
        assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    eku = a.tsa_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    org_cn = a.org_cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert org_cn == "某某调解委员会"
    ku = a.org_cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.content_commitment


def test_reload_gives_the_same_authority(tmp_path: Path) -> None:
    first = SigningAuthority.load_or_create(tmp_path / "auth")
    again = SigningAuthority.load_or_create(tmp_path / "auth", organisation="ignored later")
    assert again.ca_cert == first.ca_cert
    assert again.org_cert == first.org_cert
    assert again.tsa_cert == first.tsa_cert


def test_corrupt_key_is_reported(tmp_path: Path) -> None:
    SigningAuthority.load_or_create(tmp_path / "auth")
    (tmp_path / "auth" / "ca.key.pem").write_text("not a key")
    with pytest.raises(AuthorityError) as err:
        SigningAuthority.load_or_create(tmp_path / "auth")
    assert err.value.code == "key_unreadable"


def _external_ca(tmp_path: Path) -> tuple[Path, Path, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "A real court CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "real-ca.pem", tmp_path / "real-ca.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    return cert_path, key_path, cert


def test_configured_ca_issues_the_organisation_and_tsa(tmp_path: Path) -> None:
    embedded = SigningAuthority.load_or_create(tmp_path / "auth")
    cert_path, key_path, real = _external_ca(tmp_path)
    a = SigningAuthority.load_or_create(
        tmp_path / "auth", ca_cert_file=cert_path, ca_key_file=key_path, ca_key_password=b"secret"
    )
    assert a.ca_cert == real
    a.org_cert.verify_directly_issued_by(real)
    a.tsa_cert.verify_directly_issued_by(real)
    # re-issued for the same key and name
    assert a.org_cert.public_key() == embedded.org_cert.public_key()
    assert a.org_cert.subject == embedded.org_cert.subject
    with pytest.raises(AuthorityError):
        SigningAuthority.load_or_create(tmp_path / "auth", ca_cert_file=cert_path)


def test_event_certificate(authority: SigningAuthority) -> None:
    cred = authority.issue_event_certificate("张三", "**************1234", "identity:42")
    cert = cred.certificate
    cert.verify_directly_issued_by(authority.ca_cert)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "张三"
    assert cert.subject.get_attributes_for_oid(NameOID.PSEUDONYM)[0].value == "**************1234"
    assert cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == "identity:42"
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime <= datetime.timedelta(minutes=11)
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.content_commitment and not ku.key_cert_sign
    key = cred.take_key()
    assert key.public_key() == cert.public_key()
    cred.discard()
    assert cred.used
    with pytest.raises(AuthorityError) as err:
        cred.take_key()
    assert err.value.code == "event_key_used"
    # every event has its own key
    other = authority.issue_event_certificate("张三", "**************1234", "identity:42")
    assert other.certificate.public_key() != cert.public_key()


@pytest.mark.parametrize(
    ("name", "masked", "ref"),
    [("", "****1234", "r"), ("张三", "110105194912310021", "r"), ("张三", "****1234", "bad ref!")],
)
def test_event_certificate_input_is_checked(
    authority: SigningAuthority, name: str, masked: str, ref: str
) -> None:
    with pytest.raises(AuthorityError):
        authority.issue_event_certificate(name, masked, ref)
