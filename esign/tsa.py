"""An RFC 3161 time-stamp responder, and the pyHanko time-stampers that use it or another TSA.

:class:`TimeStampResponder` turns a ``TimeStampReq`` (DER) into a ``TimeStampResp`` (DER):
always an answer, never an exception, since the web server hands it whatever a client posted
(``application/timestamp-query`` in, ``application/timestamp-reply`` out). A malformed or
unsupported request gets status ``rejection`` with the matching failure bit (RFC 3161 §2.4.2).

:func:`make_timestamper` chooses what signing uses: the responder in-process (the embedded
default: no HTTP round trip to ourselves) or an external TSA by URL.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper, TimestampRequestError

from .authority import SigningAuthority, new_nonce, to_asn1_cert

log = logging.getLogger(__name__)

CONTENT_TYPE_QUERY = "application/timestamp-query"
CONTENT_TYPE_REPLY = "application/timestamp-reply"

#: The TSA policy this responder issues tokens under (a private arc: UUID-based OID, X.667).
DEFAULT_POLICY = "2.25.238936474624350734116379513826478351223"

_DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}


def _der_sequence(content: bytes) -> bytes:
    """A DER SEQUENCE around ``content`` (definite length)."""
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return b"\x30" + length + content


def _reject(fail: str, text: str) -> bytes:
    """A TimeStampResp with status ``rejection`` and no token.

    Built by hand: asn1crypto's ``TimeStampResp`` wrongly declares the token mandatory.
    """
    status = tsp.PKIStatusInfo(
        {
            "status": "rejection",
            "status_string": [text],
            "fail_info": tsp.PKIFailureInfo({fail}),
        }
    )
    return _der_sequence(status.dump())


# The answer when building any other answer failed: prepared now, so it cannot fail later.
_SYSTEM_FAILURE = _reject("system_failure", "the time-stamp authority failed")


class TimeStampResponder:
    """Signs RFC 3161 timestamp tokens with the TSA certificate and key.

    ``clock`` returns the current UTC time (tests pass a fixed one).
    """

    def __init__(
        self,
        certificate: x509.Certificate,
        key: ec.EllipticCurvePrivateKey,
        *,
        policy: str = DEFAULT_POLICY,
        clock: Callable[[], datetime.datetime] | None = None,
        extra_certs: tuple[x509.Certificate, ...] = (),
    ) -> None:
        self._cert = to_asn1_cert(certificate)
        self._extra = [to_asn1_cert(c) for c in extra_certs]
        self._key = key
        self._policy = policy
        self._clock = clock or (lambda: datetime.datetime.now(datetime.UTC))

    @classmethod
    def from_authority(cls, authority: SigningAuthority) -> TimeStampResponder:
        """The responder of the embedded authority (its TSA certificate; the CA sent along)."""
        return cls(authority.tsa_cert, authority.tsa_key, extra_certs=(authority.ca_cert,))

    def respond(self, request_der: bytes) -> bytes:
        """Answer one ``TimeStampReq`` (DER) with a ``TimeStampResp`` (DER). Never raises."""
        try:
            try:
                req = tsp.TimeStampReq.load(bytes(request_der), strict=True)
                req.native  # noqa: B018 - parse every field now, not later inside the signing
            except Exception:
                return _reject("bad_data_format", "the request is not a DER TimeStampReq")
            if req["version"].native not in (1, "v1"):
                return _reject("bad_request", "only version 1 requests are supported")
            imprint = req["message_imprint"]
            algorithm = imprint["hash_algorithm"]["algorithm"].native
            digest = imprint["hashed_message"].native
            if algorithm not in _DIGEST_SIZES:
                return _reject("bad_alg", f"hash algorithm {algorithm} is not accepted")
            if len(digest) != _DIGEST_SIZES[algorithm]:
                return _reject("bad_data_format", "the message imprint has the wrong length")
            policy = req["req_policy"].native
            if policy is not None and policy != self._policy:
                return _reject("unaccepted_policy", f"policy {policy} is not offered")
            if req["extensions"].native:
                return _reject("unaccepted_extension", "no request extensions are supported")
            token = self._token(req)
            granted: bytes = tsp.TimeStampResp(
                {"status": tsp.PKIStatusInfo({"status": "granted"}), "time_stamp_token": token}
            ).dump()
            return granted
        except Exception:
            # Our own fault (e.g. a key problem): say so in the protocol, log it for us.
            log.exception("time-stamp responder failed")
            return _SYSTEM_FAILURE

    def _token(self, req: tsp.TimeStampReq) -> cms.ContentInfo:
        now = self._clock().astimezone(datetime.UTC).replace(microsecond=0)
        tst_info = {
            "version": "v1",
            "policy": self._policy,
            "message_imprint": req["message_imprint"],
            "serial_number": new_nonce(),
            "gen_time": now,
            "accuracy": {"seconds": 1},
            "ordering": False,
            "tsa": asn1_x509.GeneralName(name="directory_name", value=self._cert.subject),
        }
        if req["nonce"].native is not None:
            tst_info["nonce"] = req["nonce"]
        encap = tsp.TSTInfo(tst_info).dump()
        cert_der = self._cert.dump()
        signed_attrs = cms.CMSAttributes(
            [
                cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
                cms.CMSAttribute(
                    {"type": "message_digest", "values": [hashlib.sha256(encap).digest()]}
                ),
                cms.CMSAttribute(
                    {
                        # RFC 5816: binds the token to this TSA certificate
                        "type": "signing_certificate_v2",
                        "values": [
                            tsp.SigningCertificateV2(
                                {
                                    "certs": [
                                        tsp.ESSCertIDv2(
                                            {
                                                "hash_algorithm": {"algorithm": "sha256"},
                                                "cert_hash": hashlib.sha256(cert_der).digest(),
                                                "issuer_serial": {
                                                    "issuer": [
                                                        asn1_x509.GeneralName(
                                                            name="directory_name",
                                                            value=self._cert.issuer,
                                                        )
                                                    ],
                                                    "serial_number": self._cert.serial_number,
                                                },
                                            }
                                        )
                                    ]
                                }
                            )
                        ],
                    }
                ),
                cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": now})]}),
            ]
        )
        # The signature covers the DER of the attributes as a SET OF (RFC 5652 §5.4).
        signature = self._key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256()))
        certs = [self._cert, *self._extra] if req["cert_req"].native else []
        signed_data = cms.SignedData(
            {
                "version": "v3",
                "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
                "encap_content_info": {
                    "content_type": "tst_info",
                    "content": core.ParsableOctetString(encap),
                },
                "certificates": [cms.CertificateChoices(name="certificate", value=c) for c in certs]
                or None,
                "signer_infos": [
                    cms.SignerInfo(
                        {
                            "version": "v1",
                            "sid": cms.SignerIdentifier(
                                name="issuer_and_serial_number",
                                value=cms.IssuerAndSerialNumber(
                                    {
                                        "issuer": self._cert.issuer,
                                        "serial_number": self._cert.serial_number,
                                    }
                                ),
                            ),
                            "digest_algorithm": {"algorithm": "sha256"},
                            "signed_attrs": signed_attrs,
                            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
                            "signature": signature,
                        }
                    )
                ],
            }
        )
        if not certs:
            del signed_data["certificates"]
        return cms.ContentInfo({"content_type": "signed_data", "content": signed_data})


class _TimeStampResp(core.Sequence):
    """RFC 3161 TimeStampResp with the token OPTIONAL, as the RFC says (asn1crypto's is not)."""

    _fields = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


@dataclass(frozen=True)
class ParsedResponse:
    """A TimeStampResp read back: status, failure bits, status text, token (if granted)."""

    status: str
    fail_info: frozenset[str]
    text: str
    token: cms.ContentInfo | None


def parse_response(response_der: bytes) -> ParsedResponse:
    """Read a TimeStampResp, granted or not (``ValueError`` if it is not one)."""
    resp = _TimeStampResp.load(response_der, strict=True)
    status = resp["status"]
    token = resp["time_stamp_token"]
    return ParsedResponse(
        status=status["status"].native,
        fail_info=frozenset(status["fail_info"].native or ()),
        text=" ".join(status["status_string"].native or ()),
        token=None if isinstance(token, core.Void) else token,
    )


class InProcessTimeStamper(TimeStamper):
    """A pyHanko :class:`TimeStamper` that asks a :class:`TimeStampResponder` directly."""

    def __init__(self, responder: TimeStampResponder) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # pyHanko is untyped here
        self._responder = responder

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        answer = parse_response(self._responder.respond(req.dump()))
        if answer.token is None:
            raise TimestampRequestError(f"time-stamp refused: {answer.status} {answer.text}")
        return tsp.TimeStampResp(
            {"status": {"status": answer.status}, "time_stamp_token": answer.token}
        )


def make_timestamper(authority: SigningAuthority, url: str | None = None) -> TimeStamper:
    """The time-stamper signatures use: the external TSA at ``url`` if configured, else ours."""
    if url:
        return HTTPTimeStamper(url, timeout=10)
    return InProcessTimeStamper(TimeStampResponder.from_authority(authority))
