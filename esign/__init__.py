"""The document and signature machinery of a mediation agreement (调解协议书).

A ground-floor package: it never imports ``hearing_server``; the application calls it.

The flow, each step returning new PDF bytes (each signature an incremental update)::

    authority = SigningAuthority.load_or_create(authority_dir(data_dir))
    timestamper = make_timestamper(authority, tsa_url)          # our TSA, or an external one
    rendered = render(AgreementDocument(...))                   # unsigned PDF + signature boxes
    pdf = certify(rendered, authority, timestamper)             # at proposal: DocMDP 2 + fields
    cred = authority.issue_event_certificate(name, masked_id, identity_ref)
    pdf = sign_as(pdf, party_field(i), cred, drawn_png, name, now, timestamper)  # per party
    pdf = seal(pdf, authority, timestamper)                     # last: locks the document
    report = verify(pdf, [authority.ca_cert])                   # JSON-ready verdict

``TimeStampResponder(...).respond(request_der)`` answers RFC 3161 requests for an HTTP route.
Why certify-then-seal rather than a final certification: see :mod:`esign.signing`.
"""

from .authority import (
    EVENT_CERT_VALIDITY,
    EventCredential,
    SigningAuthority,
    authority_dir,
)
from .confirmation import ConfirmationApplication, render_confirmation
from .document import AgreementDocument, Party, Payment
from .errors import (
    AuthorityError,
    DocumentError,
    EsignError,
    FontMissingError,
    ImageError,
    SigningStateError,
)
from .notice import HearingNotice, render_notice
from .receipt import RECEIPT_SEAL_FIELD, ServiceReceipt, render_receipt, seal_receipt
from .render import (
    CERTIFICATION_FIELD,
    SEAL_FIELD,
    RenderedAgreement,
    SignatureBox,
    party_field,
    render,
)
from .signing import (
    SignatureState,
    async_certify,
    async_seal,
    async_sign_as,
    certify,
    check_png,
    seal,
    sign_as,
    signature_state,
)
from .token import TokenKey
from .tsa import (
    CONTENT_TYPE_QUERY,
    CONTENT_TYPE_REPLY,
    InProcessTimeStamper,
    TimeStampResponder,
    make_timestamper,
)
from .verify import Report, SignatureReport, async_verify, verify
from .worker import AuthorityConfig, Signer, SigningWorker

__all__ = [
    "CERTIFICATION_FIELD",
    "CONTENT_TYPE_QUERY",
    "CONTENT_TYPE_REPLY",
    "EVENT_CERT_VALIDITY",
    "RECEIPT_SEAL_FIELD",
    "SEAL_FIELD",
    "AgreementDocument",
    "AuthorityConfig",
    "AuthorityError",
    "ConfirmationApplication",
    "DocumentError",
    "EsignError",
    "EventCredential",
    "FontMissingError",
    "HearingNotice",
    "ImageError",
    "InProcessTimeStamper",
    "Party",
    "Payment",
    "RenderedAgreement",
    "Report",
    "ServiceReceipt",
    "SignatureBox",
    "SignatureReport",
    "SignatureState",
    "Signer",
    "SigningAuthority",
    "SigningStateError",
    "SigningWorker",
    "TimeStampResponder",
    "TokenKey",
    "async_certify",
    "async_seal",
    "async_sign_as",
    "async_verify",
    "authority_dir",
    "certify",
    "check_png",
    "make_timestamper",
    "party_field",
    "render",
    "render_confirmation",
    "render_notice",
    "render_receipt",
    "seal",
    "seal_receipt",
    "sign_as",
    "signature_state",
    "verify",
]
