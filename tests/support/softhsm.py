"""SoftHSM2 tokens for the PKCS#11 tests: a real PKCS#11 module (Debian softhsm2) in a temp dir.

SoftHSM reads its configuration (``SOFTHSM2_CONF``) once, when the module is first loaded into
a process, and python-pkcs11 loads a module once per process: so one store serves the whole
test session, every token is made before the module is loaded, and each test uses its own token.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
PIN, SO_PIN = "246810", "13579135"
KEY_LABEL = "org-seal"


def available() -> bool:
    """True if the SoftHSM2 module and its util are installed (apt install softhsm2)."""
    return MODULE.is_file() and shutil.which("softhsm2-util") is not None


@dataclass(frozen=True)
class SoftHsm:
    """A SoftHSM store whose tokens are named by ``labels``; ``conf`` is its SOFTHSM2_CONF."""

    root: Path
    conf: Path
    labels: tuple[str, ...]


def make_store(root: Path, labels: tuple[str, ...]) -> SoftHsm:
    """Create a store under ``root`` with one initialised token per label (PIN :data:`PIN`) and
    point ``SOFTHSM2_CONF`` at it, in this process and in the children it starts."""
    tokens = root / "tokens"
    tokens.mkdir(parents=True)
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    for label in labels:
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", label,
             "--pin", PIN, "--so-pin", SO_PIN],
            check=True, capture_output=True, env=env,
        )  # fmt: skip
    os.environ["SOFTHSM2_CONF"] = str(conf)
    return SoftHsm(root, conf, labels)


def generate_key(token_label: str, kind: str = "ec") -> bytes:
    """Generate a non-extractable signing key pair labelled :data:`KEY_LABEL` on the token, the
    way a court's token is issued; return the public key as DER SubjectPublicKeyInfo."""
    import pkcs11
    from pkcs11 import Attribute, KeyType
    from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters
    from pkcs11.util.rsa import encode_rsa_public_key

    token = pkcs11.lib(str(MODULE)).get_token(token_label=token_label)
    private = {Attribute.EXTRACTABLE: False, Attribute.SENSITIVE: True, Attribute.SIGN: True}
    with token.open(rw=True, user_pin=PIN) as session:
        if kind == "ec":
            params = session.create_domain_parameters(
                KeyType.EC,
                {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                local=True,
            )
            pub, _priv = params.generate_keypair(
                store=True, label=KEY_LABEL, private_template=private
            )
            return bytes(encode_ec_public_key(pub))
        pub, _priv = session.generate_keypair(
            KeyType.RSA, 2048, store=True, label=KEY_LABEL, private_template=private
        )
        from cryptography.hazmat.primitives import serialization

        key = serialization.load_der_public_key(encode_rsa_public_key(pub))
        return key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def store_certificate(token_label: str, der: bytes, subject_der: bytes) -> None:
    """Store an X.509 certificate labelled :data:`KEY_LABEL` on the token, beside its key."""
    import pkcs11
    from pkcs11 import Attribute, CertificateType, ObjectClass

    token = pkcs11.lib(str(MODULE)).get_token(token_label=token_label)
    with token.open(rw=True, user_pin=PIN) as session:
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                Attribute.TOKEN: True,
                Attribute.LABEL: KEY_LABEL,
                Attribute.SUBJECT: subject_der,
                Attribute.VALUE: der,
            }
        )
