"""The notice of hearing or mediation (开庭传票 / 调解通知书): one A4 page naming the court, the
case, whom it summons, when (with the time zone named), where (the courtroom, or online), and
the link that joins the hearing. In Chinese or English. Not signed: it is served like any
document (electronic service proves it reached its recipient)."""

from __future__ import annotations

import io
from dataclasses import dataclass

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

from .render import FONT_NAME, ensure_font


@dataclass(frozen=True)
class HearingNotice:
    """What the notice states; ``when`` is text naming its zone(s), formatted by the caller."""

    court: str
    case_number: str
    title: str
    mediation: bool
    recipient: str
    when: str
    courtroom: str | None
    join_link: str | None
    issued_at: str
    lang: str = "zh-CN"  # or "en"
    when_local: str | None = None  # the same time in the recipient's zone, when elsewhere


_WORDS = {
    "zh-CN": {
        "hearing": "开庭传票",
        "mediation": "调解通知书",
        "case": "案号",
        "cause": "案由",
        "to": "被传唤人",
        "when": "时间",
        "when_local": "您所在时区",
        "where": "地点",
        "online": "在线（互联网）",
        "join": "在线参加链接",
        "no_link": "将另行通知",
        "body_hearing": "本院定于上述时间审理本案，请准时参加。",
        "body_mediation": "上述案件定于上述时间进行调解，请准时参加。",
        "issued": "签发时间",
    },
    "en": {
        "hearing": "Summons / Notice of hearing",
        "mediation": "Notice of mediation",
        "case": "Case number",
        "cause": "Case",
        "to": "To",
        "when": "Time",
        "when_local": "In your time zone",
        "where": "Place",
        "online": "Online",
        "join": "Link to join online",
        "no_link": "to be sent separately",
        "body_hearing": "The court will hear this case at the time above; please attend on time.",
        "body_mediation": "This case will be mediated at the time above; please attend on time.",
        "issued": "Issued",
    },
}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_notice(notice: HearingNotice) -> bytes:
    """The notice as a PDF (one A4 page)."""
    ensure_font()
    words = _WORDS["en" if notice.lang == "en" else "zh-CN"]
    kind = "mediation" if notice.mediation else "hearing"
    title = ParagraphStyle("t", fontName=FONT_NAME, fontSize=20, leading=28, alignment=1)
    sub = ParagraphStyle("s", fontName=FONT_NAME, fontSize=12, leading=18, alignment=1)
    cell = ParagraphStyle("c", fontName=FONT_NAME, fontSize=11, leading=16)
    rows = [
        (words["case"], notice.case_number),
        (words["cause"], notice.title),
        (words["to"], notice.recipient),
        (words["when"], notice.when),
        *([(words["when_local"], notice.when_local)] if notice.when_local else []),
        (words["where"], notice.courtroom or words["online"]),
    ]
    cells = [[Paragraph(_escape(k), cell), Paragraph(_escape(v), cell)] for k, v in rows]
    link = notice.join_link
    # The link is clickable; spaces never occur in it, so a long one wraps anywhere.
    cells.append(
        [
            Paragraph(_escape(words["join"]), cell),
            Paragraph(
                f'<a href="{_escape(link)}" color="blue">{_escape(link)}</a>'
                if link
                else _escape(words["no_link"]),
                cell,
            ),
        ]
    )
    table = Table(cells, colWidths=[120, 350])
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
        title=f"{words[kind]} {notice.case_number}",
        leftMargin=60,
        rightMargin=60,
        topMargin=60,
        bottomMargin=60,
    )
    doc.build(
        [
            Paragraph(_escape(notice.court), sub),
            Paragraph(_escape(words[kind]), title),
            Spacer(1, 16),
            table,
            Spacer(1, 16),
            Paragraph(_escape(words[f"body_{kind}"]), cell),
            Spacer(1, 24),
            Paragraph(_escape(f"{notice.court}"), cell),
            Paragraph(_escape(f"{words['issued']}: {notice.issued_at}"), cell),
        ]
    )
    return out.getvalue()
