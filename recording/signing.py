"""The server's Ed25519 recording key: created on first use, used to sign manifests.

The private key lives in one PEM file (PKCS#8, mode 0600) in the data directory. Its public
half is written next to every manifest (``public_key.pem``) and should also be published
(e.g. on the court's web site) so that anyone can check that a recording was signed by this
server and not by whoever last had write access to the files.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)


class SigningKeyError(Exception):
    """A key file exists but cannot be used."""


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """The key stored at ``path``; generated there (mode 0600) if the file does not exist.

    Two processes starting at once cannot both create it; the loser reads the winner's
    key. Raises :class:`SigningKeyError` for a file that is not an Ed25519 private key.
    """
    try:
        return _load_private(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Written in full under a temporary name, then linked into place: a process that
    # loses the race never reads a half-written key, and never overwrites the winner's.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return _load_private(path)
    finally:
        tmp.unlink()
    return key


def _load_private(path: Path) -> Ed25519PrivateKey:
    data = path.read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"{path} is not a readable private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def public_key_pem(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    """The public key as PEM (SubjectPublicKeyInfo), for publishing."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_fingerprint(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """``SHA256:`` + hex SHA-256 of the raw 32-byte public key: short enough to read aloud
    in parts, and what a published key is compared by."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return "SHA256:" + hashlib.sha256(public_key_raw(pub)).hexdigest()


def load_public_key(data: bytes) -> Ed25519PublicKey:
    """A public key from PEM, or from base64 of the raw 32 bytes. Raises ValueError."""
    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not a PEM public key: {exc}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"a {type(key).__name__}, not an Ed25519 public key")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise ValueError("neither PEM nor base64") from None
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key has 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def signature_valid(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
