"""The RFC 3161 responder: granted tokens that verify, rejections for anything else."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from asn1crypto import algos, tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko_certvalidator import ValidationContext

from esign import SigningAuthority, TimeStampResponder
from esign.tsa import DEFAULT_POLICY, InProcessTimeStamper, parse_response


def request(
    data: bytes = b"agreement",
    algorithm: str = "sha256",
    nonce: int | None = 12345,
    policy: str | None = None,
    digest: bytes | None = None,
) -> bytes:
    fields: dict[str, object] = {
        "version": 1,
        "message_imprint": {
            "hash_algorithm": algos.DigestAlgorithm({"algorithm": algorithm}),
            "hashed_message": digest
            if digest is not None
            else hashlib.new(algorithm, data).digest(),
        },
        "cert_req": True,
    }
    if nonce is not None:
        fields["nonce"] = nonce
    if policy is not None:
        fields["req_policy"] = policy
    return tsp.TimeStampReq(fields).dump()


def roots(authority: SigningAuthority) -> ValidationContext:
    ca = asn1_x509.Certificate.load(authority.ca_cert.public_bytes(serialization.Encoding.DER))
    return ValidationContext(trust_roots=[ca], allow_fetching=False)


def test_granted_token_verifies(authority: SigningAuthority) -> None:
    responder = TimeStampResponder.from_authority(authority)
    answer = parse_response(responder.respond(request(nonce=987654321)))
    assert answer.status == "granted" and answer.token is not None
    signed = answer.token["content"]
    info = signed["encap_content_info"]["content"].parsed
    assert info["nonce"].native == 987654321
    assert info["policy"].native == DEFAULT_POLICY
    assert info["message_imprint"]["hashed_message"].native == hashlib.sha256(b"agreement").digest()
    status = asyncio.run(
        validate_tst_signed_data(
            signed, roots(authority), lambda _alg: hashlib.sha256(b"agreement").digest()
        )
    )
    assert status["intact"] and status["valid"]
    # trusted: a path to the configured root was found, with no trust problem
    assert status["validation_path"] is not None and status["trust_problem_indic"] is None


def test_in_process_timestamper(authority: SigningAuthority) -> None:
    stamper = InProcessTimeStamper(TimeStampResponder.from_authority(authority))
    digest = hashlib.sha256(b"x").digest()
    token = asyncio.run(stamper.async_timestamp(digest, "sha256"))
    info = token["content"]["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native == digest


@pytest.mark.parametrize(
    ("body", "fail"),
    [
        (b"", "bad_data_format"),
        (b"garbage that is not DER", "bad_data_format"),
        (b"\x30\x03\x02\x01\x01", "bad_data_format"),  # a SEQUENCE with only a version
        (request(algorithm="sha1"), "bad_alg"),
        (request(algorithm="md5"), "bad_alg"),
        (request(digest=b"short"), "bad_data_format"),
        (request(policy="1.2.3.4"), "unaccepted_policy"),
        (request()[:-3], "bad_data_format"),  # truncated
    ],
)
def test_bad_requests_are_rejected(authority: SigningAuthority, body: bytes, fail: str) -> None:
    answer = parse_response(TimeStampResponder.from_authority(authority).respond(body))
    assert answer.status == "rejection"
    assert answer.fail_info == {fail}
    assert answer.token is None and answer.text


def test_a_failing_key_is_a_system_failure(authority: SigningAuthority) -> None:
    responder = TimeStampResponder.from_authority(authority)
    responder._key = None  # type: ignore[assignment]
    answer = parse_response(responder.respond(request()))
    assert answer.status == "rejection" and answer.fail_info == {"system_failure"}
