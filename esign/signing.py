"""PAdES signatures on the agreement: the organisation's certification, each party, the seal.

Why three kinds of signature, and in this order
-----------------------------------------------
The issue asks for the organisation's seal as "a certification signature (DocMDP, no changes
allowed)" applied *after* the parties have signed. PDF does not allow that: a certification
(DocMDP) signature must be the first signature of a document (ISO 32000-1 §12.8.2.2; pyHanko
refuses otherwise), and DocMDP "no changes" would also forbid the parties' signatures after it.
So the standards-compliant design that gives the same guarantees is:

1. :func:`certify`, when the agreement is proposed: the organisation *certifies* the rendered
   PDF with DocMDP level 2 (form filling and signing allowed, nothing else). The same revision
   creates every signature field (one per party, the seal) at the boxes the renderer left, so
   later revisions only fill fields in. The certification is invisible; it says "this is the
   text the organisation proposed", and any change of content after it is a DocMDP violation.
2. :func:`sign_as`, once per party: an approval signature (PAdES B-T: CAdES detached, with an
   RFC 3161 signature timestamp) in that party's field, as an incremental update, made with a
   one-time event certificate.
3. :func:`seal`, last: the organisation's approval signature in the seal field, which carries a
   FieldMDP *lock* dictionary (PDF 2.0, ISO 32000-2 §12.8.2.4) with ``/Action /All`` and
   ``/P 1``: once it is signed, every field is locked and the document's DocMDP level becomes
   "no changes allowed". This is exactly the effect of a no-changes certification, placed where
   PDF allows it. Validators that know PDF 2.0 locks (pyHanko) report any later revision as a
   violation; :func:`sign_as` refuses to sign a sealed PDF.

All functions are synchronous and CPU-bound (they run an event loop of their own for pyHanko):
call them from a worker thread (``asyncio.to_thread``) inside the server, or use the ``async_``
variants when the time-stamper does network I/O on the caller's loop.
"""

from __future__ import annotations

import asyncio
import binascii
import datetime
import io
import math
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image, UnidentifiedImageError
from pyhanko.pdf_utils.content import PdfContent
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import BoxConstraints
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import FieldMDPAction, FieldMDPSpec, MDPPerm, SigFieldSpec
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.stamp import StaticStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore
from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.utils import ImageReader  # type: ignore[import-untyped]
from reportlab.pdfgen import canvas as rl_canvas  # type: ignore[import-untyped]

from .authority import EventCredential, SigningAuthority, to_asn1_cert, to_asn1_key
from .errors import ImageError, SigningStateError
from .render import CERTIFICATION_FIELD, FONT_NAME, SEAL_FIELD, RenderedAgreement, ensure_font
from .token import token_signer

#: A drawn signature may be at most this large (a signature_pad PNG is typically 10 to 60 kB).
MAX_IMAGE_BYTES = 1024 * 1024
MIN_IMAGE_SIDE, MAX_IMAGE_SIDE = 16, 4096
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the empty IEND chunk every PNG ends with
_SEAL_RED = colors.Color(0.8, 0.05, 0.05)


