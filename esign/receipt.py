"""The service receipt (送达回证): one page saying what was served on whom, how and when, with
the served document's SHA-256, sealed by the organisation's certificate so it can be verified
later (:func:`esign.verify.verify`, Poppler's ``pdfsig``).

The seal is a *certification* signature with DocMDP "no changes" (the receipt has no other
signature, so the first signature may forbid every change), PAdES B-T with a timestamp, shown
as the round red seal in a box at the foot of the page.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import MDPPerm, SigFieldSpec
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.stamp import StaticStampStyle
from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from .authority import SigningAuthority
from .render import FONT_NAME, ensure_font
from .signing import _organisation_signer, _PdfPageBytes, default_seal_pdf

RECEIPT_SEAL_FIELD = "court_seal"
_SEAL_BOX = (400, 60, 530, 190)  # points on page 1, bottom right


@dataclass(frozen=True)
class ServiceReceipt:
    """What the receipt states. Times are text the caller formatted in the court's zone (and
    names it); ``rows`` are (label, value) pairs in order."""

    court: str
    case_number: str
    document_title: str
    document_sha256: str
    recipient: str
    rows: tuple[tuple[str, str], ...]
    issued_at: str


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_receipt(receipt: ServiceReceipt) -> bytes:
    """The unsigned receipt PDF (one A4 page; the seal's box left free)."""
    ensure_font()
    title = ParagraphStyle("t", fontName=FONT_NAME, fontSize=20, leading=28, alignment=1)
    sub = ParagraphStyle("s", fontName=FONT_NAME, fontSize=11, leading=16, alignment=1)
    cell = ParagraphStyle("c", fontName=FONT_NAME, fontSize=10.5, leading=15)
    rows = [
        ("法院 Court", receipt.court),
        ("案号 Case", receipt.case_number),
        ("送达文书 Document", receipt.document_title),
        ("文书摘要 SHA-256", receipt.document_sha256),
        ("受送达人 Recipient", receipt.recipient),
        *receipt.rows,
    ]
    table = Table(
        [[Paragraph(_escape(k), cell), Paragraph(_escape(v), cell)] for k, v in rows],
        colWidths=[140, 330],
    )
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.6, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("BACKGROUND", (0, 0), (0, -1), colors.Color(0.95, 0.95, 0.95)),
            ]
        )
    )
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        title=f"送达回证 {receipt.case_number}",
        leftMargin=60,
        rightMargin=60,
        topMargin=60,
        bottomMargin=220,  # the seal's box
    )
    doc.build(
        [
            Paragraph(_escape(receipt.court), sub),
            Paragraph("送达回证", title),
            Paragraph("Service receipt", sub),
            Spacer(1, 14),
            table,
            Spacer(1, 12),
            Paragraph(_escape(f"出具时间 Issued: {receipt.issued_at}"), cell),
        ]
    )
    return out.getvalue()


async def async_seal_receipt(
    pdf: bytes, authority: SigningAuthority, timestamper: TimeStamper, *, organisation: str
) -> bytes:
    """See :func:`seal_receipt`."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    meta = signers.PdfSignatureMetadata(
        field_name=RECEIPT_SEAL_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        certify=True,
        docmdp_permissions=MDPPerm.NO_CHANGES,
        reason="送达回证 / Service receipt",
    )
    size = min(_SEAL_BOX[2] - _SEAL_BOX[0], _SEAL_BOX[3] - _SEAL_BOX[1])
    seal = default_seal_pdf(organisation, size, purpose="送达专用章")
    with _organisation_signer(authority) as org_signer:
        pdf_signer = signers.PdfSigner(
            meta,
            org_signer,
            timestamper=timestamper,
            new_field_spec=SigFieldSpec(RECEIPT_SEAL_FIELD, on_page=0, box=_SEAL_BOX),
            stamp_style=StaticStampStyle(background=_PdfPageBytes(seal), border_width=0),
        )
        out = await pdf_signer.async_sign_pdf(writer, in_place=False)
    return bytes(out.getvalue())


def seal_receipt(
    receipt: ServiceReceipt,
    authority: SigningAuthority,
    timestamper: TimeStamper,
    *,
    organisation: str | None = None,
) -> bytes:
    """Render ``receipt`` and seal it (a no-changes certification by the organisation's
    certificate, the seal drawn with ``organisation``, default the court's name)."""
    pdf = render_receipt(receipt)
    return asyncio.run(
        async_seal_receipt(pdf, authority, timestamper, organisation=organisation or receipt.court)
    )
