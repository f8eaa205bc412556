"""Render an :class:`~esign.document.AgreementDocument` to PDF with reportlab.

The PDF has the form of a 调解协议书 (or its English counterpart): title, case number, parties,
recitals, numbered terms, payment, costs, then a signature area with one empty box per party
and one for the organisation's seal, and the date. Every page carries a header (case number,
organisation) and a footer ("page X of Y" and the document hash). The CJK font (WenQuanYi Zen
Hei) is embedded as a subset, so the PDF reads the same on a machine without it.

The signature boxes are laid out by the flow of the text, so their place is only known once
the document is built; the renderer records where each box landed and returns it in
:class:`RenderedAgreement`, and :func:`esign.signing.certify` creates the signature fields there.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape

from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]
from reportlab.pdfgen import canvas as rl_canvas  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    CondPageBreak,
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
)

from .document import AgreementDocument, Language
from .errors import FontMissingError

#: Where Debian's fonts-wqy-zenhei installs the font; override with ESIGN_CJK_FONT.
DEFAULT_CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
FONT_NAME = "WQYZenHei"

#: Field names: one per party (``party_1`` …), the seal, and the invisible certification.
SEAL_FIELD = "seal"
CERTIFICATION_FIELD = "certification"

PAGE_W, PAGE_H = A4
MARGIN_X = 25 * mm
MARGIN_TOP = 28 * mm
MARGIN_BOTTOM = 28 * mm
SIGNATURE_BOX = (200.0, 64.0)  # width, height in points: room for a drawn name and a time
SEAL_BOX = (120.0, 120.0)


def party_field(index: int) -> str:
    """The signature field name of the party at ``index`` (0-based) in ``document.parties``."""
    return f"party_{index + 1}"


@dataclass(frozen=True)
class SignatureBox:
    """Where one signature goes: field name, page (0-based), rectangle in PDF points.

    ``rect`` is ``(x1, y1, x2, y2)`` in PDF user space (origin bottom left), as pyHanko wants it.
    ``party_index`` is the index into ``document.parties``, or ``None`` for the seal.
    """

    field_name: str
    page: int
    rect: tuple[int, int, int, int]
    kind: Literal["party", "seal"]
    party_index: int | None
    label: str


@dataclass(frozen=True)
class RenderedAgreement:
    """The rendered, unsigned PDF and where its signature boxes are."""

    pdf: bytes
    boxes: tuple[SignatureBox, ...]
    page_count: int
    content_hash: str

    def box(self, field_name: str) -> SignatureBox:
        """The box of ``field_name``; ``KeyError`` if there is none."""
        for b in self.boxes:
            if b.field_name == field_name:
                return b
        raise KeyError(field_name)


_TEXTS: dict[Language, dict[str, str]] = {
    "zh-CN": {
        "case": "案号：",
        "org": "调解组织：",
        "parties": "当事人",
        "id": "身份证号",
        "mediator": "调解员：",
        "recitals": "纠纷事由",
        "agreed": "经调解，各方当事人自愿达成如下协议：",
        "payment": "给付",
        "amount": "金额：",
        "schedule": "履行期限：",
        "method": "履行方式：",
        "costs": "费用负担",
        "effect": "本协议经各方当事人签名、调解组织盖章后生效。"
        "各方当事人均已阅读并理解本协议全部内容。",
        "signatures": "签署",
        "sign_here": "（签名）",
        "seal": "调解组织（盖章）：",
        "date": "日期：",
        "page": "第 {x} 页 共 {y} 页",
        "hash": "文档哈希（SHA-256）：",
    },
    "en": {
        "case": "Case No.: ",
        "org": "Mediation organisation: ",
        "parties": "Parties",
        "id": "ID No.",
        "mediator": "Mediator: ",
        "recitals": "Background",
        "agreed": "Through mediation, the parties have voluntarily agreed as follows:",
        "payment": "Payment",
        "amount": "Amount: ",
        "schedule": "Schedule: ",
        "method": "Method: ",
        "costs": "Costs",
        "effect": "This agreement takes effect once signed by every party and sealed by the "
        "mediation organisation. Each party has read and understood all of it.",
        "signatures": "Signatures",
        "sign_here": " (signature)",
        "seal": "Mediation organisation (seal): ",
        "date": "Date: ",
        "page": "Page {x} of {y}",
        "hash": "Document hash (SHA-256): ",
    },
}

_DIGITS = "零一二三四五六七八九"


def chinese_numeral(n: int) -> str:
    """1 → 一, 10 → 十, 15 → 十五, 21 → 二十一, 105 → 一百零五, 110 → 一百一十 (1 ≤ n ≤ 999)."""
    if not 1 <= n <= 999:
        raise ValueError(n)
    hundreds, rest = divmod(n, 100)
    tens, ones = divmod(rest, 10)
    out = ""
    if hundreds:
        out += _DIGITS[hundreds] + "百"
        if rest and tens == 0:
            out += "零"
    if tens:
        # "十五" alone, but "一百一十五" inside a larger number
        out += ("" if tens == 1 and not hundreds else _DIGITS[tens]) + "十"
    if ones:
        out += _DIGITS[ones]
    return out


def ensure_font(path: Path | None = None) -> Path:
    """Register the CJK font with reportlab (once) and return its path.

    Raises :class:`~esign.errors.FontMissingError` if the file is not there: without it the
    Chinese text would come out as empty boxes, so we refuse rather than render a bad PDF.
    """
    font_path = path or Path(os.environ.get("ESIGN_CJK_FONT", DEFAULT_CJK_FONT))
    # Checked every time (a stat), even once registered: a font removed since start-up is
    # reported here rather than by a later, less clear reportlab error.
    if not font_path.is_file():
        raise FontMissingError(
            "font_missing",
            f"CJK font {font_path} not found: install the Debian package fonts-wqy-zenhei "
            "(or set ESIGN_CJK_FONT to a TrueType font with CJK glyphs)",
        )
    if FONT_NAME in pdfmetrics.getRegisteredFontNames():
        return font_path
    pdfmetrics.registerFont(TTFont(FONT_NAME, str(font_path), subfontIndex=0))
    return font_path


def _styles(lang: Language) -> dict[str, ParagraphStyle]:
    # CJK text has no spaces to break at: reportlab's CJK word wrap breaks between characters.
    wrap = "CJK" if lang == "zh-CN" else None
    base = ParagraphStyle(
        "body",
        fontName=FONT_NAME,
        fontSize=11.5,
        leading=19,
        alignment=TA_JUSTIFY,
        wordWrap=wrap,
    )
    return {
        "title": ParagraphStyle(
            "title", parent=base, fontSize=20, leading=30, alignment=TA_CENTER, spaceAfter=6
        ),
        "case": ParagraphStyle("case", parent=base, alignment=TA_CENTER, spaceAfter=10),
        "heading": ParagraphStyle(
            "heading", parent=base, fontSize=13, leading=22, spaceBefore=8, spaceAfter=2
        ),
        "body": base,
        "term": ParagraphStyle(
            "term", parent=base, leftIndent=24, firstLineIndent=-24, spaceAfter=3
        ),
    }


def _p(text: str) -> str:
    """Escape for reportlab's mini-markup and keep the author's line breaks."""
    return escape(text).replace("\n", "<br/>")


class _SignatureRow(Flowable):
    """A label on the left and an empty box on the right, remembering where the box landed."""

    def __init__(
        self,
        label: str,
        box_size: tuple[float, float],
        record: list[SignatureBox],
        field_name: str,
        kind: Literal["party", "seal"],
        party_index: int | None,
        round_box: bool = False,
    ) -> None:
        super().__init__()
        self.label = label
        self.box_w, self.box_h = box_size
        self.record = record
        self.field_name = field_name
        self.kind = kind
        self.party_index = party_index
        self.round_box = round_box

    def wrap(self, aW: float, aH: float) -> tuple[float, float]:
        self.avail_w = aW
        return aW, self.box_h + 14

    def draw(self) -> None:
        c = self.canv
        c.setFont(FONT_NAME, 11.5)
        c.drawString(0, self.box_h / 2 + 3, self.label)
        x = self.avail_w - self.box_w
        y = 7.0
        c.setStrokeColor(colors.Color(0.6, 0.6, 0.6))
        c.setDash(2, 2)
        c.setLineWidth(0.6)
        c.rect(x, y, self.box_w, self.box_h)
        c.setDash()
        ax, ay = c.absolutePosition(x, y)
        rect = (round(ax), round(ay), round(ax + self.box_w), round(ay + self.box_h))
        self.record.append(
            SignatureBox(
                field_name=self.field_name,
                page=c.getPageNumber() - 1,
                rect=rect,
                kind=self.kind,
                party_index=self.party_index,
                label=self.label,
            )
        )


def _canvas_class(
    doc: AgreementDocument, texts: dict[str, str], page_count: list[int]
) -> type[rl_canvas.Canvas]:
    """A canvas that holds its pages until the end, to print "page X of Y" on each."""
    digest = doc.content_hash()

    class NumberedCanvas(rl_canvas.Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            page_count.append(total)
            for state in self._pages:
                self.__dict__.update(state)
                self._decorate(total)
                super().showPage()
            super().save()

        def _decorate(self, total: int) -> None:
            self.saveState()
            self.setFillColor(colors.Color(0.25, 0.25, 0.25))
            self.setStrokeColor(colors.Color(0.5, 0.5, 0.5))
            self.setLineWidth(0.5)
            top = PAGE_H - 16 * mm
            self.setFont(FONT_NAME, 9)
            self.drawString(MARGIN_X, top, texts["case"] + doc.case_number)
            self.drawRightString(PAGE_W - MARGIN_X, top, doc.organisation)
            self.line(MARGIN_X, top - 4, PAGE_W - MARGIN_X, top - 4)
            bottom = 16 * mm
            self.line(MARGIN_X, bottom + 11, PAGE_W - MARGIN_X, bottom + 11)
            self.drawCentredString(
                PAGE_W / 2, bottom, texts["page"].format(x=self._pageNumber, y=total)
            )
            self.setFont(FONT_NAME, 7)
            self.drawCentredString(PAGE_W / 2, bottom - 10, texts["hash"] + digest)
            self.restoreState()

    return NumberedCanvas


def render(document: AgreementDocument, *, font_path: Path | None = None) -> RenderedAgreement:
    """Render ``document`` to an unsigned PDF (deterministic: same content, same bytes).

    Raises :class:`~esign.errors.FontMissingError` if the CJK font is not installed.
    """
    ensure_font(font_path)
    lang = document.language
    t = _TEXTS[lang]
    st = _styles(lang)
    story: list[Flowable] = [
        Paragraph(_p(document.title), st["title"]),
        Paragraph(_p(t["case"] + document.case_number), st["case"]),
        Paragraph(_p(t["parties"]), st["heading"]),
    ]
    sep = "，" if lang == "zh-CN" else ", "
    colon = "：" if lang == "zh-CN" else ": "
    for party in document.parties:
        story.append(
            Paragraph(
                _p(f"{party.role}{colon}{party.name}{sep}{t['id']}{colon}{party.masked_id}"),
                st["body"],
            )
        )
    story.append(Paragraph(_p(t["org"] + document.organisation), st["body"]))
    story.append(Paragraph(_p(t["mediator"] + document.mediator), st["body"]))
    if document.recitals:
        story.append(Paragraph(_p(t["recitals"]), st["heading"]))
        story.extend(Paragraph(_p(r), st["body"]) for r in document.recitals)
    story.append(Spacer(1, 6))
    story.append(Paragraph(_p(t["agreed"]), st["body"]))
    for i, term in enumerate(document.terms, 1):
        number = f"{chinese_numeral(i)}、" if lang == "zh-CN" else f"{i}. "
        story.append(Paragraph(_p(number + term), st["term"]))
    if document.payment is not None:
        pay = document.payment
        story.append(Paragraph(_p(t["payment"]), st["heading"]))
        story.append(Paragraph(_p(f"{t['amount']}{pay.amount} {pay.currency}"), st["body"]))
        story.append(Paragraph(_p(t["schedule"] + pay.schedule), st["body"]))
        story.append(Paragraph(_p(t["method"] + pay.method), st["body"]))
    if document.costs.strip():
        story.append(Paragraph(_p(t["costs"]), st["heading"]))
        story.append(Paragraph(_p(document.costs), st["body"]))
    story.append(Spacer(1, 6))
    story.append(Paragraph(_p(t["effect"]), st["body"]))

    boxes: list[SignatureBox] = []
    rows: list[Flowable] = [Paragraph(_p(t["signatures"]), st["heading"])]
    for i, party in enumerate(document.parties):
        rows.append(
            _SignatureRow(
                f"{party.role}{t['sign_here']}{colon}{party.name}",
                SIGNATURE_BOX,
                boxes,
                party_field(i),
                "party",
                i,
            )
        )
    seal_row = _SignatureRow(
        t["seal"] + document.organisation, SEAL_BOX, boxes, SEAL_FIELD, "seal", None
    )
    date_text = (
        f"{document.date.year}年{document.date.month}月{document.date.day}日"
        if lang == "zh-CN"
        else document.date.strftime("%d %B %Y")
    )
    date_par = Paragraph(_p(t["date"] + date_text), st["body"])
    # Keep the signature area together (up to a page) so no box is split from its label, and
    # the seal with the date.
    story.append(CondPageBreak(6 * (SIGNATURE_BOX[1] + 14)))
    story.append(KeepTogether(rows[:4]))
    story.extend(rows[4:])
    story.append(KeepTogether([seal_row, date_par]))

    out = io.BytesIO()
    template = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM,
        title=document.title,
        author=document.organisation,
        subject=f"{document.case_number} sha256:{document.content_hash()}",
        creator="esign",
        invariant=1,  # no timestamp or random ID: the same content renders to the same bytes
    )
    page_count: list[int] = []
    template.build(story, canvasmaker=_canvas_class(document, t, page_count))
    pages = page_count[-1]
    return RenderedAgreement(
        pdf=out.getvalue(),
        boxes=tuple(boxes),
        page_count=pages,
        content_hash=document.content_hash(),
    )