def check_png(data: bytes, *, what: str = "drawn_image") -> tuple[int, int]:
    """Check that ``data`` is a real, complete PNG of sane size; return (width, height).

    Raises :class:`~esign.errors.ImageError` (codes ``image_too_large``, ``image_not_png``,
    ``image_corrupt``, ``image_dimensions``). The size is checked before decoding anything.
    """
    if not isinstance(data, bytes | bytearray):
        raise ImageError("image_not_png", f"{what} must be bytes")
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(
            "image_too_large", f"{what} has {len(data)} bytes, at most {MAX_IMAGE_BYTES} allowed"
        )
    if not data.startswith(_PNG_MAGIC):
        raise ImageError("image_not_png", f"{what} is not a PNG image")
    if not data.endswith(_PNG_END):
        raise ImageError("image_corrupt", f"{what} is cut short (no IEND chunk at its end)")
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != "PNG":
                raise ImageError("image_not_png", f"{what} is not a PNG image")
            width, height = img.size
            # Refuse decompression bombs before decoding: the header tells the size.
            if not (
                MIN_IMAGE_SIDE <= width <= MAX_IMAGE_SIDE
                and MIN_IMAGE_SIDE <= height <= MAX_IMAGE_SIDE
            ):
                raise ImageError(
                    "image_dimensions",
                    f"{what} is {width}x{height}; each side must be "
                    f"{MIN_IMAGE_SIDE} to {MAX_IMAGE_SIDE} pixels",
                )
            # Every chunk and its CRC, whatever Pillow's process-wide LOAD_TRUNCATED_IMAGES says
            # (face_recognition turns it on when imported).
            img.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.load()  # and it decodes
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageError("image_corrupt", f"{what} is not a readable PNG: {exc}") from None
    return width, height


class _PdfPageBytes(PdfContent):
    """The first page of a PDF held in memory, as stamp content (pyHanko's reads a file)."""

    def __init__(self, pdf: bytes) -> None:
        super().__init__()
        self._pdf = pdf

    def render(self) -> bytes:
        writer = self._ensure_writer
        xobj = writer.import_page_as_xobject(PdfFileReader(io.BytesIO(self._pdf)), page_ix=0)
        name = "/Import" + binascii.hexlify(uuid.uuid4().bytes).decode("ascii")
        self.resources.xobject[name] = xobj
        x1, y1, x2, y2 = xobj.get_object()["/BBox"]
        self.box = BoxConstraints(width=abs(x1 - x2), height=abs(y1 - y2))
        return name.encode("ascii") + b" Do"


def _box_size(reader: PdfFileReader, field_name: str) -> tuple[float, float]:
    for name, _value, ref in fields.enumerate_sig_fields(reader):
        if name == field_name:
            field = ref.get_object()
            rect = field.get("/Rect")
            if rect is None and "/Kids" in field:
                rect = field["/Kids"][0].get_object().get("/Rect")
            if rect is None:
                return (0.0, 0.0)
            x1, y1, x2, y2 = (float(v) for v in rect)
            return (abs(x2 - x1), abs(y2 - y1))
    raise SigningStateError("field_missing", f"the PDF has no signature field {field_name!r}")


def _signature_appearance(
    size: tuple[float, float], drawn_png: bytes, name: str, when: datetime.datetime
) -> bytes:
    """A one-page PDF the size of the box: the drawn signature, the name and the time below."""
    ensure_font()
    w, h = size
    out = io.BytesIO()
    c = rl_canvas.Canvas(out, pagesize=(w, h), invariant=1)
    text_h = 20.0
    c.drawImage(
        ImageReader(io.BytesIO(drawn_png)),
        2,
        text_h,
        w - 4,
        h - text_h - 2,
        preserveAspectRatio=True,
        anchor="c",
        mask="auto",
    )
    c.setFillColor(colors.black)
    c.setFont(FONT_NAME, 8)
    c.drawString(3, 11, name)
    c.setFont(FONT_NAME, 6.5)
    c.drawString(3, 3, _format_time(when))
    c.showPage()
    c.save()
    return out.getvalue()


def _format_time(when: datetime.datetime) -> str:
    if when.tzinfo is None:
        raise SigningStateError("time_naive", "the signing time must carry a time zone")
    offset = when.strftime("%z")
    return when.strftime("%Y-%m-%d %H:%M:%S ") + f"UTC{offset[:3]}:{offset[3:]}"


