"""The court's signing authority: a CA, the organisation's seal certificate, a TSA certificate.

On first run :meth:`SigningAuthority.load_or_create` generates, under one directory (0700, each
file 0600):

- ``ca.cert.pem`` / ``ca.key.pem``: the root "court signing CA" (EC P-256, self-signed, CA:true);
- ``org.cert.pem`` / ``org.key.pem``: the mediation organisation's seal certificate, issued by
  the CA (digitalSignature, nonRepudiation);
- ``tsa.cert.pem`` / ``tsa.key.pem``: the timestamp authority's certificate, issued by the CA
  (extended key usage timeStamping, critical, as RFC 3161 §2.3 requires).

A real CA can be used instead: pass its certificate and key files; the organisation and TSA
certificates are then issued by it (and re-issued if they were issued by another CA).

The organisation's key can live on a PKCS#11 token instead (``org_token``, see
:mod:`esign.token`): then no ``org.key.pem`` exists, the certificate is the token's own (if it
holds one of the key's label) or one this CA issues for the token's public key, kept as
``org.cert.pem``; certifications and seals are computed by the token.

Per signature, :meth:`SigningAuthority.issue_event_certificate` issues a short-lived "event
certificate" naming the signer. Its private key exists only in memory, inside the returned
:class:`EventCredential`; :func:`esign.signing.sign_as` uses it for one signature and then
discards it (:meth:`EventCredential.discard`), so a signature with that key can only ever have
been made at that moment. (Python cannot guarantee the bytes are wiped from memory; the key is
never written anywhere and no reference to it survives.)
"""

from __future__ import annotations

import datetime
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .errors import AuthorityError
from .token import TokenKey, read_token

PrivateKey = ec.EllipticCurvePrivateKey

#: How long an event certificate is valid: long enough for one signature, no longer.
EVENT_CERT_VALIDITY = datetime.timedelta(minutes=10)
# Clock skew between this server and whoever validates: backdate not_before a little.
_SKEW = datetime.timedelta(minutes=1)
_CA_YEARS = 20
_LEAF_YEARS = 5

# The serialNumber attribute is a PrintableString: letters, digits and a few marks, no "_".
_REF = re.compile(r"^[A-Za-z0-9:.-]{1,64}$")
_MASKED = re.compile(r"^[0-9A-Za-z*]{4,32}$")

CA_CERT, CA_KEY = "ca.cert.pem", "ca.key.pem"
ORG_CERT, ORG_KEY = "org.cert.pem", "org.key.pem"
TSA_CERT, TSA_KEY = "tsa.cert.pem", "tsa.key.pem"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def _new_key() -> PrivateKey:
    # P-256: fast to generate per event, and every validator we target (pyHanko, Poppler/NSS,
    # Adobe) accepts ECDSA.
    return ec.generate_private_key(ec.SECP256R1())


def _ski(key: PrivateKey) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key())


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600 from the first byte (no window at 0644)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_key(path: Path, password: bytes | None = None) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=password)
    except (OSError, ValueError, TypeError) as exc:
        raise AuthorityError("key_unreadable", f"cannot read private key {path}: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        # The signers below are built for ECDSA; a real CA with RSA keys would need them too.
        raise AuthorityError("key_type", f"{path}: only EC private keys are supported")
    return key


def _load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise AuthorityError("cert_unreadable", f"cannot read certificate {path}: {exc}") from None


def to_asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    """The certificate as asn1crypto wants it (pyHanko's type)."""
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def to_asn1_key(key: PrivateKey) -> asn1_keys.PrivateKeyInfo:
    """The private key as asn1crypto wants it (pyHanko's type)."""
    return asn1_keys.PrivateKeyInfo.load(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _name(common_name: str, organisation: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "CN")]
    if organisation:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _issue(
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer_cert: x509.Certificate,
    issuer_key: PrivateKey,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
    *,
    ts_eku: bool = False,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                # a TSA signs tokens, not statements of will: no nonRepudiation for it
                content_commitment=not ts_eku,
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
    )
    if ts_eku:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _issued_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    if cert.issuer != ca_cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, Exception):
        return False
    return True


