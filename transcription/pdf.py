"""The PDF transcript (笔录): header with court, case number, hearing times and participants;
every segment with its time and speaker; a CJK font embedded (subset) so Chinese names and
text render anywhere. reportlab, no network, no system font lookup beyond the given file.

A Chinese hearing (``TranscriptHeader.language`` zh-*) gets the layout a Chinese court's
庭审笔录 has: the court and 庭审笔录 as the title; 时间, 地点, 案号, 案由, 审判人员, 书记员 and
the parties by side; then each utterance under the speaker prefix of its role (审：, 书：,
原：, 被：, 原代：, 证：...; with the name in brackets where two people share a prefix);
the time in the margin; signature lines at the end. Other hearings keep the bilingual table.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from .exports import HeaderPerson, TranscriptHeader, line_text, timestamp
from .transcript import Transcript, TranscriptLine

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
    from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped,unused-ignore]
    from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped,unused-ignore]

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


# Speaker prefixes of a 笔录, by role and (for parties and their counsel) side.
_PARTY_PREFIX = {"plaintiff": "原", "defendant": "被", "applicant": "申", "respondent": "被申",
                 "third_party": "第三人"}
_PARTY_TITLE = {"plaintiff": "原告", "defendant": "被告", "applicant": "申请人",
                "respondent": "被申请人", "third_party": "第三人"}
_ROLE_PREFIX = {"judge": "审", "clerk": "书", "mediator": "调", "witness": "证",
                "expert": "鉴", "interpreter": "译", "observer": "旁"}
_ROLE_TITLE = {"judge": "审判人员", "clerk": "书记员", "mediator": "调解员", "witness": "证人",
               "expert": "鉴定人", "interpreter": "翻译人员"}


def role_prefix(person: HeaderPerson) -> str:
    """The 笔录 prefix of someone's speech: 审 for the judge, 原 / 被 for the parties, 原代 /
    被代 for their counsel, 书, 调, 证, 鉴, 译; a party or counsel of no known side: 当 / 代."""
    if person.role == "party":
        return _PARTY_PREFIX.get(person.side or "", "当")
    if person.role == "counsel":
        return _PARTY_PREFIX.get(person.side or "", "") + "代"
    return _ROLE_PREFIX.get(person.role, person.role)


def speaker_prefixes(people: tuple[HeaderPerson, ...]) -> dict[str, str]:
    """Participant id -> prefix; where two people share one, each gets their name too."""
    plain = {p.participant_id: role_prefix(p) for p in people}
    counts: dict[str, int] = {}
    for prefix in plain.values():
        counts[prefix] = counts.get(prefix, 0) + 1
    names = {p.participant_id: p.name for p in people}
    return {pid: (prefix if counts[prefix] == 1 else f"{prefix}（{names[pid]}）")
            for pid, prefix in plain.items()}


def _people_lines(people: tuple[HeaderPerson, ...]) -> list[tuple[str, str]]:
    """The header's people lines: 审判人员, 书记员, then the parties by side with their
    counsel (原告委托诉讼代理人), then witnesses, experts, interpreters."""
    out: list[tuple[str, str]] = []

    def names(match: Any) -> str:
        return "、".join(p.name for p in people if match(p))

    for role in ("judge", "mediator", "clerk"):
        found = names(lambda p, r=role: p.role == r)
        if found:
            out.append((_ROLE_TITLE[role], found))
    for side, title in _PARTY_TITLE.items():
        found = names(lambda p, s=side: p.role == "party" and p.side == s)
        if found:
            out.append((title, found))
        counsel = names(lambda p, s=side: p.role == "counsel" and p.side == s)
        if counsel:
            out.append((f"{title}委托诉讼代理人", counsel))
    others = names(lambda p: p.role == "party" and p.side not in _PARTY_TITLE)
    if others:
        out.append(("当事人", others))
    for role in ("witness", "expert", "interpreter"):
        found = names(lambda p, r=role: p.role == r)
        if found:
            out.append((_ROLE_TITLE[role], found))
    return out


def _zh_time(start: datetime | None, end: datetime | None, tz: tzinfo) -> str:
    if start is None:
        return "—"
    a = start.astimezone(tz)
    text = f"{a.year}年{a.month}月{a.day}日{a.hour}时{a.minute:02d}分"
    if end is not None:
        b = end.astimezone(tz)
        same_day = (a.year, a.month, a.day) == (b.year, b.month, b.day)
        text += "至" + (f"{b.hour}时{b.minute:02d}分" if same_day else
                       f"{b.year}年{b.month}月{b.day}日{b.hour}时{b.minute:02d}分")
    return text


def _zh_line(line: TranscriptLine, prefixes: dict[str, str]) -> str:
    prefix = prefixes.get(line.participant_id, line.name)
    if line.status == "failed":
        return f"{prefix}：［声音不清，未能识别］"
    if line.status == "gap":
        return f"{prefix}：［音频缺失：{line.detail or '未转写'}］"
    return f"{prefix}：{line.text}"


def to_pdf(
    transcript: Transcript, header: TranscriptHeader, options: PdfOptions | None = None
) -> bytes:
    """The transcript as a PDF document (bytes). Blocking: run it off the event loop.
    A Chinese hearing's is a 庭审笔录 (see the module's docstring)."""
    if (header.language or "").lower().startswith("zh"):
        return _to_pdf_zh(transcript, header, options or PdfOptions())
    return _to_pdf_bilingual(transcript, header, options)


def _to_pdf_zh(transcript: Transcript, header: TranscriptHeader, opts: PdfOptions) -> bytes:
    from reportlab.lib import colors  # type: ignore[import-untyped,unused-ignore]
    from reportlab.lib.enums import TA_CENTER  # type: ignore[import-untyped,unused-ignore]
    from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped,unused-ignore]
    from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped,unused-ignore]
    from reportlab.lib.units import mm  # type: ignore[import-untyped,unused-ignore]
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle  # type: ignore[import-untyped,unused-ignore]

    font = _register_font(opts.font_path)
    base = ParagraphStyle("zh", fontName=font, fontSize=11, leading=17, wordWrap="CJK")
    small = ParagraphStyle("zh_small", parent=base, fontSize=7.5, leading=10,
                           textColor=colors.HexColor("#666666"))
    court = ParagraphStyle("zh_court", parent=base, fontSize=15, leading=22,
                           alignment=TA_CENTER)
    title = ParagraphStyle("zh_title", parent=base, fontSize=20, leading=28,
                           alignment=TA_CENTER, spaceAfter=8)

    def para(text: str, style: Any = base) -> Any:
        return Paragraph(escape(text), style)

    final = transcript.finalised is not None
    status = "已定稿" if final else "草稿（未定稿）"
    story: list[Any] = [para(header.court, court), para("庭审笔录", title)]
    facts = [
        ("时间", _zh_time(header.actual_start or header.scheduled_start, header.actual_end,
                         opts.tz)),
        ("地点", f"{header.court}（在线庭审）"),
        ("案号", header.case_number),
        ("案由", header.title),
        *_people_lines(header.people),
        ("笔录状态", status),
    ]
    for label, value in facts:
        story.append(para(f"{label}：{value}"))
    story.append(Spacer(1, 4 * mm))

    prefixes = speaker_prefixes(header.people)
    marked = ParagraphStyle("zh_marked", parent=base, textColor=colors.HexColor("#7a4a00"))
    timed: list[tuple[datetime, int, list[Any]]] = []
    for line in transcript.lines:
        cell: list[Any] = [para(_zh_line(line, prefixes))]
        if line.corrected:
            last = line.corrections[-1]
            note = f"（书记员更正；原识别为：{line.original_text}"
            note += f"；理由：{last.reason}）" if last.reason else "）"
            cell.append(para(note, small))
        local = line.start_at.astimezone(opts.tz).strftime("%H:%M:%S")
        timed.append((line.start_at, 1, [para(local, small), cell]))
    # What was done (an exhibit presented) in its place among the speech.
    for event in header.events:
        local = event.at.astimezone(opts.tz).strftime("%H:%M:%S")
        timed.append((event.at, 0, [para(local, small), [para(f"【{event.text}】", marked)]]))
    rows = [row for _, _, row in sorted(timed, key=lambda t: (t[0], t[1]))]
    if rows:
        body = Table(rows, colWidths=[16 * mm, 158 * mm])
        body.setStyle(TableStyle([
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (0, -1), 3),
        ]))
        story.append(body)
    else:
        story.append(para("（无发言记录）"))
    if header.exhibits:
        story += [Spacer(1, 6 * mm), para("证据目录及质证意见", court)]
        head = ["编号", "证据名称", "证明目的", "SHA-256", "质证意见"]
        table: list[list[Any]] = [[para(h, small) for h in head]]
        for ex in header.exhibits:
            table.append([
                para(ex.label, small), para(ex.title, small), para(ex.purpose or "—", small),
                para(f"{ex.sha256[:32]} {ex.sha256[32:]}", small),
                [para(o, small) for o in ex.opinions] or [para("—", small)],
            ])
        listing = Table(table, colWidths=[22 * mm, 30 * mm, 36 * mm, 38 * mm, 48 * mm],
                        repeatRows=1)
        listing.setStyle(TableStyle([
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ]))
        story.append(listing)
    signatures = Table([[para("审判人员（签名）："), para("书记员（签名）：")]],
                       colWidths=[87 * mm, 87 * mm])
    story += [Spacer(1, 10 * mm), para("（以上笔录经核对无误）"), Spacer(1, 6 * mm),
              signatures, Spacer(1, 6 * mm), para("当事人及其他诉讼参与人（签名）：")]

    chain = f"{transcript.entry_count} 条记录，链首 {transcript.head_hash[:16]}…"
    integrity = "完整" if transcript.intact else f"发现 {len(transcript.problems)} 处问题"

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 7.5)
        canvas.drawString(18 * mm, 10 * mm,
                          f"{header.case_number} · 笔录哈希链 {chain}（{integrity}）· {status}")
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"第 {doc.page} 页")
        canvas.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
        bottomMargin=18 * mm, title=f"{header.case_number} 庭审笔录", author=header.court,
        subject=header.title,
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


def _to_pdf_bilingual(
    transcript: Transcript, header: TranscriptHeader, options: PdfOptions | None = None
) -> bytes:
    from reportlab.lib import colors  # type: ignore[import-untyped,unused-ignore]
    from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped,unused-ignore]
    from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped,unused-ignore]
    from reportlab.lib.units import mm  # type: ignore[import-untyped,unused-ignore]
    from reportlab.platypus import (  # type: ignore[import-untyped,unused-ignore]
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