def default_seal_pdf(
    organisation: str, size: float = 120.0, *, purpose: str = "调解专用章"
) -> bytes:
    """A red round seal with a star, ``organisation`` along the rim and ``purpose`` under the
    star, drawn in vector.

    The usual form of a Chinese organisation's seal; drawn here, no image is copied.
    """
    ensure_font()
    out = io.BytesIO()
    c = rl_canvas.Canvas(out, pagesize=(size, size), invariant=1)
    cx = cy = size / 2
    r = size / 2 - 3
    c.setStrokeColor(_SEAL_RED)
    c.setFillColor(_SEAL_RED)
    c.setLineWidth(size / 40)
    c.circle(cx, cy, r)
    # five-pointed star in the middle
    outer, inner = r * 0.28, r * 0.11
    path = c.beginPath()
    for i in range(10):
        rad = outer if i % 2 == 0 else inner
        angle = math.pi / 2 + i * math.pi / 5
        x, y = cx + rad * math.cos(angle), cy + rad * math.sin(angle)
        if i == 0:
            path.moveTo(x, y)
        else:
            path.lineTo(x, y)
    path.close()
    c.drawPath(path, stroke=0, fill=1)
    # the name along the upper rim, clockwise from the left, each character upright to the rim
    text = organisation[:24]
    font_size = max(7.0, min(14.0, size / 9))
    span = min(math.radians(250), len(text) * math.radians(22))
    radius = r - font_size * 0.95
    for i, ch in enumerate(text):
        frac = 0.5 if len(text) == 1 else i / (len(text) - 1)
        angle = math.pi / 2 + span / 2 - frac * span
        c.saveState()
        c.translate(cx + radius * math.cos(angle), cy + radius * math.sin(angle))
        c.rotate(math.degrees(angle) - 90)
        c.setFont(FONT_NAME, font_size)
        c.drawCentredString(0, -font_size * 0.35, ch)
        c.restoreState()
    c.setFont(FONT_NAME, font_size * 0.8)
    c.drawCentredString(cx, cy - r * 0.62, purpose)
    c.showPage()
    c.save()
    return out.getvalue()


def _image_pdf(png: bytes, size: tuple[float, float]) -> bytes:
    out = io.BytesIO()
    c = rl_canvas.Canvas(out, pagesize=size, invariant=1)
    c.drawImage(
        ImageReader(io.BytesIO(png)),
        0,
        0,
        size[0],
        size[1],
        preserveAspectRatio=True,
        anchor="c",
        mask="auto",
    )
    c.showPage()
    c.save()
    return out.getvalue()


@contextmanager
def _organisation_signer(authority: SigningAuthority) -> Iterator[signers.Signer]:
    """The organisation's signer: its key file, or its PKCS#11 token for one operation."""
    if authority.org_token is not None:
        with token_signer(authority.org_token, authority.org_cert, (authority.ca_cert,)) as s:
            yield s
        return
    if authority.org_key is None:  # pragma: no cover - load_or_create sets one of the two
        raise SigningStateError("no_org_key", "the authority has no organisation key")
    yield _signer(authority.org_cert, authority.org_key, [authority.ca_cert])


def _signer(
    cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, chain: Iterable[x509.Certificate]
) -> signers.SimpleSigner:
    certs = [to_asn1_cert(c) for c in chain]
    store = SimpleCertificateStore.from_certs(certs)  # type: ignore[no-untyped-call]
    return signers.SimpleSigner(
        signing_cert=to_asn1_cert(cert), signing_key=to_asn1_key(key), cert_registry=store
    )


@dataclass(frozen=True)
class FieldState:
    """One signature field of the PDF: its name and whether it holds a signature."""

    name: str
    signed: bool


@dataclass(frozen=True)
class SignatureState:
    """Which fields are signed, and whether the PDF is certified and sealed."""

    fields: tuple[FieldState, ...]
    certified: bool
    sealed: bool

    def is_signed(self, field_name: str) -> bool:
        """True if ``field_name`` exists and holds a signature."""
        return any(f.name == field_name and f.signed for f in self.fields)


def _open(pdf: bytes) -> PdfFileReader:
    try:
        return PdfFileReader(io.BytesIO(pdf), strict=False)
    except Exception as exc:
        raise SigningStateError("pdf_unreadable", f"not a readable PDF: {exc}") from None


