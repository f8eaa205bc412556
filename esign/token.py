"""The organisation's seal key on a PKCS#11 token (a USB key or an HSM) instead of a key file.

A court's seal key is often issued on a hardware token whose private key cannot be exported. With
a :class:`TokenKey` the authority never holds that key: it reads the token's public key (and the
certificate stored beside it, if any) and every certification and seal is computed by the token
itself, in a session opened for that one operation and closed after it (a token that was
unplugged and plugged back in works again at the next signature).

Which objects: the private key whose label is ``key_label``; its public key is the public-key
object of the same label, or else the certificate of that label. If the token holds a
certificate of that label, it is the organisation's certificate (a real CA issued it); if not,
the authority issues one for the token's public key from its CA and keeps it as a file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pkcs11
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pkcs11 import Attribute, Key, KeyType, ObjectClass, Session
from pkcs11.util.ec import encode_ec_public_key
from pkcs11.util.rsa import encode_rsa_public_key
from pyhanko.config.pkcs11 import TokenCriteria
from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session

from .errors import AuthorityError

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


@dataclass(frozen=True)
class TokenKey:
    """Where the organisation's key is: a PKCS#11 module, a token, a key label, the user PIN.

    ``pin`` is the user PIN itself; ``pin_file`` a file holding it (first line), so that the PIN
    need not sit in the server's environment. Picklable: the signing worker's child process
    opens the token itself.
    """

    module: Path
    token_label: str
    key_label: str
    pin: str | None = field(default=None, repr=False)
    pin_file: Path | None = None

    def user_pin(self) -> str | None:
        """The PIN to log in with (``None``: the token needs no login)."""
        if self.pin_file is not None:
            try:
                lines = self.pin_file.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise AuthorityError(
                    "pkcs11_pin_unreadable", f"cannot read the token PIN file: {exc}"
                ) from None
            return lines[0].strip() if lines else ""
        return self.pin


@contextmanager
def session(token: TokenKey) -> Iterator[Session]:
    """An open, logged-in session on ``token``; closed on exit.

    Raises :class:`AuthorityError`: ``pkcs11_module`` (the module cannot be loaded),
    ``pkcs11_token`` (no token of that label), ``pkcs11_login`` (PIN refused or locked).
    """

    if not token.module.is_file():
        raise AuthorityError("pkcs11_module", f"the PKCS#11 module {token.module} does not exist")
    pin = token.user_pin()
    try:
        opened = open_pkcs11_session(
            str(token.module), token_criteria=TokenCriteria(label=token.token_label), user_pin=pin
        )
    except (pkcs11.PinIncorrect, pkcs11.PinLenRange, pkcs11.PinInvalid) as exc:
        raise AuthorityError(
            "pkcs11_login",
            f"the token {token.token_label!r} refused the PIN ({type(exc).__name__})",
        ) from None
    except pkcs11.PinLocked:
        raise AuthorityError(
            "pkcs11_login", f"the token {token.token_label!r} is locked (too many wrong PINs)"
        ) from None
    except pkcs11.PKCS11Error as exc:
        raise AuthorityError(
            "pkcs11_token", f"cannot open the token {token.token_label!r}: {type(exc).__name__}"
        ) from None
    except Exception as exc:  # pyHanko's "no token found", a module that is not PKCS#11, ...
        raise AuthorityError(
            "pkcs11_token", f"cannot open the token {token.token_label!r}: {exc}"
        ) from None
    try:
        yield opened
    finally:
        # a token pulled out mid-session cannot be closed
        with suppress(Exception):
            opened.close()


def _label_lookup(sess: Session, object_class: ObjectClass, label: str) -> Key | None:

    try:
        return sess.get_key(object_class=object_class, label=label)
    except (pkcs11.NoSuchKey, pkcs11.MultipleObjectsReturned):
        return None


def _certificate(sess: Session, label: str) -> x509.Certificate | None:

    found = list(
        sess.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.LABEL: label})
    )
    if not found:
        return None
    return x509.load_der_x509_certificate(bytes(found[0][Attribute.VALUE]))


def _public_key(sess: Session, label: str) -> PublicKey | None:

    pub = _label_lookup(sess, ObjectClass.PUBLIC_KEY, label)
    if not isinstance(pub, pkcs11.PublicKey):
        return None
    key_type = pub.key_type
    if key_type == KeyType.EC:
        loaded = serialization.load_der_public_key(encode_ec_public_key(pub))
    elif key_type == KeyType.RSA:
        loaded = serialization.load_der_public_key(encode_rsa_public_key(pub))
    else:
        raise AuthorityError("key_type", f"the token's key {label!r} is neither EC nor RSA")
    if not isinstance(loaded, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise AuthorityError("key_type", f"the token's key {label!r} is neither EC nor RSA")
    return loaded


@dataclass(frozen=True)
class TokenContents:
    """What the authority needs from the token: the key's public half, its certificate if any."""

    public_key: PublicKey
    certificate: x509.Certificate | None


def read_token(token: TokenKey) -> TokenContents:
    """Open ``token`` and read the signing key's public key and certificate.

    Raises :class:`AuthorityError` (``pkcs11_key``) if there is no private key of that label,
    or neither a public key nor a certificate to learn its public half from, or if the
    certificate does not match the public key.
    """

    with session(token) as sess:
        if _label_lookup(sess, ObjectClass.PRIVATE_KEY, token.key_label) is None:
            raise AuthorityError(
                "pkcs11_key",
                f"the token {token.token_label!r} has no (single) private key "
                f"labelled {token.key_label!r}",
            )
        cert = _certificate(sess, token.key_label)
        public = _public_key(sess, token.key_label)
    if public is None:
        if cert is None:
            raise AuthorityError(
                "pkcs11_key",
                f"the token has neither a public key nor a certificate labelled "
                f"{token.key_label!r}",
            )
        cert_key = cert.public_key()
        if not isinstance(cert_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            raise AuthorityError("key_type", "the token's certificate is neither EC nor RSA")
        public = cert_key
    if cert is not None and cert.public_key() != public:
        raise AuthorityError(
            "pkcs11_key", f"the certificate {token.key_label!r} on the token is not for its key"
        )
    return TokenContents(public_key=public, certificate=cert)


@contextmanager
def token_signer(
    token: TokenKey, certificate: x509.Certificate, chain: tuple[x509.Certificate, ...]
) -> Iterator[PKCS11Signer]:
    """A pyHanko signer whose signatures the token computes; the session closes on exit."""

    def asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))

    with session(token) as sess:
        yield PKCS11Signer(
            sess,
            key_label=token.key_label,
            signing_cert=asn1(certificate),
            ca_chain=[asn1(c) for c in chain],
            # the chain is given: do not look for other certificates on the token
            other_certs_to_pull=(),
            # Many tokens (SoftHSM among them) have only CKM_ECDSA, not CKM_ECDSA_SHA256: hash
            # here and let the token sign the digest, which every ECDSA token can.
            use_raw_mechanism=isinstance(certificate.public_key(), ec.EllipticCurvePublicKey),
        )