def _token_leaf(
    directory: Path,
    token: TokenKey,
    organisation: str,
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
) -> x509.Certificate:
    """The organisation's certificate for the key on ``token`` (see the module doc)."""
    contents = read_token(token)
    now = _now()
    if contents.certificate is not None:
        if not _issued_by(contents.certificate, ca_cert):
            raise AuthorityError(
                "pkcs11_cert_issuer",
                "the certificate on the token was not issued by the signing CA in use: "
                "configure that CA's certificate and key",
            )
        return contents.certificate
    cert_path = directory / ORG_CERT
    subject = _name(organisation, organisation)
    if cert_path.exists():
        cert = _load_cert(cert_path)
        if (
            cert.public_key() == contents.public_key
            and _issued_by(cert, ca_cert)
            and cert.not_valid_after_utc > now
        ):
            return cert
        subject = cert.subject
    cert = _issue(
        subject,
        contents.public_key,  # type: ignore[arg-type]
        ca_cert,
        ca_key,
        now - _SKEW,
        min(now + datetime.timedelta(days=365 * _LEAF_YEARS), ca_cert.not_valid_after_utc),
    )
    _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert


@dataclass
class EventCredential:
    """A one-signature credential: the event certificate and its in-memory private key.

    ``sign_as`` takes the key with :meth:`take_key` and calls :meth:`discard` after signing;
    a second use raises :class:`~esign.errors.AuthorityError`.
    """

    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    _key: PrivateKey | None = field(repr=False)

    @property
    def used(self) -> bool:
        """True once the key has been discarded."""
        return self._key is None

    def take_key(self) -> PrivateKey:
        """The private key, for the one signature; raises if it was already discarded."""
        if self._key is None:
            raise AuthorityError(
                "event_key_used", "this event certificate's key was already used and discarded"
            )
        return self._key

    def discard(self) -> None:
        """Drop the private key: this credential can sign nothing more."""
        self._key = None