def signature_state(pdf: bytes) -> SignatureState:
    """The signature fields of ``pdf`` and whether it is certified and sealed.

    Sealed means: some signature locks the document (DocMDP "no changes", from a certification
    or from the /Lock of a signed field), so nothing more may be signed.
    """
    reader = _open(pdf)
    states = tuple(
        # enumerate_sig_fields gives the field's /V: the signature object, or None if empty
        FieldState(name, value is not None)
        for name, value, _ref in fields.enumerate_sig_fields(reader)
    )
    signatures = reader.embedded_signatures
    certified = any(sig.field_name == CERTIFICATION_FIELD for sig in signatures)
    sealed = any(sig.docmdp_level == MDPPerm.NO_CHANGES for sig in signatures)
    return SignatureState(fields=states, certified=certified, sealed=sealed)


async def async_certify(
    rendered: RenderedAgreement, authority: SigningAuthority, timestamper: TimeStamper
) -> bytes:
    """See :func:`certify`."""
    writer = IncrementalPdfFileWriter(io.BytesIO(rendered.pdf))
    for box in rendered.boxes:
        if box.kind == "seal":
            spec = SigFieldSpec(
                box.field_name,
                on_page=box.page,
                box=box.rect,
                # Signing the seal locks every field and sets DocMDP to "no changes".
                field_mdp_spec=FieldMDPSpec(FieldMDPAction.ALL),
                doc_mdp_update_value=MDPPerm.NO_CHANGES,
            )
        else:
            spec = SigFieldSpec(box.field_name, on_page=box.page, box=box.rect)
        fields.append_signature_field(writer, spec)
    meta = signers.PdfSignatureMetadata(
        field_name=CERTIFICATION_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        certify=True,
        docmdp_permissions=MDPPerm.FILL_FORMS,
        reason="调解组织认证协议文本 / Certified by the mediation organisation",
    )
    with _organisation_signer(authority) as org_signer:
        pdf_signer = signers.PdfSigner(
            meta,
            org_signer,
            timestamper=timestamper,
            new_field_spec=SigFieldSpec(CERTIFICATION_FIELD),  # invisible
        )
        out = await pdf_signer.async_sign_pdf(writer, in_place=False)
    return bytes(out.getvalue())


def certify(
    rendered: RenderedAgreement, authority: SigningAuthority, timestamper: TimeStamper
) -> bytes:
    """Certify the rendered agreement for the organisation (DocMDP 2) and create its fields.

    Returns the PDF the parties sign. Call once, when the agreement is proposed; a changed text
    is a new document (render and certify it again).
    """
    return asyncio.run(async_certify(rendered, authority, timestamper))


def _require_signable(pdf: bytes, field_name: str) -> PdfFileReader:
    reader = _open(pdf)
    state = signature_state(pdf)
    if state.sealed:
        raise SigningStateError(
            "sealed", "the agreement is sealed: no further signature or change is allowed"
        )
    if not any(f.name == field_name for f in state.fields):
        raise SigningStateError("field_missing", f"the PDF has no signature field {field_name!r}")
    if state.is_signed(field_name):
        raise SigningStateError("field_signed", f"the field {field_name!r} is already signed")
    return reader


async def async_sign_as(
    pdf: bytes,
    field_name: str,
    credential: EventCredential,
    drawn_png: bytes,
    name: str,
    when: datetime.datetime,
    timestamper: TimeStamper,
) -> bytes:
    """See :func:`sign_as`."""
    check_png(drawn_png)
    reader = _require_signable(pdf, field_name)
    if field_name == SEAL_FIELD:
        raise SigningStateError("field_reserved", "the seal field is signed by seal() only")
    appearance = _signature_appearance(_box_size(reader, field_name), drawn_png, name, when)
    key = credential.take_key()
    try:
        meta = signers.PdfSignatureMetadata(
            field_name=field_name,
            md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
            name=name,
            reason="当事人签署调解协议 / Signed by the party",
        )
        pdf_signer = signers.PdfSigner(
            meta,
            _signer(credential.certificate, key, credential.chain),
            timestamper=timestamper,
            stamp_style=StaticStampStyle(background=_PdfPageBytes(appearance), border_width=0),
        )
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        out = await pdf_signer.async_sign_pdf(writer, existing_fields_only=True, in_place=False)
        return bytes(out.getvalue())
    finally:
        # One key, one signature: whatever happened, this credential signs nothing more.
        del key
        credential.discard()


