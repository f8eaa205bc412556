"""The application for judicial confirmation (司法确认申请书) of a sealed mediation agreement.

Under the Civil Procedure Law (articles 205 and 206 in the 2023 text), the parties to a
mediation agreement reached before a people's mediation organisation may jointly apply to the
basic people's court within 30 days for its confirmation. This renders the application, filled
in from the agreement: the applicants, the request, the facts (who mediated, when, which
document, by its SHA-256), and the court it is addressed to. The applicants sign it on paper or
in the court's own system; it is not a signed document here.
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer  # type: ignore[import-untyped]

from .document import Language, Party
from .render import MARGIN_BOTTOM, MARGIN_TOP, MARGIN_X, _styles, ensure_font


@dataclass(frozen=True)
class ConfirmationApplication:
    """What the application says."""

    language: Language
    court: str
    case_number: str
    organisation: str
    mediator: str
    dispute: str  # e.g. "买卖合同纠纷"
    agreed_on: datetime.date
    sealed_at: datetime.datetime
    agreement_sha256: str
    applicants: tuple[Party, ...]


_ZH = {
    "title": "司法确认申请书",
    "applicant": "申请人{i}：{name}，身份证件号码：{masked}（{role}）",
    "request_h": "请求事项",
    "request": "请求依法确认申请人于{date}经{organisation}主持达成的调解协议（{case}）有效。",
    "facts_h": "事实与理由",
    "facts": (
        "申请人之间的纠纷（{dispute}），经{organisation}调解员{mediator}主持调解，于{date}达成调解协议。"
        "该协议已由各方当事人电子签名，并于{sealed}经调解组织电子盖章，"
        "协议文件的SHA-256值为{sha}。申请人均系自愿达成上述协议，协议内容不违反法律、"
        "行政法规的强制性规定，不损害国家利益、社会公共利益和他人合法权益。"
        "根据《中华人民共和国民事诉讼法》第二百零五条、第二百零六条的规定，"
        "申请人共同向贵院申请司法确认。"
    ),
    "to": "此致",
    "attach": "附：调解协议书（电子签章版）一份",
    "sign": "申请人（签名）：",
    "date": "日期：　　年　　月　　日",
}
_EN = {
    "title": "Application for Judicial Confirmation",
    "applicant": "Applicant {i}: {name}, ID number {masked} ({role})",
    "request_h": "Request",
    "request": (
        "The applicants ask the court to confirm as valid the mediation agreement ({case}) "
        "they reached on {date} before {organisation}."
    ),
    "facts_h": "Facts and grounds",
    "facts": (
        "The applicants were in dispute ({dispute}). Mediated by {mediator} of {organisation}, "
        "they reached an agreement on {date}. Each party signed it electronically and the "
        "organisation sealed it on {sealed}; the SHA-256 of the agreement document is {sha}. "
        "The applicants reached it of their own free will; it does not breach any mandatory "
        "provision of law or administrative regulation, nor harm the interests of the State, "
        "the public or anyone else. Under articles 205 and 206 of the Civil Procedure Law of "
        "the People's Republic of China the applicants jointly apply for its judicial "
        "confirmation."
    ),
    "to": "To",
    "attach": "Attached: the mediation agreement (electronically signed and sealed)",
    "sign": "Applicants (signatures):",
    "date": "Date:",
}


def render_confirmation(app: ConfirmationApplication) -> bytes:
    """The application as a PDF (A4, CJK font embedded)."""
    ensure_font()
    texts = _ZH if app.language == "zh-CN" else _EN
    st = _styles(app.language)
    zh = app.language == "zh-CN"
    date = (
        f"{app.agreed_on.year}年{app.agreed_on.month}月{app.agreed_on.day}日"
        if zh
        else app.agreed_on.isoformat()
    )
    fields = {
        "case": escape(app.case_number),
        "date": date,
        "organisation": escape(app.organisation),
        "mediator": escape(app.mediator),
        "dispute": escape(app.dispute),
        "sealed": app.sealed_at.strftime("%Y-%m-%d %H:%M"),
        "sha": app.agreement_sha256,
    }
    story = [Paragraph(texts["title"], st["title"]), Spacer(1, 8)]
    for i, p in enumerate(app.applicants, start=1):
        story.append(
            Paragraph(
                texts["applicant"].format(
                    i=i, name=escape(p.name), masked=escape(p.masked_id), role=escape(p.role)
                ),
                st["body"],
            )
        )
    story += [
        Paragraph(texts["request_h"], st["heading"]),
        Paragraph(texts["request"].format(**fields), st["body"]),
        Paragraph(texts["facts_h"], st["heading"]),
        Paragraph(texts["facts"].format(**fields), st["body"]),
        Spacer(1, 14),
        Paragraph(texts["to"], st["body"]),
        Paragraph(escape(app.court), st["body"]),
        Spacer(1, 10),
        Paragraph(texts["attach"], st["body"]),
        Spacer(1, 24),
        Paragraph(texts["sign"], st["body"]),
        Spacer(1, 30),
        Paragraph(texts["date"], st["body"]),
    ]
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM,
        title=texts["title"],
        invariant=1,
    )
    doc.build(story)
    return out.getvalue()
