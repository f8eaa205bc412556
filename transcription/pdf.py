"""The PDF transcript (笔录): header with court, case number, hearing times and participants;
every segment with its time and speaker; a CJK font embedded (subset) so Chinese names and
text render anywhere. reportlab, no network, no system font lookup beyond the given file.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from .exports import TranscriptHeader, line_text, timestamp
from .transcript import Transcript

CJK_FONT_PATH = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
"""Debian fonts-wqy-zenhei (installed by scripts/test and the container image)."""

_FONT_NAME = "WQYZenHei"
_font_lock = threading.Lock()
_registered: dict[str, str] = {}  # font file -> registered name


class PdfExportError(Exception):
    """The PDF cannot be made (e.g. the CJK font is missing)."""


@dataclass(frozen=True, slots=True)
class PdfOptions:
    font_path: Path = CJK_FONT_PATH
    tz: tzinfo = UTC  # times in the header and beside segments
    title: str = "Hearing transcript 庭审笔录"


def _register_font(path: Path) -> str:
    from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
    from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]

    with _font_lock:
        name = _registered.get(str(path))
        if name is None:
            if not path.is_file():
                raise PdfExportError(f"CJK font {path} is missing (Debian: fonts-wqy-zenhei)")
            name = f"{_FONT_NAME}{len(_registered)}"
            kwargs: dict[str, Any] = {"subfontIndex": 0} if path.suffix == ".ttc" else {}
            pdfmetrics.registerFont(TTFont(name, str(path), **kwargs))
            _registered[str(path)] = name
    return name


def _has_cjk(text: str) -> bool:
    return any("\u2e80" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


def to_pdf(
    transcript: Transcript, header: TranscriptHeader, options: PdfOptions | None = None
) -> bytes:
    """The transcript as a PDF document (bytes). Blocking: run it off the event loop."""
    from reportlab.lib import colors  # type: ignore[import-untyped]
    from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
    from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
    from reportlab.lib.units import mm  # type: ignore[import-untyped]
    from reportlab.platypus import (  # type: ignore[import-untyped]
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    opts = options or PdfOptions()
    font = _register_font(opts.font_path)
    base = ParagraphStyle("base", fontName=font, fontSize=9.5, leading=13)
    base_cjk = ParagraphStyle("base_cjk", parent=base, wordWrap="CJK")
    small = ParagraphStyle("small", parent=base, fontSize=8, leading=10,
                           textColor=colors.HexColor("#555555"))
    title = ParagraphStyle("title", parent=base, fontSize=15, leading=20, spaceAfter=6)

    def para(text: str, style: Any = None) -> Any:
        st = style or base
        if _has_cjk(text) and st is base:
            st = base_cjk
        return Paragraph(escape(text), st)

    def when(v: datetime | None) -> str:
        return v.astimezone(opts.tz).strftime("%Y-%m-%d %H:%M:%S %Z") if v else "—"

    story: list[Any] = [para(opts.title, title)]
    status = "FINAL 已定稿" if transcript.finalised else "DRAFT 草稿 (not finalised)"
    facts = [
        ("Court 法院", header.court),
        ("Case number 案号", header.case_number),
        ("Title 案由", header.title),
        ("Scheduled 排期", f"{when(header.scheduled_start)} to {when(header.scheduled_end)}"),
        ("Started 开庭", when(header.actual_start)),
        ("Ended 闭庭", when(header.actual_end)),
        ("Status 状态", status),
    ]
    people = "; ".join(f"{n} ({r})" for n, r in header.participants) or "—"
    facts.append(("Participants 参加人", people))
    head = Table(
        [[para(k), para(v)] for k, v in facts],
        colWidths=[38 * mm, 132 * mm],
    )
    head.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, -1), (-1, -1), 0.5, colors.grey),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]))
    story += [head, Spacer(1, 5 * mm)]

    rows: list[list[Any]] = [[para("Time 时间"), para("Speaker 发言人"), para("Text 内容")]]
    for line in transcript.lines:
        local = line.start_at.astimezone(opts.tz).strftime("%H:%M:%S")
        cell: list[Any] = [para(line_text(line))]
        if line.corrected:
            last = line.corrections[-1]
            note = f"Corrected by {last.actor} (recognised as: {line.original_text})"
            if last.reason:
                note += f"; reason: {last.reason}"
            cell.append(para(note, small))
        rows.append([
            [para(timestamp(line.start)[:8]), para(local, small)],
            para(f"{line.name} ({line.role})"),
            cell,
        ])
    body = Table(rows, colWidths=[22 * mm, 40 * mm, 108 * mm], repeatRows=1)
    body.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#cccccc")),
    ]))
    story.append(body)

    chain = f"{transcript.entry_count} entries, head {transcript.head_hash[:16]}…"
    integrity = "intact" if transcript.intact else f"{len(transcript.problems)} PROBLEM(S)"

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 7.5)
        canvas.drawString(
            18 * mm, 10 * mm,
            f"{header.case_number} · transcript chain {chain} ({integrity}) · {status}",
        )
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"{doc.page}")
        canvas.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
        bottomMargin=18 * mm, title=f"{header.case_number} transcript",
        author=header.court, subject=header.title,
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()