def sign_as(
    pdf: bytes,
    field_name: str,
    credential: EventCredential,
    drawn_png: bytes,
    name: str,
    when: datetime.datetime,
    timestamper: TimeStamper,
) -> bytes:
    """Sign ``field_name`` for one party, as an incremental update; return the new PDF.

    PAdES B-T (ETSI.CAdES.detached with an RFC 3161 signature timestamp from ``timestamper``),
    made with the party's event ``credential`` (its key is discarded afterwards, even on
    failure). The visible signature in that party's box shows ``drawn_png`` (the handwritten
    signature), ``name`` and ``when`` (timezone-aware).

    Raises :class:`~esign.errors.ImageError` for a bad image and
    :class:`~esign.errors.SigningStateError` if the PDF is sealed (code ``sealed``), the field
    is missing or already signed, or ``field_name`` is the seal.
    """
    return asyncio.run(
        async_sign_as(pdf, field_name, credential, drawn_png, name, when, timestamper)
    )


async def async_seal(
    pdf: bytes,
    authority: SigningAuthority,
    timestamper: TimeStamper,
    *,
    organisation: str | None = None,
    seal_png: bytes | None = None,
) -> bytes:
    """See :func:`seal`."""
    if seal_png is not None:
        check_png(seal_png, what="seal_image")
    reader = _require_signable(pdf, SEAL_FIELD)
    size = _box_size(reader, SEAL_FIELD)
    if seal_png is not None:
        appearance = _image_pdf(seal_png, size)
    else:
        org_name = organisation or _common_name(authority.org_cert)
        appearance = default_seal_pdf(org_name, min(size) if min(size) > 0 else 120.0)
    meta = signers.PdfSignatureMetadata(
        field_name=SEAL_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        docmdp_permissions=MDPPerm.NO_CHANGES,
        reason="调解组织盖章 / Sealed by the mediation organisation",
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    with _organisation_signer(authority) as org_signer:
        pdf_signer = signers.PdfSigner(
            meta,
            org_signer,
            timestamper=timestamper,
            stamp_style=StaticStampStyle(background=_PdfPageBytes(appearance), border_width=0),
        )
        out = await pdf_signer.async_sign_pdf(writer, existing_fields_only=True, in_place=False)
    return bytes(out.getvalue())


def seal(
    pdf: bytes,
    authority: SigningAuthority,
    timestamper: TimeStamper,
    *,
    organisation: str | None = None,
    seal_png: bytes | None = None,
) -> bytes:
    """Seal the agreement for the organisation, last; afterwards nothing may change.

    An approval signature (PAdES B-T) by the organisation's certificate in the ``seal`` field,
    whose lock makes the document "no changes allowed" (see the module doc for why this is not
    a certification signature). The seal shows ``seal_png`` if given, else a red round seal
    drawn with ``organisation`` (default: the organisation certificate's CN). The caller checks
    that every party has signed (:func:`signature_state`) before sealing.
    """
    return asyncio.run(
        async_seal(pdf, authority, timestamper, organisation=organisation, seal_png=seal_png)
    )


def _common_name(cert: x509.Certificate) -> str:
    name = asn1_x509.Name.load(cert.subject.public_bytes())
    cn = name.native.get("common_name", "")
    return str(cn[-1] if isinstance(cn, list) else cn)