@dataclass(frozen=True)
class SigningAuthority:
    """The CA, the organisation's certificate and the TSA's, with their keys (see module doc)."""

    directory: Path
    ca_cert: x509.Certificate
    ca_key: PrivateKey
    org_cert: x509.Certificate
    #: The organisation's key, unless it is on a token (then ``None``, and ``org_token`` set).
    org_key: PrivateKey | None = field(repr=False)
    tsa_cert: x509.Certificate = field(repr=False)
    tsa_key: PrivateKey = field(repr=False)
    org_token: TokenKey | None = None

    @classmethod
    def load_or_create(
        cls,
        directory: Path | str,
        *,
        organisation: str = "人民调解委员会",
        court: str = "人民法院",
        ca_cert_file: Path | str | None = None,
        ca_key_file: Path | str | None = None,
        ca_key_password: bytes | None = None,
        org_token: TokenKey | None = None,
    ) -> SigningAuthority:
        """Load the authority from ``directory``, creating what is missing.

        ``organisation`` and ``court`` name the certificates created on first run (they are not
        changed on later runs: the certificates already issued name what they name).
        With ``ca_cert_file`` and ``ca_key_file`` a configured CA is used instead of the
        embedded one; its files are read where they are, never copied. With ``org_token`` the
        organisation's key is the one on that PKCS#11 token (a certificate on the token must
        have been issued by the CA in use).
        Raises :class:`~esign.errors.AuthorityError` if files are unreadable or inconsistent.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(directory, 0o700)
        now = _now()

        if (ca_cert_file is None) != (ca_key_file is None):
            raise AuthorityError(
                "ca_config", "a configured CA needs both its certificate and its key file"
            )
        if ca_cert_file is not None and ca_key_file is not None:
            ca_cert = _load_cert(Path(ca_cert_file))
            ca_key = _load_key(Path(ca_key_file), ca_key_password)
        elif (directory / CA_CERT).exists() or (directory / CA_KEY).exists():
            ca_cert = _load_cert(directory / CA_CERT)
            ca_key = _load_key(directory / CA_KEY)
        else:
            ca_key = _new_key()
            subject = _name(f"{court} 电子签名根证书 Court Signing CA", court)
            ca_cert = (
                x509.CertificateBuilder()
                .subject_name(subject)
                .issuer_name(subject)
                .public_key(ca_key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - _SKEW)
                .not_valid_after(now + datetime.timedelta(days=365 * _CA_YEARS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(
                    x509.KeyUsage(
                        digital_signature=False,
                        content_commitment=False,
                        key_encipherment=False,
                        data_encipherment=False,
                        key_agreement=False,
                        key_cert_sign=True,
                        crl_sign=True,
                        encipher_only=False,
                        decipher_only=False,
                    ),
                    critical=True,
                )
                .add_extension(_ski(ca_key), critical=False)
                .sign(ca_key, hashes.SHA256())
            )
            _write_private(directory / CA_KEY, _key_pem(ca_key))
            _write_private(directory / CA_CERT, ca_cert.public_bytes(serialization.Encoding.PEM))
        if ca_cert.public_key() != ca_key.public_key():
            raise AuthorityError("ca_mismatch", "the CA certificate does not match its key")

        def leaf(
            cert_name: str, key_name: str, cn: str, ts_eku: bool
        ) -> tuple[x509.Certificate, PrivateKey]:
            cert_path, key_path = directory / cert_name, directory / key_name
            if cert_path.exists() and key_path.exists():
                cert, key = _load_cert(cert_path), _load_key(key_path)
                if cert.public_key() != key.public_key():
                    raise AuthorityError("leaf_mismatch", f"{cert_path} does not match its key")
                if _issued_by(cert, ca_cert) and cert.not_valid_after_utc > now:
                    return cert, key
                subject = cert.subject  # re-issue under the current CA, same name, same key
            else:
                key = _new_key()
                subject = _name(cn, organisation)
            cert = _issue(
                subject,
                key.public_key(),
                ca_cert,
                ca_key,
                now - _SKEW,
                min(now + datetime.timedelta(days=365 * _LEAF_YEARS), ca_cert.not_valid_after_utc),
                ts_eku=ts_eku,
            )
            _write_private(key_path, _key_pem(key))
            _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
            return cert, key

        org_key: PrivateKey | None
        if org_token is None:
            org_cert, org_key = leaf(ORG_CERT, ORG_KEY, organisation, False)
        else:
            org_cert = _token_leaf(directory, org_token, organisation, ca_cert, ca_key)
            org_key = None
        tsa_name = f"{court} 时间戳服务 Time-Stamping Authority"
        tsa_cert, tsa_key = leaf(TSA_CERT, TSA_KEY, tsa_name, True)
        return cls(directory, ca_cert, ca_key, org_cert, org_key, tsa_cert, tsa_key, org_token)

    @property
    def trust_root_pem(self) -> bytes:
        """The CA certificate in PEM: what a verifier trusts (``--trust``)."""
        return self.ca_cert.public_bytes(serialization.Encoding.PEM)

    def issue_event_certificate(
        self,
        name: str,
        masked_id: str,
        subject_ref: str,
        *,
        validity: datetime.timedelta = EVENT_CERT_VALIDITY,
    ) -> EventCredential:
        """Issue a fresh key pair and a short-lived certificate naming the signer.

        Subject: CN = ``name``; pseudonym = ``masked_id`` (e.g. ``**************1234``: an X.509
        serialNumber must be a PrintableString, which has no ``*``); serialNumber =
        ``subject_ref``, the application's reference to the verified identity (e.g. an identity
        record's ID or a keyed hash of the ID number; at most 64 of ``A-Za-z0-9:.-``, since an
        X.509 serialNumber is a PrintableString).
        Key usage digitalSignature + nonRepudiation; valid ``validity`` (10 minutes).
        The private key never leaves the returned :class:`EventCredential`.
        """
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise AuthorityError("signer_name_invalid", "name must be 1 to 100 characters")
        if not _MASKED.match(masked_id) or "*" not in masked_id:
            raise AuthorityError("masked_id_invalid", "masked_id must be a masked ID number")
        if not _REF.match(subject_ref):
            raise AuthorityError(
                "subject_ref_invalid", "subject_ref must be 1 to 64 of A-Za-z0-9:.-"
            )
        key = _new_key()
        now = _now()
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
                x509.NameAttribute(NameOID.PSEUDONYM, masked_id),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, subject_ref),
            ]
        )
        cert = _issue(
            subject, key.public_key(), self.ca_cert, self.ca_key, now - _SKEW, now + validity
        )
        return EventCredential(certificate=cert, chain=(self.ca_cert,), _key=key)


def new_nonce() -> int:
    """A random 64-bit positive integer (serial numbers of timestamp tokens)."""
    return secrets.randbits(63) | 1


#: Where the embedded authority lives under the server's data dir.
AUTHORITY_SUBDIR = "esign"


def authority_dir(data_dir: Path | str) -> Path:
    """The embedded authority's directory under ``data_dir`` (``<data_dir>/esign``)."""
    return Path(data_dir) / AUTHORITY_SUBDIR
